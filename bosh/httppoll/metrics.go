package httppoll

import (
	"errors"

	"boshd/bosh/metrics"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// The calls into package metrics are one line each where the thing
// counted happens, all through Config.Metrics (nil: nothing counted):
// SessionStarted once the upstream stream is open (openUpstream),
// SessionEnded in end for such a session, HeldInc/HeldDec in hold, Stanza
// where a client stanza joins the batch for the server. Requests are
// counted by cmd/boshd around the handler, stanzas to the client by
// relay.Relay.

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
