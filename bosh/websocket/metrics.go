package websocket

import (
	"boshd/bosh/metrics"
)

// Every session series is counted by the core's one hook, relay.Observer
// (metrics.Observer of Config.Metrics): a session counts once its upstream
// stream is open and it is registered (Session.start: relay.Registry.Opened
// with its domain) and ends with endCondition (serve, relay.Ending);
// stanzas each way by relay.Relay. The HTTP upgrade request is counted
// once by cmd/boshd around the handler (its 101).

// endCondition is the condition label of boshd_session_ends_total for a
// session that ended with e, in the terms the other front ends use, so
// that one dashboard reads all three: the stream error sent (RFC 6120
// §4.9.3), system-shutdown for a shutdown that sent the client elsewhere,
// terminate when the client closed the stream (RFC 7395 §3.6),
// inactivity when the client went away or stopped answering pings, and
// remote-stream-error when the server ended the stream.
func endCondition(e *ending) string {
	switch {
	case e == nil:
		return "internal-server-error"
	case e.cond != nil:
		return e.cond.Name
	case e.seeOther != "":
		return "system-shutdown"
	case e.silent:
		return metrics.EndInactivity
	case e.sentClose:
		return "remote-stream-error"
	}
	return metrics.EndTerminate
}
