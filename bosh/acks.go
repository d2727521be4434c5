package bosh

import (
	"strconv"
	"time"
)

// Acknowledgements (XEP-0124 §9): a session created with ack='1' has each
// request acknowledge the highest rid whose answer the client received;
// answers it acknowledges leave the cache, and one it seems to have missed
// is reported ('report' and 'time') so that the client resends.

// noteAck is the acks step of a request processed in rid order (§9.2): it
// trims the cache to the acknowledged rid and returns the rid of an answer
// the client seems to have missed, or 0. Called with s.mu held.
func (s *Session) noteAck(b *Body, now time.Time) (report uint64) {
	if !s.acks {
		return 0
	}
	v, ok := b.Get("ack")
	if !ok {
		return 0
	}
	ack, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0
	}
	if ack < s.lastAnswer {
		if c, cached := s.cache.get(ack + 1); cached && now.Sub(c.sentAt) >= s.h.config().reportGrace {
			report = ack + 1
		}
	}
	s.cache.trim(ack)
	return report
}

// answerWithReport answers r at once with a report of the answer rid
// report. Answers go out in rid order (§8): the requests held before r
// are answered first, the oldest with what is queued; those held behind
// an add-stream dial (§16.3) keep r's answer waiting until it ends.
func (s *Session) answerWithReport(r *request, report uint64) {
	c, _ := s.cache.get(report)
	for len(s.held) > 0 && s.state != StateClosed && !s.held[0].adding {
		h := s.held[0]
		s.held = s.held[1:]
		if h.fixed != nil {
			s.deliver(h, *h.fixed)
			continue
		}
		s.answerWithQueue(h)
	}
	if s.state == StateClosed {
		return
	}
	s.answerInTurn(r, reportAnswer(report, time.Since(c.sentAt)))
}

// reportAnswer is the answer telling the client which answer it seems to
// have missed (§9.2).
func reportAnswer(report uint64, since time.Duration) answer {
	var w responseBuilder
	w.start(0)
	w.attrUint("report", report)
	w.attrInt("time", since.Milliseconds())
	w.empty()
	return answer{body: w.buf}
}

// defaultReportGrace is how long an answer may go unacknowledged before a request
// whose 'ack' is older than it gets a 'report' (XEP-0124 §9.2). Without it,
// a client that writes its next poll before it has read the previous
// answer (its 'ack' one behind, as pipelined clients do) would get every
// poll answered at once with a report: a busy loop in which the stanzas
// waiting for it are never delivered. Config.reportGrace overrides it in
// tests.
const defaultReportGrace = time.Second
