package bosh

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/session"
	"boshd/xmppconn"
)

// answer is what one HTTP request gets: a status and a <body/>.
type answer struct {
	status int // 0 means 200
	body   []byte
	// pollSeconds, when not 0, is the poll interval advised to a polling
	// session, sent as the X-Poll-Interval header too.
	pollSeconds int
}

// request is one client request inside a session, from its arrival to its
// answer. Its answer channel has room for exactly the one answer it gets,
// so answering never blocks, even when the client has gone.
type request struct {
	rid      uint64
	body     *Body
	answer   chan answer
	answered bool
	park     *parked // set while held on a taken-over connection (hold.go)
}

func newRequest(rid uint64, b *Body) *request {
	return &request{rid: rid, body: b, answer: make(chan answer, 1)}
}

// empty reports whether the request carries no payload and is not one of
// the special requests (restart, pause, terminate) XEP-0124 §11 exempts.
func (r *request) empty() bool {
	if len(r.body.Payloads) > 0 {
		return false
	}
	if t, _ := r.body.Get("type"); t == "terminate" {
		return false
	}
	if _, ok := r.body.Get("pause"); ok {
		return false
	}
	if v, _ := r.body.GetNS(NSXBOSH, "restart"); isTrue(v) {
		return false
	}
	return true
}

// Session is one BOSH session: the rid window, the held requests, the
// cached answers and the timers of XEP-0124, over a session.Relay to the
// server.
type Session struct {
	h     *Handler
	id    string
	relay *session.Relay
	// remote and domain identify the session in its log lines (logger).
	remote, domain string

	// Negotiated at creation (XEP-0124 §7.2), then fixed.
	wait       time.Duration
	hold       int
	requests   int
	polling    bool // hold or wait was 0 (XEP-0124 §12)
	inactivity time.Duration
	maxPause   time.Duration
	content    string
	legacy     bool // no 'ver': HTTP error codes (XEP-0124 §17.1)
	acks       bool // the client asked for acknowledgements (§9)

	mu          sync.Mutex
	state       State
	lastRID     uint64              // highest rid processed in order
	pending     map[uint64]*request // arrived ahead of their turn
	held        []*request          // processed, waiting for data, in rid order
	cache       answerCache
	lastAnswer  uint64 // highest rid answered
	key         string // the key the next request must hash to (§15)
	pause       time.Duration
	lastAt      time.Time // arrival of the last new request processed
	lastEmpty   bool      // it was an empty poll
	lastHadData bool      // the answer to it carried payloads
	// The inactivity timer (§10): one per session, reset on each arming.
	// idleAt is the deadline it was last armed for, zero while disarmed; a
	// firing that finds it zero or still ahead was stopped or reset too late.
	idle   *time.Timer
	idleAt time.Time
}

// handle runs one request of an existing session and returns its answer
// channel, or the answer itself when it is known at once.
func (s *Session) handle(b *Body, rid uint64) (*request, *answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed {
		a := s.terminalAnswer(ItemNotFound, nil)
		return nil, &a
	}
	r := newRequest(rid, b)
	switch {
	case rid <= s.lastRID:
		// A retransmission (§14.3).
		if c, ok := s.cache.get(rid); ok {
			if !s.sameKeys(c.keys, b) {
				s.end(ItemNotFound, fmt.Errorf("repeated rid %d without the original's key", rid), r)
				return r, nil
			}
			a := c.answer
			return nil, &a
		}
		for i, old := range s.held {
			if old.rid == rid {
				if !s.sameKeys(keysOf(old.body), b) {
					s.end(ItemNotFound, fmt.Errorf("repeated rid %d without the original's key", rid), r)
					return r, nil
				}
				s.held[i] = r
				s.answerRecoverable(old)
				return r, nil
			}
		}
		s.end(ItemNotFound, fmt.Errorf("rid %d is no longer cached", rid), r)
		return r, nil
	case s.pending[rid] != nil:
		old := s.pending[rid]
		if !s.sameKeys(keysOf(old.body), b) {
			s.end(ItemNotFound, fmt.Errorf("repeated rid %d without the original's key", rid), r)
			return r, nil
		}
		s.pending[rid] = r
		s.answerRecoverable(old)
		return r, nil
	case rid > s.lastRID+uint64(s.window(b)):
		s.end(ItemNotFound, fmt.Errorf("rid %d beyond the window after %d", rid, s.lastRID), r)
		return r, nil
	}
	s.stopIdle()
	if s.pending == nil {
		s.pending = make(map[uint64]*request, 2)
	}
	s.pending[rid] = r
	for s.state != StateClosed {
		next := s.pending[s.lastRID+1]
		if next == nil {
			break
		}
		delete(s.pending, next.rid)
		s.lastRID = next.rid
		s.process(next)
	}
	s.armIdle()
	return r, nil
}

