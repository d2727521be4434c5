// Package session is the core that boshd's HTTP front ends share: the
// upstream XMPP stream of one client session, the bounded queue of elements
// waiting for the client, the table of live sessions with its limits, and
// the allowlist of served domains.
//
// A front end (XEP-0124/0206 BOSH in package bosh, XEP-0025 polling in
// package bosh/httppoll) turns HTTP requests into calls on a [Relay] and the
// relay's queued elements into HTTP answers:
//
//   - [Domains.Open] checks the requested domain (and route) against the
//     configuration and opens the upstream stream (xmppconn.Dialer.Open);
//   - [NewRelay] starts the one reader goroutine a session owns; each
//     element the server sends is queued and the front end's wake function
//     is called, so a held request can be answered at once;
//   - [Registry] hands out unguessable session IDs (XEP-0124 §7.2, §19.3)
//     and enforces the limits on total sessions and sessions per client
//     address.
//
// The package knows nothing about HTTP or about either front end's framing.
package relay
