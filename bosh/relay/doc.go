// Package relay is the core that boshd's front ends share: it relays each
// client session to its XMPP server. It holds the upstream XMPP stream of
// one client session with its two bounded queues (elements waiting for the
// client, bytes waiting for the server) and the goroutines that move them,
// the table of live sessions with its limits, and the allowlist of served
// domains. (It was called session, a name that clashed with the front
// ends' own Session types and said less about what it holds.)
//
// A front end (XEP-0124/0206 BOSH in package bosh, XEP-0025 polling in
// package bosh/httppoll) turns HTTP requests into calls on a [Relay] and the
// relay's queued elements into HTTP answers:
//
//   - [Domains.Open] checks the requested domain (and route) against the
//     configuration and opens the upstream stream (xmppconn.Dialer.Open);
//   - [NewRelay] starts the reader goroutine a session owns (on a plain
//     TCP upstream it runs only while the server's bytes are there to
//     read: one poller per process starts it when they arrive; a writer
//     goroutine runs while something waits to be written);
//     each element the server sends is queued and the front end's wake
//     function is called, so a held request can be answered at once;
//     [Relay.Send] and [Relay.Restart] only queue, so a front end never
//     waits on the upstream socket, with or without its locks held;
//   - [Registry] hands out unguessable session IDs (XEP-0124 §7.2, §19.3)
//     and enforces the limits on total sessions and sessions per client
//     address.
//
// The package knows nothing about HTTP or about either front end's framing.
package relay