// window is how far above the last processed rid a request may be: the
// 'requests' value, and one more for a pause or terminate request (§11).
func (s *Session) window(b *Body) int {
	w := s.requests
	if t, _ := b.Get("type"); t == "terminate" {
		w++
	} else if _, ok := b.Get("pause"); ok {
		w++
	}
	return w
}

// process handles one request in rid order. Called with s.mu held.
func (s *Session) process(r *request) {
	b := r.body
	now := time.Now()

	// Key sequencing (§15.4): a request that fails it is not processed.
	if s.key != "" {
		k, ok := b.Get("key")
		if !ok || !keyMatches(k, s.key) {
			s.end(ItemNotFound, errors.New("key sequence broken"), r)
			return
		}
		s.key = k
	}
	if nk, ok := b.Get("newkey"); ok {
		s.key = nk
	}

	typ, _ := b.Get("type")
	empty := r.empty()
	// Too frequent polling (§11, §12): two empty requests closer than
	// 'polling', the first of which was answered without payloads, with
	// the session's requests all outstanding (always so when polling).
	if empty && s.lastEmpty && !s.lastHadData && now.Sub(s.lastAt) < s.h.cfg.Polling &&
		(s.polling || len(s.held) >= s.hold) {
		s.end(PolicyViolation, fmt.Errorf("empty requests %v apart", now.Sub(s.lastAt).Round(time.Millisecond)), r)
		return
	}
	s.lastAt, s.lastEmpty = now, empty
	if s.state == StatePaused {
		s.state = StateOpen
		s.pause = 0
	}

	// Client acknowledgements (§9.2).
	report := uint64(0)
	if s.acks {
		if v, ok := b.Get("ack"); ok {
			if ack, err := strconv.ParseUint(v, 10, 64); err == nil {
				if ack < s.lastAnswer {
					if c, cached := s.cache.get(ack + 1); cached && now.Sub(c.sentAt) >= reportGrace {
						report = ack + 1
					}
				}
				s.cache.trim(ack)
			}
		}
	}

	// Upstream already gone: answer with what it left and the reason.
	if err := s.relay.Err(); err != nil {
		s.held = append(s.held, r)
		s.flush()
		return
	}

	switch {
	case typ == "terminate":
		// §13: forward the payloads (e.g. unavailable presence) before
		// the stream closes; acknowledge on the oldest open request.
		if len(b.Payloads) > 0 {
			if err := s.relay.Send(joinPayloads(b.Payloads)); err != nil {
				s.logger().WithError(err).Debug("terminate payload not forwarded")
			}
		}
		s.logger().Debug("client terminated the session")
		s.held = append(s.held, r)
		s.endTerminate()
		return
	}

	if v, ok := b.Get("pause"); ok && s.maxPause > 0 {
		secs, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			s.end(BadRequest, fmt.Errorf("pause %q", v), r)
			return
		}
		p := time.Duration(secs) * time.Second
		if p > s.maxPause {
			p = s.maxPause
		}
		if err := s.forward(b); err != nil {
			s.end(RemoteConnectionFailed, err, r)
			return
		}
		// §10: answer every held request and the pause request at once,
		// the latter without payloads; data stays queued.
		for _, h := range s.held {
			s.answerEmpty(h)
		}
		s.held = s.held[:0]
		s.answerEmpty(r)
		s.state, s.pause = StatePaused, p
		return
	}

	if v, _ := b.GetNS(NSXBOSH, "restart"); isTrue(v) {
		// XEP-0206 §5: a new stream over the same connection; payloads
		// of a restart request are ignored. The new features arrive
		// through the relay and answer this request.
		if err := s.relay.Restart(); err != nil {
			s.end(RemoteConnectionFailed, err, r)
			return
		}
		s.state = StateRestarting
	} else if err := s.forward(b); err != nil {
		s.end(RemoteConnectionFailed, err, r)
		return
	}

	if report != 0 {
		c, _ := s.cache.get(report)
		// Answers go out in rid order (§8): the requests held before
		// this one are answered first, the oldest with what is queued.
		for len(s.held) > 0 && s.state != StateClosed {
			h := s.held[0]
			s.held = s.held[1:]
			s.answerWithQueue(h)
		}
		if s.state == StateClosed {
			return
		}
		s.answerReport(r, report, time.Since(c.sentAt))
		return
	}
	s.held = append(s.held, r)
	s.flush()
}

