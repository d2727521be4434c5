package bosh

import (
	"errors"

	"boshd/bosh/metrics"
)

// The calls into package metrics are one line each where the thing
// counted happens, all through Config.Metrics (nil: nothing counted):
// SessionStarted in create, SessionEnded in close, HeldInc/HeldDec in
// await, Stanzas where payloads go upstream. Requests are counted by
// cmd/boshd around the handler, stanzas to the client by relay.Relay through metrics.Observer.

// endCondition is the condition label of boshd_session_ends_total for a
// session closed with err (see Session.close): the XEP-0124 §17.2
// condition, or metrics.EndTerminate for the client's own end and
// metrics.EndInactivity for a timeout.
func endCondition(err error) string {
	switch {
	case err == nil:
		return metrics.EndTerminate
	case errors.Is(err, errInactive):
		return metrics.EndInactivity
	}
	return string(ConditionOf(err))
}

// payloadsLen is the bytes of a request's payloads.
func payloadsLen(p [][]byte) int {
	n := 0
	for _, x := range p {
		n += len(x)
	}
	return n
}
