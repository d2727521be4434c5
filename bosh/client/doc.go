// Package client is a BOSH client (XEP-0124) speaking XMPP over BOSH
// (XEP-0206), written to test boshd and to load it.
//
// # The protocol in one paragraph
//
// BOSH carries a bidirectional XMPP stream over HTTP requests. Every
// request is a POST of one <body/> wrapper numbered with a request id
// (rid) one higher than the previous one; the connection manager (CM)
// holds a request open until it has something to send or 'wait' seconds
// pass, and answers in rid order. The client therefore keeps one request
// waiting at all times and sends stanzas in a second one, which makes the
// CM answer the waiting one: two requests in flight, as Strophe.js does
// (§7.1 of the project's client notes). A request whose answer is lost is
// sent again with the same rid, byte for byte, and the CM replays its
// cached answer (XEP-0124 §14.3). Key sequencing (§15) and response
// acknowledgements (§9.2) are optional extras. The session starts with a
// creation request (§7.1) and ends with type='terminate' (§13) from either
// side.
//
// # Using it
//
// [Connect] creates a session and waits for the stream features;
// [Session.Login] authenticates with SASL, restarts the stream and binds a
// resource; [Session.Run] keeps a request held and delivers incoming
// stanzas to [Session.Receive] (or to Config.OnStanza); [Session.Send]
// sends stanzas; [Session.Close] terminates. [Session.Err] tells why a
// session ended (a [*TerminateError] carries the CM's condition).
//
// A CM that supports XEP-0124 §16 multiple streams names the first stream
// in Params.Stream; [Session.AddStream] opens another (to another account
// or domain) and [Session.LoginStream] logs in on it; [Session.SendStream]
// and [Session.CloseStream] address one stream, and Config.OnStreamStanza
// tells which stream each stanza came from.
//
// Protocol tests use the lower layers: [Session.Request] sends one request
// with chosen attributes and returns the raw answer, [Session.Resend]
// replays a rid byte for byte, [Session.SetNextRID] skips or repeats
// rids, [Post] sends arbitrary bytes, [ParseBody] checks what a CM
// answered and [AppendBody] builds wrappers.
//
// # Cost
//
// The package is meant to run tens of thousands of sessions in one
// process: a session starts no goroutine of its own (requests run on
// Run's goroutine and on Send's caller's), keeps no timer between
// requests, parses answers with a scanner that leaves stanzas as
// subslices of the response (a few allocations per answer, see
// BenchmarkParseBody), and builds requests by appending bytes.
//
// It does not import the server package boshd/bosh, so that each checks
// the other.
package client
