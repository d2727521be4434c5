package bosh

import (
	"net"
	"net/http"
	"time"

	"boshd/bosh/endpoint"
	"boshd/bosh/internal/held"
	"boshd/bosh/relay"
)

// A held request (XEP-0124 §8) over HTTP/1.1 does not keep net/http's
// goroutine and buffers while it waits: its connection is taken over
// (package held) and parked with no goroutine. The answer is written by
// whoever produces it — the upstream reader's wake, the wait timer, the
// session ending, shutdown — through request.give. HTTP/2 requests, and
// every request while the listener of HeldConns is not served, wait in
// await the net/http way.

// parked is the part of a request held on a taken-over connection.
// Guarded by the session's mu.
type parked struct {
	conn *held.Conn
	// content points at the session's Content-Type (§7.1), fixed at
	// creation; a pointer rather than a copy for the same size class.
	content *string
	// coding is how the answer is compressed (compress.go); nil while
	// compression is off, so that an idle session does not carry the
	// request's Accept-Encoding (parked stays in the 48-byte size class).
	coding *endpoint.Compression
	timer  *time.Timer // the 'wait' timer, running expire
	left   bool        // the client hung up (set by leftParked)
	// done is called once when the parked request is answered: the held
	// requests gauge (relay.Registry.HeldEnded), as await's defer does.
	done func()
}

// HeldConns returns the listener through which keep-alive connections come
// back after a held request was answered on them. Serve it with the same
// http.Server as the Handler (go srv.Serve(h.HeldConns())); until it is
// served, held requests keep net/http's goroutine and buffers.
func (h *Handler) HeldConns() net.Listener { return h.held.Listener() }

// park holds req on its taken-over connection and reports true, or reports
// false when the request must wait in await (HTTP/2, listener not served,
// shutting down). Whatever answer req already got is written at once.
func (h *Handler) park(w http.ResponseWriter, r *http.Request, coding endpoint.Compression, s *Session, req *request) bool {
	p := &parked{content: &s.content}
	if coding.On {
		p.coding = &coding
	}
	c, err := h.held.Take(w, r, func() { s.leftParked(req, p) })
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.conn = c
	switch {
	case req.answered:
		// Answered between handle and here: the answer is in the channel.
		p.write(<-req.answer)
	case p.left:
		// The client left between Take and here, and abandon dropped the
		// request (it was waiting for its turn): nothing will answer it.
		p.write(answer{})
	default:
		req.park = p
		s.h.reg.Held(+1)
		p.done = s.h.reg.HeldEnded
		step := s.holdStep()
		p.timer = time.AfterFunc(step, func() { s.expireParked(req, p, step) })
	}
	return true
}

// leftParked is called when the client of a parked request hung up:
// await's ctx.Done case. A request still waiting for its turn is dropped
// unanswered, so its connection is closed. It runs on the watcher's
// goroutine, which no request owns (hence relay.Recover).
func (s *Session) leftParked(r *request, p *parked) {
	defer relay.Recover(s.h.config().Log, "parked request's hang-up", s.endAfterPanic)
	s.abandon(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	p.left = true
	if r.park == p {
		r.give(answer{})
	}
}

// expireParked is the 'wait' timer of a parked request: await's timer
// case. It runs on the timer's goroutine (hence relay.Recover).
func (s *Session) expireParked(r *request, p *parked, step time.Duration) {
	defer relay.Recover(s.h.config().Log, "parked request's wait timer", s.endAfterPanic)
	s.mu.Lock()
	parked := r.park == p
	s.mu.Unlock()
	if !parked {
		return
	}
	s.expire(r)
	s.mu.Lock()
	if r.park == p {
		p.timer.Reset(step)
	}
	s.mu.Unlock()
}

// give hands r its one answer: written on its parked connection (in the
// background: give is called with the session's mu held), or put in its
// channel for await.
func (r *request) give(a answer) {
	p := r.park
	if p == nil {
		r.answer <- a
		return
	}
	r.park = nil
	if p.timer != nil {
		p.timer.Stop()
	}
	p.done()
	p.write(a)
}

func (p *parked) write(a answer) {
	if a.body == nil {
		p.conn.Answer(0, nil)
		return
	}
	// Compressing here, under the session's mu, is CPU only (tens of µs
	// for a large answer, docs/benchmarks.md); the write is Answer's.
	var coding endpoint.Compression // off
	if p.coding != nil {
		coding = *p.coding
	}
	body := answerHeader(p.conn.Header(), coding, *p.content, a)
	p.conn.Answer(a.httpStatus(), body)
}
