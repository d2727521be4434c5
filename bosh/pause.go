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
// Answers stay in rid order (§8): those behind an add-stream dial
// (§16.3) are fixed now and given when it ends. Called with s.mu held.
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
	for len(s.held) > 0 && !s.held[0].adding {
		h := s.held[0]
		s.held = s.held[1:]
		if h.fixed != nil {
			s.deliver(h, *h.fixed)
		} else {
			s.answerEmpty(h)
		}
	}
	for _, h := range s.held {
		if !h.adding && h.fixed == nil {
			a := s.build(h, "", "", "", nil)
			h.fixed = &a
		}
	}
	s.activity.answered(false)
	s.answerInTurn(r, s.build(r, "", "", "", nil))
	s.state, s.pause = StatePaused, p
}
