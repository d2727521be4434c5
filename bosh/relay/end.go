package relay

import (
	"cmp"

	"github.com/sirupsen/logrus"
)

// Ending is how a session ended, as a front end tells Registry.End: what
// the Observer and the log hear. What the client is told (a terminate
// body, a stream error, a closed socket) is the front end's, and is done
// before End.
type Ending struct {
	// Condition names why, in the front end's terms, for the log: an
	// XEP-0124 condition (bosh), an RFC 6120 §4.9.3 stream error name
	// (XEP-0025, WebSocket); "" for the client's own end.
	Condition string
	// Reason names why in the terms every front end shares, for
	// Observer.SessionEnded (boshd_session_ends_total's condition label):
	// an XEP-0124 §17.2 condition, "terminate" for the client's own end,
	// "inactivity" for a timeout. "" means Condition.
	Reason string
	// Cause is the error that ended the session. When set it is logged,
	// with Condition; nil for an end that needs no explanation beyond
	// Message (the client's own, an inactive client).
	Cause error
	// Message is the log line; "" means "session ended".
	Message string
	// Warn logs at warning level rather than info: boshd's own fault, or a
	// limit it had to enforce.
	Warn bool
	// Fields are further log fields (a timeout, the session's state).
	Fields logrus.Fields
}

// End is the end-of-session path every front end shares. The front end
// calls it once per session, with the session's lock held, after it has
// marked the session ended and answered what its protocol answers (BOSH:
// the held requests get the terminal condition; XEP-0025: its error). End
// disarms the session's timer (idle; nil if it has none), retires id —
// the session leaves the registry, the Observer hears of e.Condition, and
// stop (closing the upstream stream, which waits briefly for the server;
// nil if there is none) runs in the background where Shutdown waits for it
// — and only then logs through log: whatever happens after, even a panic
// in logging, the session is out of the registry and its upstream closing.
func (g *Registry[V]) End(id string, idle *IdleTimer, stop func(), log logrus.FieldLogger, e Ending) {
	if idle != nil {
		idle.Stop()
	}
	g.RetireWith(id, cmp.Or(e.Reason, e.Condition), stop)
	if len(e.Fields) > 0 {
		log = log.WithFields(e.Fields)
	}
	if e.Cause != nil {
		if e.Condition != "" {
			log = log.WithField("condition", e.Condition)
		}
		log = log.WithError(e.Cause)
	}
	msg := e.Message
	if msg == "" {
		msg = "session ended"
	}
	if e.Warn {
		log.Warn(msg)
	} else {
		log.Info(msg)
	}
}
