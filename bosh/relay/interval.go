package relay

import "time"

// IdleDivisor sets how fast the advised poll interval grows: a session idle
// for d is advised to poll every d/IdleDivisor. A client that follows the
// advice therefore polls about IdleDivisor times while the idle time
// doubles, whatever its length: the request rate falls as the idle time
// grows, and the first stanza in either direction resets it.
const IdleDivisor = 4

// PollInterval is the adaptive poll interval policy for polling sessions
// (XEP-0025, and XEP-0124 §12 sessions with hold or wait 0): min while
// stanzas flow, growing with the time since the last stanza in either
// direction, never above max. XEP-0124 §12 sessions are advised it (nothing is
// held there); XEP-0025 holds an empty poll for it and advises only a short
// gap (bosh/httppoll, docs/polling.md).
func PollInterval(idle, min, max time.Duration) time.Duration {
	d := idle / IdleDivisor
	if d < min {
		d = min
	}
	if d > max {
		d = max
	}
	return d
}
