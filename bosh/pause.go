package bosh

import (
	"fmt"
	"strconv"
	"time"
)

// Pause (XEP-0124 §10): a client that will be away for a while (a page
// being reloaded) asks with pause='seconds' for the inactivity limit to be
// that long, up to 'maxpause'; every open request is answered at once, and
// the next request ends the pause.

// resume is the pause step of a request processed in rid order: any
// request ends a pause (StatePaused → StateOpen). Called with s.mu held.
func (s *Session) resume() {
	if s.state == StatePaused {
		s.state = StateOpen
		s.pause = 0
	}
}

// pauseFor handles a pause request whose pause attribute is v: forward
// its payloads, answer every held request and the pause request itself at
// once, without payloads (data stays queued), and go to StatePaused.
// Called with s.mu held.
func (s *Session) pauseFor(r *request, v string) {
	secs, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		s.end(BadRequest, fmt.Errorf("pause %q", v), r)
		return
	}
	p := min(time.Duration(secs)*time.Second, s.maxPause)
	if err := s.forward(r.body); err != nil {
		s.end(forwardCondition(err), err, r)
		return
	}
	kept := s.held[:0]
	for _, h := range s.held {
		switch {
		case h.adding:
			kept = append(kept, h) // answered when its dial ends (§16.3)
		case h.fixed != nil:
			s.deliver(h, *h.fixed)
		default:
			s.answerEmpty(h)
		}
	}
	s.held = kept
	s.answerEmpty(r)
	s.state, s.pause = StatePaused, p
}
