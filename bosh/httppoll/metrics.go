package httppoll

import (
	"errors"

	"boshd/bosh/metrics"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// Every session series is counted by the core's one hook, relay.Observer
// (metrics.Observer of Config.Metrics): a session counts once its upstream
// stream is open (openUpstream: relay.Registry.Opened with its domain) and
// ends with endCondition (end, relay.Ending.Reason); held polls through
// relay.Registry.Held (hold); stanzas each way by relay.Relay (Send with
// the batch's count). Requests are counted by cmd/boshd around the
// handler.

// endCondition is the condition label of boshd_session_ends_total for a
// session ended for reason (see Session.end), in the XEP-0124 §17.2 terms
// the BOSH front end uses, so that one dashboard reads both.
func endCondition(reason error) string {
	var se *xmppconn.StreamError
	switch {
	case errors.Is(reason, errClientEnded):
		return metrics.EndTerminate
	case errors.Is(reason, errExpired):
		return metrics.EndInactivity
	case errors.Is(reason, errShutdown):
		return "system-shutdown"
	case errors.Is(reason, relay.ErrQueueFull):
		return "policy-violation"
	case errors.As(reason, &se):
		return "remote-stream-error"
	case errors.Is(reason, errStartTLS):
		return "bad-request"
	}
	return "remote-connection-failed"
}
