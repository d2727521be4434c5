package bosh

import (
	"crypto/sha1"
	"encoding/hex"
	"runtime"
	"time"
)

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// waitOpen blocks until the request with rid is open in the session: held,
// or waiting for its turn. Tests order their requests with it, instead of
// sleeping and hoping the server got there first.
func (h *harness) waitOpen(sid string, rid uint64) {
	h.t.Helper()
	s, ok := h.h.reg.Get(sid)
	if !ok {
		h.t.Fatalf("no session %s", sid)
	}
	open := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pending[rid] != nil {
			return true
		}
		for _, r := range s.held {
			if r.rid == rid {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !open(); runtime.Gosched() {
		if time.Now().After(deadline) {
			h.t.Fatalf("rid %d not open in the session after 5s", rid)
		}
	}
}
