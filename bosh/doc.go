// Package bosh is boshd's XEP-0124 (BOSH) front end carrying XMPP as
// XEP-0206 describes: an http.Handler that turns a series of HTTP POSTs into
// one XMPP client stream to the server.
//
// A client cannot receive data over HTTP unless it has a request open, so it
// keeps up to 'hold' requests waiting at the connection manager (§8). Each
// <body/> it POSTs carries a request ID (rid) one higher than the last
// (§14); its payloads go upstream in rid order, and the request is held
// until the server sends something, its 'wait' runs out, or a newer request
// takes its place. The answer is a <body/> wrapping the server's stanzas
// byte for byte. Answers are cached so that a resent rid gets the same one
// (§14.3); a client that stops sending requests for 'inactivity' has its
// session ended (§10).
//
// [Handler] serves the endpoint: session creation (§7, XEP-0206 §3),
// stream restarts (XEP-0206 §5), key sequencing (§15), acknowledgements
// (§9), pause (§10), polling sessions (§12), termination (§13) and the
// terminal conditions of §17. The HTTP around it (recovery, CORS, info
// page, body limit) is package endpoint's shell; the upstream stream and
// its queues are a relay.Relay; the table of sessions and its limits a
// relay.Registry. A request goes through named steps in protocol order,
// each in the file of its concept: the window (rid.go), the key (key.go),
// overactivity and polling (polling.go), pause (pause.go), acks (acks.go),
// then forward and hold (session.go); Session.process says why in that
// order. The session's states and their transitions are in state.go.
package bosh
