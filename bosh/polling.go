package bosh

import (
	"fmt"
	"time"

	"boshd/bosh/endpoint"
)

// XEP-0124 §12 polling sessions (hold or wait of 0: every request is
// answered at once) and the rules on overactivity (§11) that apply to
// every session: empty requests closer than 'polling' to an empty request
// answered without payloads, while the session's requests are all
// outstanding, end the session with policy-violation. boshd also advises a
// polling session how soon to poll again (boshd:poll-interval,
// X-Poll-Interval). XEP-0025 "HTTP polling" is another protocol
// altogether, in package bosh/httppoll.

// overactivity is what the rules of §11 and §12 look at: the last new
// request processed and its answer.
type overactivity struct {
	lastAt      time.Time // arrival of the last new request processed
	lastEmpty   bool      // it was an empty request
	lastHadData bool      // the answer to it carried payloads
}

// arrived records a new request processed at now.
func (o *overactivity) arrived(now time.Time, empty bool) { o.lastAt, o.lastEmpty = now, empty }

// answered records whether an answer carried payloads.
func (o *overactivity) answered(data bool) { o.lastHadData = data }

// tooSoon reports whether an empty request at now comes closer than min
// after an empty one that was answered without payloads.
func (o *overactivity) tooSoon(now time.Time, empty bool, min time.Duration) bool {
	return empty && o.lastEmpty && !o.lastHadData && now.Sub(o.lastAt) < min
}

// checkPolling is the polling step of a request processed in rid order:
// too frequent empty requests (§11, §12) with the session's requests all
// outstanding (always so when polling) end the session with
// policy-violation. An add-stream request (§16.3) asks for something, as
// a restart does, unless the session is at its limit of streams: refused
// at once, it is an empty request like any other. Called with s.mu held;
// false means the session has ended.
func (s *Session) checkPolling(r *request, now time.Time) bool {
	empty := r.empty() && !(s.isAddStream(r.body) && s.roomForStream())
	if s.activity.tooSoon(now, empty, s.h.config().Polling) && (s.polling || len(s.held) >= s.hold) {
		s.end(PolicyViolation, fmt.Errorf("empty requests %v apart", now.Sub(s.activity.lastAt).Round(time.Millisecond)), r)
		return false
	}
	s.activity.arrived(now, empty)
	return true
}

// advisedInterval is the poll interval advised to a polling session now:
// short while stanzas flow, longer the longer it has been idle, and never
// below the session's 'polling', against which too-frequent polls are
// judged (XEP-0124 §12).
func (s *Session) advisedInterval() time.Duration {
	if !s.polling || s.h.config().PollInterval == nil {
		return 0
	}
	return max(s.h.config().PollInterval(time.Since(s.lastStanza())), s.h.config().Polling)
}

// pollAttrs adds the advised poll interval to an answer of a polling
// session, in boshd's namespace, and returns it in seconds (0: none).
func (s *Session) pollAttrs(w *responseBuilder) int {
	d := s.advisedInterval()
	if d <= 0 {
		return 0
	}
	secs := int(endpoint.Seconds(d))
	w.buf = append(w.buf, " xmlns:boshd='"+NSBoshd+"'"...)
	w.attrInt("boshd:poll-interval", int64(secs))
	return secs
}
