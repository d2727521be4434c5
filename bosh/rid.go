package bosh

import (
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