// forward sends a request's payloads upstream in one write.
func (s *Session) forward(b *Body) error {
	if len(b.Payloads) == 0 {
		return nil
	}
	s.relay.NoteClientStanza()
	return s.relay.Send(joinPayloads(b.Payloads))
}

func joinPayloads(p [][]byte) []byte {
	if len(p) == 1 {
		return p[0]
	}
	n := 0
	for _, x := range p {
		n += len(x)
	}
	out := make([]byte, 0, n)
	for _, x := range p {
		out = append(out, x...)
	}
	return out
}

// flush answers held requests that must not wait: the oldest ones beyond
// 'hold' (§8, the connection switching of §4), and the oldest one when data
// is waiting or the upstream stream ended. Called with s.mu held.
func (s *Session) flush() {
	for len(s.held) > 0 && s.state != StateClosed {
		if len(s.held) <= s.hold && !s.relay.Pending() {
			return
		}
		r := s.held[0]
		s.held = s.held[1:]
		s.answerWithQueue(r)
	}
}

// wake is the relay's callback: the server sent something or the stream
// ended.
func (s *Session) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed {
		return
	}
	s.flush()
	// The answer may have emptied the session's open requests: from now
	// the client has to come back within 'inactivity' (§10).
	s.armIdle()
	if err := s.relay.Err(); err != nil && len(s.held) == 0 && s.relay.Pending() {
		// Nobody to tell now; the next request (or the inactivity timer)
		// ends the session. Keep the queue for it.
		s.logger().WithError(err).Debug("upstream ended with no request held")
	}
}

// answerWithQueue answers r with everything queued; when the upstream
// stream has ended, the answer is the terminal one (XEP-0206 §6: stanzas,
// then the <stream:error/>, with condition remote-stream-error).
func (s *Session) answerWithQueue(r *request) {
	els, err := s.relay.Take()
	// The stream's end may be queued before the relay records it.
	streamError := false
	for _, el := range els {
		switch {
		case el.Kind == xmppconn.KindError:
			streamError = true
			err = errors.New("upstream sent a stream error")
		case el.Kind == xmppconn.KindEnd && err == nil:
			err = io.EOF
		}
	}
	els = deliverable(els, s)
	if err != nil {
		cond, cause := RemoteConnectionFailed, err
		if streamError {
			cond = RemoteStreamError
		}
		if errors.Is(err, session.ErrQueueFull) {
			cond = PolicyViolation
		} else if errors.Is(err, io.EOF) {
			cause = errors.New("upstream closed the stream")
		}
		s.endWith(cond, cause, r, els)
		return
	}
	s.lastHadData = len(els) > 0
	s.deliver(r, s.build(r, "", "", els))
}

// deliverable drops the elements a BOSH client never sees (stream headers
// and the closing tag) and notes the end of a restart.
func deliverable(els []xmppconn.Element, s *Session) []xmppconn.Element {
	out := els[:0]
	for _, el := range els {
		switch el.Kind {
		case xmppconn.KindHeader, xmppconn.KindEnd:
			continue
		case xmppconn.KindFeatures:
			if s.state == StateRestarting {
				s.state = StateOpen
			}
		}
		out = append(out, el)
	}
	return out
}

// build makes an answer to r: the wrapper with the per-response
// attributes, typ and condition when set, and els.
func (s *Session) build(r *request, typ, cond string, els []xmppconn.Element) answer {
	var w responseBuilder
	w.start(elementsLen(els))
	if typ != "" {
		w.attr("type", typ)
	}
	if cond != "" {
		w.attr("condition", cond)
	}
	// §9.1: acknowledge the highest rid received in order, when it is
	// not the one being answered.
	if s.acks && r != nil && s.lastRID != r.rid {
		w.attrUint("ack", s.lastRID)
	}
	poll := s.pollAttrs(&w)
	w.elements(els)
	return answer{body: w.buf, pollSeconds: poll}
}

