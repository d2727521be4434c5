package bosh

import (
	"errors"

	"boshd/bosh/metrics"
)

// Every session series is counted by the core's one hook, relay.Observer
// (metrics.Observer of Config.Metrics): a session counts once
// relay.Registry.Opened names its domain (create) and ends with
// endCondition (close, relay.Ending.Reason); held requests through
// relay.Registry.Held (await, park); stanzas each way by relay.Relay
// (Send with the payloads' count). Requests are counted by cmd/boshd
// around the handler.

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
