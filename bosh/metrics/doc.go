// Package metrics counts what an operator of boshd watches: sessions by
// transport and why they end, HTTP requests by status code, held requests,
// upstream connect times and the stanzas relayed each way. It exports them
// in the Prometheus text format (github.com/prometheus/client_golang) under
// the names issue 15 fixed as a contract for dashboards:
//
//	boshd_sessions{transport}                     gauge
//	boshd_session_ends_total{transport,condition} counter
//	boshd_http_requests_total{transport,code}     counter
//	boshd_held_requests                           gauge
//	boshd_upstream_connect_seconds                histogram
//	boshd_stanzas_total{direction}                counter
//	boshd_stanza_bytes_total{direction}           counter
//
// transport is "bosh" (XEP-0124/0206), "poll" (XEP-0025) or "websocket"
// (RFC 7395); direction is "to_server" (client to XMPP server) or
// "to_client" (XMPP server to client); condition is the XEP-0124 §17.2
// terminal condition a session ended with, "terminate" when the client
// ended it, "inactivity" when it timed out, "system-shutdown" when boshd
// stopped.
//
// The session core's one hook, relay.Observer, moves the session series
// (Observer: SessionStarted, SessionEnded, HeldInc, HeldDec, Stanzas from
// its events, for every front end alike); relay.Domains calls
// UpstreamConnect and cmd/boshd Request. A nil
// *Metrics does nothing, so tests and library users need nothing. The hot
// path (Request, Stanza, HeldInc/Dec) is an array index and an atomic add:
// label lookups are done once, not per call.
//
// Besides the Prometheus series, Metrics keeps the two facts the /status
// page shows that a label set would make too fine for Prometheus: sessions
// per transport and domain, and each domain's last upstream connect result.
package metrics
