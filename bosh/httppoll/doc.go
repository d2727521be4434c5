// Package httppoll is boshd's XEP-0025 (Jabber HTTP Polling) front end: the
// fallback for clients that cannot hold an HTTP request open.
//
// # The protocol
//
// An XEP-0025 session is a TCP-like XMPP byte stream cut into HTTP POSTs.
// Each request body is
//
//	identifier ; key [ ; new_key ] , [xml]
//
// (not form-encoded, whatever the Content-Type says), and each answer is
// HTTP 200, Content-Type text/xml, with the session identifier in an ID
// cookie and the stream bytes waiting for the client as its body (§3). The
// first request has identifier 0 and usually carries the client's own
// <stream:stream to='domain'> header; errors are identifiers ending in
// ":0" (see IDUnknown and its siblings). The xml part is raw stream bytes:
// an element may be split across polls, and the client restarts its stream
// after SASL by sending a new header, as it would over TCP. Keys, when the
// first request has one, are a hash chain, K(n) = Base64(SHA-1(K(n-1)))
// (§3, §4): each request reveals the predecessor of the last key, which
// only the client that chose the seed can know; new_key starts a new
// chain.
//
// # What boshd does with it
//
// The Handler keeps one Session per identifier in a relay.Registry (so
// the limits on sessions cover the BOSH front end too). A session feeds the
// client's bytes to an xmppconn.Splitter. The client's first stream header
// names the domain: boshd checks it against the shared allowlist
// (relay.Domains) and opens the upstream stream with the shared dialer,
// which secures it with STARTTLS as the configuration says. The client
// gets the server's header and features without <starttls/>, and a client
// that asks for STARTTLS (or compression, which would hide the stream from
// boshd) is refused. Later headers restart the upstream stream; stanzas are
// forwarded byte-exact; the client's </stream:stream> ends the session,
// and so does a session timeout (XEP-0025 §3, at least five minutes
// recommended): in both cases the upstream stream is closed politely, so
// the server bounces or stores what was on its way. What the server sends
// waits in the relay.Relay's bounded queue until the next poll; a client
// that leaves more than MaxQueueBytes waiting loses its session.
//
// # Adaptive poll intervals
//
// XEP-0025 has no way to tell a client how often to poll, and leaves open
// when the server answers. boshd uses both freedoms, designed together. An
// empty poll of a quiet session is held until the session's interval has
// passed since the previous answer (the shared policy, relay.PollInterval,
// derives it from the time since the last stanza in either direction;
// never longer than HoldCap, well under client and proxy timeouts), and
// answered the moment the server sends anything. Because the hold paces an
// idle session, every answer advises (X-Poll-Interval) only a short gap,
// HeldPollGap, before the next poll; with holding off it advises the
// interval itself. So a client that polls right after each answer, and
// one that sleeps the advice, both make about one request per interval and
// both receive a message within a round trip (plus HeldPollGap at most for
// the second). Polls that carry data are always answered at once.
//
// # Overactivity
//
// XEP-0025 defines no overactivity rule; boshd counts wasted polls (an
// empty answer to an empty poll, not held, sooner than half of the minimum
// interval after the previous answer, or an early release of a held poll)
// and ends the session after MaxOveractive in a row (Session.police).
//
// # Which function to call
//
// New returns the Handler for a Config; mount it at Config.Path. Shutdown
// answers held polls, closes every upstream stream and waits for that.
// ParseRequest and AppendRequest read and write request bodies, NextKey and
// KeyChain compute keys (for clients and tests).
package httppoll