// advisedInterval is the poll interval advised to a polling session now:
// short while stanzas flow, longer the longer it has been idle, and never
// below the session's 'polling', against which too-frequent polls are
// judged (XEP-0124 §12).
func (s *Session) advisedInterval() time.Duration {
	if !s.polling || s.h.cfg.PollInterval == nil {
		return 0
	}
	return max(s.h.cfg.PollInterval(time.Since(s.relay.LastStanza())), s.h.cfg.Polling)
}

// pollAttrs adds the advised poll interval to an answer of a polling
// session, in boshd's namespace, and returns it in seconds (0: none).
func (s *Session) pollAttrs(w *responseBuilder) int {
	d := s.advisedInterval()
	if d <= 0 {
		return 0
	}
	secs := int((d + time.Second - 1) / time.Second)
	w.buf = append(w.buf, " xmlns:boshd='"+NSBoshd+"'"...)
	w.attrInt("boshd:poll-interval", int64(secs))
	return secs
}

// deliver hands r its answer and caches it for retransmissions (§14.3).
func (s *Session) deliver(r *request, a answer) {
	if r.answered {
		return
	}
	r.answered = true
	s.cache.add(r.rid, keysOf(r.body), a, time.Now())
	if r.rid > s.lastAnswer {
		s.lastAnswer = r.rid
	}
	r.give(a)
}

func (s *Session) answerEmpty(r *request) {
	s.lastHadData = false
	s.deliver(r, s.build(r, "", "", nil))
}

// answerReport answers at once telling the client which answer it seems
// to have missed (§9.2).
func (s *Session) answerReport(r *request, report uint64, since time.Duration) {
	var w responseBuilder
	w.start(0)
	w.attrUint("report", report)
	w.attrInt("time", since.Milliseconds())
	w.empty()
	s.deliver(r, answer{body: w.buf})
}

// answerRecoverable answers an older copy of a retransmitted request with
// the recoverable error of §14.3 and §17.3; the newer copy takes its place.
// It is not cached: the rid's real answer goes to the newer copy.
func (s *Session) answerRecoverable(r *request) {
	if r.answered {
		return
	}
	r.answered = true
	var w responseBuilder
	w.start(0)
	w.attr("type", "error")
	w.empty()
	r.give(answer{body: w.buf})
}

// expire is called when r's 'wait' is over. A held request is answered
// (with the queue if it is the oldest, empty otherwise). A request still
// waiting for an earlier rid that has not come within two waits means the
// client lost that request for good: the session ends with item-not-found.
func (s *Session) expire(r *request, expiries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.held {
		if h == r {
			s.held = append(s.held[:i], s.held[i+1:]...)
			if i == 0 {
				s.answerWithQueue(r)
			} else {
				s.answerEmpty(r)
			}
			s.armIdle()
			return
		}
	}
	if s.pending[r.rid] == r && expiries >= 2 {
		s.end(ItemNotFound, fmt.Errorf("rid %d never arrived", s.lastRID+1), nil)
	}
}

// abandon is called when the client closed the connection of an open
// request. A held request is answered (empty, and cached) at once, so a
// retransmission of its rid is served from the cache and it no longer
// counts as held; data stays queued for the next request. A request still
// waiting for its turn is dropped: its rid was, in effect, never received.
func (s *Session) abandon(r *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[r.rid] == r {
		delete(s.pending, r.rid)
		s.armIdle()
		return
	}
	for i, h := range s.held {
		if h == r {
			s.held = append(s.held[:i], s.held[i+1:]...)
			s.answerEmpty(r)
			s.armIdle()
			return
		}
	}
}

// endTerminate ends the session at the client's request (§13). Every open
// request gets <body type='terminate'/>, in rid order: the held ones, the
// terminate request itself (the answer §13 prescribes) and any that came
// ahead of their turn and will now never be processed.
func (s *Session) endTerminate() {
	for _, h := range s.held {
		s.deliver(h, s.build(h, "terminate", "", nil))
	}
	rest := make([]*request, 0, len(s.pending))
	for _, p := range s.pending {
		rest = append(rest, p)
	}
	slices.SortFunc(rest, func(a, b *request) int { return cmp.Compare(a.rid, b.rid) })
	for _, p := range rest {
		s.deliver(p, s.build(p, "terminate", "", nil))
	}
	s.held, s.pending = nil, nil
	s.close(nil)
}

// end terminates the session with cond because of culprit's request (nil
// when the cause is not a request); culprit gets cond, other open requests
// other-request (§17.2).
func (s *Session) end(cond Condition, cause error, culprit *request) {
	s.endWith(cond, cause, culprit, nil)
}

