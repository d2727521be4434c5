package bosh

import (
	"fmt"
	"slices"
	"time"
)

// A BOSH client numbers its requests with consecutive rids (XEP-0124 §14).
// Requests may arrive out of order over parallel connections; the binding
// buffers those ahead of their turn and processes and answers them in rid
// order (§14.2), accepts only rids within the window of 'requests' values
// above the last one processed, and keeps the latest answers so that a
// request resent with the same rid gets the identical answer (§14.3).

// maxRID is the largest rid a client may use (XEP-0124 §14.1: 2^53-1).
const maxRID = 1<<53 - 1

// cachedAnswer is an answer kept for retransmissions.
type cachedAnswer struct {
	rid    uint64
	keys   keyAttrs // of the request answered, for checking copies (§15)
	answer answer
	sentAt time.Time
}

// answerCache keeps the most recent answers, oldest first, at most limit.
type answerCache struct {
	entries []cachedAnswer
	limit   int
}

func (c *answerCache) add(rid uint64, k keyAttrs, a answer, now time.Time) {
	if len(c.entries) >= c.limit {
		copy(c.entries, c.entries[1:])
		c.entries = c.entries[:len(c.entries)-1]
	}
	c.entries = append(c.entries, cachedAnswer{rid: rid, keys: k, answer: a, sentAt: now})
}

func (c *answerCache) get(rid uint64) (cachedAnswer, bool) {
	for _, e := range c.entries {
		if e.rid == rid {
			return e, true
		}
	}
	return cachedAnswer{}, false
}

// trim drops the answers the client acknowledged having received (XEP-0124
// §9.2), keeping at least the latest one.
func (c *answerCache) trim(ack uint64) {
	i := 0
	for i < len(c.entries)-1 && c.entries[i].rid <= ack {
		i++
	}
	c.entries = c.entries[i:]
}

// settled is a request the window step has dealt with: request is the one
// to wait for (it has been or will be answered), or answer is known now.
type settled struct {
	request *request
	answer  *answer
}

// window is the first step of every request of a session (§14): a copy of
// a request already answered gets the cached answer; a copy of one still
// open takes its place, the older copy answered with a recoverable error
// (§14.3, §17.3); a rid no longer cached, or beyond the window, ends the
// session with item-not-found. Every copy must carry the original's keys
// (copyAllowed). settled is false for a new rid within the window, which
// the caller then processes in order. Called with s.mu held.
func (s *Session) window(r *request) (settled, bool) {
	rid := r.rid
	switch {
	case rid <= s.lastRID:
		if c, ok := s.cache.get(rid); ok {
			if !s.copyAllowed(r, c.keys) {
				return settled{request: r}, true
			}
			a := c.answer
			return settled{answer: &a}, true
		}
		i := slices.IndexFunc(s.held, func(h *request) bool { return h.rid == rid })
		if i < 0 {
			s.end(ItemNotFound, fmt.Errorf("rid %d is no longer cached", rid), r)
			return settled{request: r}, true
		}
		old := s.held[i]
		s.replaceCopy(r, old, func() {
			// What processing settled for the rid goes with it: a dial
			// still running (§16.3) and an answer already fixed.
			r.adding, r.fixed = old.adding, old.fixed
			s.held[i] = r
		})
		return settled{request: r}, true
	case s.pending[rid] != nil:
		s.replaceCopy(r, s.pending[rid], func() { s.pending[rid] = r })
		return settled{request: r}, true
	case rid > s.lastRID+uint64(s.windowSize(r.body)):
		s.end(ItemNotFound, fmt.Errorf("rid %d beyond the window after %d", rid, s.lastRID), r)
		return settled{request: r}, true
	}
	return settled{}, false
}

// replaceCopy lets r, a copy of the open request old, take its place
// (put), and answers old with the recoverable error of §14.3.
func (s *Session) replaceCopy(r, old *request, put func()) {
	if !s.copyAllowed(r, keysOf(old.body)) {
		return
	}
	put()
	s.answerRecoverable(old)
}

// windowSize is how far above the last processed rid a request may be:
// the 'requests' value, and one more for a pause or terminate request
// (§11).
func (s *Session) windowSize(b *Body) int {
	w := s.requests
	if t, _ := b.Get("type"); t == "terminate" {
		w++
	} else if _, ok := b.Get("pause"); ok {
		w++
	}
	return w
}