func (s *Session) endWith(cond Condition, cause error, culprit *request, els []xmppconn.Element) {
	if s.state == StateClosed {
		return
	}
	if culprit != nil {
		a := s.terminalAnswer(cond, els)
		if !culprit.answered {
			culprit.answered = true
			culprit.give(a)
		}
	}
	other := OtherRequest
	if culprit == nil {
		other = cond
	}
	for _, h := range s.held {
		if h != culprit && !h.answered {
			h.answered = true
			h.give(s.terminalAnswer(other, nil))
		}
	}
	for _, p := range s.pending {
		if p != culprit && !p.answered {
			p.answered = true
			p.give(s.terminalAnswer(other, nil))
		}
	}
	s.held, s.pending = nil, nil
	s.close(terminal(cond, cause))
}

// terminalAnswer is the answer for a terminal condition: a terminate body,
// or for legacy clients the HTTP status of §17.1.
func (s *Session) terminalAnswer(cond Condition, els []xmppconn.Element) answer {
	var w responseBuilder
	w.start(elementsLen(els))
	w.attr("type", "terminate")
	w.attr("condition", string(cond))
	w.elements(els)
	a := answer{body: w.buf}
	if s.legacy {
		a.status = cond.legacyStatus()
	}
	return a
}

// logger returns the session's log entry, with a shortened sid, the
// client's address and the domain. It is built each time the session
// logs rather than kept: most sessions log twice in their life, and a kept
// entry costs about a kilobyte per session (docs/benchmarks.md).
func (s *Session) logger() logrus.FieldLogger {
	return s.h.cfg.Log.WithFields(logrus.Fields{"sid": shortID(s.id), "remote": s.remote, "domain": s.domain})
}

// close marks the session closed and has its upstream stream closed in
// the background (closing waits briefly for the server). Called with s.mu
// held; err is nil for a clean end.
func (s *Session) close(err error) {
	log := s.logger().WithField("state", s.state.String())
	s.state = StateClosed
	s.stopIdle()
	switch {
	case errors.Is(err, errInactive):
		log.Info("session ended: client inactive")
	case err != nil:
		cond := ConditionOf(err)
		e := log.WithField("condition", string(cond)).WithError(err)
		if cond == InternalServerError {
			e.Warn("session ended")
		} else {
			e.Info("session ended")
		}
	default:
		log.Info("session ended by the client")
	}
	s.h.retire(s)
}

// armIdle starts the inactivity timer when no request is open (§10).
// Called with s.mu held.
func (s *Session) armIdle() {
	if s.state == StateClosed || len(s.held) > 0 || len(s.pending) > 0 {
		return
	}
	d := s.inactivity
	if s.state == StatePaused {
		d = s.pause
	} else if s.polling {
		d += s.advisedInterval()
	}
	s.idleAt = time.Now().Add(d)
	if s.idle == nil {
		s.idle = time.AfterFunc(d, s.idleExpired)
	} else {
		s.idle.Reset(d)
	}
}

// stopIdle disarms the inactivity timer. Called with s.mu held.
func (s *Session) stopIdle() {
	s.idleAt = time.Time{}
	if s.idle != nil {
		s.idle.Stop()
	}
}

func (s *Session) idleExpired() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idleAt.IsZero() || time.Now().Before(s.idleAt) ||
		s.state == StateClosed || len(s.held) > 0 || len(s.pending) > 0 {
		return
	}
	// §10: the client is gone; end silently, there is nobody to tell.
	s.close(fmt.Errorf("no request for %v: %w", s.inactivity, errInactive))
}

var errInactive = errors.New("bosh: client inactive")

// reportGrace is how long an answer may go unacknowledged before a request
// whose 'ack' is older than it gets a 'report' (XEP-0124 §9.2). Without it,
// a client that writes its next poll before it has read the previous
// answer (its 'ack' one behind, as pipelined clients do) would get every
// poll answered at once with a report: a busy loop in which the stanzas
// waiting for it are never delivered.
const reportGrace = time.Second

// shutdown ends the session because boshd is stopping.
func (s *Session) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end(SystemShutdown, errors.New("boshd is shutting down"), nil)
}

// status maps an answer's status to the HTTP status to write.
func (a answer) httpStatus() int {
	if a.status == 0 {
		return http.StatusOK
	}
	return a.status
}

func isTrue(v string) bool { return v == "true" || v == "1" }
