package bosh

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/endpoint"
	"boshd/bosh/relay"
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
	// adding: an add-stream request whose dial runs (XEP-0124 §16.3);
	// it stays held, and holds back the answers after it, until then.
	// (Beside answered: it takes no room of its own.)
	adding bool
	park   *parked // set while held on a taken-over connection (hold.go)
	// fixed is an answer settled while processing (a stream added,
	// refused or closed, streams.go), given in r's turn among the held.
	fixed *answer
}

func newRequest(rid uint64, b *Body) *request {
	return &request{rid: rid, body: b, answer: make(chan answer, 1)}
}

// empty reports whether the request carries no payload and is not one of
// the special requests (restart, pause, terminate) XEP-0124 §11 exempts.
// 'to' alone does not exempt it: only a §16.3 add-stream request the
// session will act on asks for something (checkPolling), and with the
// feature off a request with 'to' is an ordinary empty request (§16.3).
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
// cached answers and the timers of XEP-0124, over a relay.Relay to the
// server.
type Session struct {
	h  *Handler
	id string
	// first is the session's first stream, inline; more holds the streams
	// added to it (XEP-0124 §16, streams.go), nil until the client adds
	// one. Both are guarded by mu.
	first upstream
	more  *streams
	// remote and domain identify the session in its log lines (logger).
	remote, domain string

	// Negotiated at creation (XEP-0124 §7.2), then fixed.
	wait       time.Duration
	hold       int
	requests   int
	inactivity time.Duration
	maxPause   time.Duration
	content    string
	// The flags together, so that they share one word (memory per
	// session, issue 12).
	polling bool // hold or wait was 0 (XEP-0124 §12)
	legacy  bool // no 'ver': HTTP error codes (XEP-0124 §17.1)
	acks    bool // the client asked for acknowledgements (§9)
	multi   bool // the creation response named the first stream (§16.2)

	mu    sync.Mutex
	state State
	// encodings is fixed at creation like the flags above; it sits here
	// to share state's word and keep Session in its size class.
	encodings  endpoint.Encodings  // the codings answers may use (compress.go)
	lastRID    uint64              // highest rid processed in order
	pending    map[uint64]*request // arrived ahead of their turn
	held       []*request          // processed, waiting for data, in rid order
	cache      answerCache
	lastAnswer uint64 // highest rid answered
	key        string // the key the next request must hash to (§15)
	pause      time.Duration
	activity   overactivity // what §11/§12's overactivity rules look at (polling.go)
	// The inactivity timer (§10), armed while no request is open.
	idle relay.IdleTimer
}

// handle runs one request of an existing session and returns its answer
// channel, or the answer itself when it is known at once, and the
// add-stream dials (§16.3) the caller must run, with addStreams, once
// the session's lock is released: they are network I/O.
func (s *Session) handle(b *Body, rid uint64) (*request, *answer, []addJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed {
		a := s.terminalAnswer(ItemNotFound, nil)
		return nil, &a, nil
	}
	r := newRequest(rid, b)
	// Step 1, the window (rid.go): a copy of an earlier request, or a rid
	// beyond the window, is settled here and never processed.
	if done, ok := s.window(r); ok {
		return done.request, done.answer, nil
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
	return r, nil, s.takeDials()
}

// process handles one request in rid order, in the steps of XEP-0124
// whose order matters: key (§15: a request that fails it is not processed
// at all, not even counted as activity), polling (§11, §12: judged on
// arrival, before the request can change anything), pause (§10: any
// processed request ends a pause), acks (§9.2), then what the request asks
// for (terminate §13, pause §10, restart XEP-0206 §5, or payloads to
// forward, or add a stream §16.3), then hold (§8). Called with s.mu held.
func (s *Session) process(r *request) {
	now := time.Now()
	if !s.checkKey(r) {
		return
	}
	if !s.checkPolling(r, now) {
		return
	}
	s.resume()
	report := s.noteAck(r.body, now)

	// Upstream already gone: answer with what it left and the reason.
	// (With several streams, a failed one is answered by flush and the
	// others go on.)
	if s.more == nil && s.first.relay.Err() != nil {
		s.holdRequest(r)
		return
	}
	b := r.body
	if typ, _ := b.Get("type"); typ == "terminate" {
		if !s.terminateStream(r) {
			s.terminate(r)
		}
		return
	}
	if v, ok := b.Get("pause"); ok && s.maxPause > 0 {
		s.pauseFor(r, v)
		return
	}
	if v, _ := b.GetNS(NSXBOSH, "restart"); isTrue(v) {
		// XEP-0206 §5: a new stream over the same connection; payloads
		// of a restart request are ignored. The new features arrive
		// through the relay and answer this request.
		u, ok := s.restartTarget(r)
		if !ok {
			return
		}
		if u != nil {
			if err := u.relay.Restart(); err != nil && s.more == nil {
				s.end(RemoteConnectionFailed, err, r)
				return
			}
			// With several streams, a failed restart shows as that
			// stream's end in the answer (flush).
			u.restarting = true
			s.state = StateRestarting
		}
	} else if s.isAddStream(b) {
		s.addStream(r)
		return
	} else if err := s.forward(b); err != nil {
		s.end(forwardCondition(err), err, r)
		return
	}
	if report != 0 {
		s.answerWithReport(r, report)
		return
	}
	s.holdRequest(r)
}

// holdRequest is the hold step: it keeps r until data, its 'wait' or the
// session's end answers it (§8); flush answers at once those that must not
// wait.
func (s *Session) holdRequest(r *request) {
	s.held = append(s.held, r)
	s.flush()
}

// answerInTurn gives r the answer a at once or, while earlier requests
// are held behind an add-stream dial (§16.3), fixes it to be given in
// r's turn when the dial ends (§8: answers in rid order). The callers
// have answered every held request not behind a dial. Called with s.mu
// held.
func (s *Session) answerInTurn(r *request, a answer) {
	if len(s.held) > 0 {
		r.fixed = &a
		s.held = append(s.held, r)
		return
	}
	s.deliver(r, a)
}

// restartTarget is the stream a restart request restarts: the one it
// names, or the oldest open one (XEP-0124 §16 leaves this open; see
// docs/conformance.md). nil: the named stream has just closed, nothing
// to restart. false: the name was never issued and the session has
// ended with item-not-found.
func (s *Session) restartTarget(r *request) (*upstream, bool) {
	if s.more == nil {
		return &s.first, true
	}
	name, named := r.body.Get("stream")
	if !named {
		return s.oldestOpen(), true
	}
	u, known := s.lookup(name)
	if !known {
		s.end(ItemNotFound, fmt.Errorf("%w %q", errUnknownStream, name), r)
		return nil, false
	}
	return u, true
}

// terminate ends the session at the client's request (§13, and §16.5
// without 'stream': every stream): it forwards the payloads (e.g.
// unavailable presence) to every open stream before they close and
// acknowledges on the oldest open request.
func (s *Session) terminate(r *request) {
	if len(r.body.Payloads) > 0 {
		p := joinPayloads(r.body.Payloads)
		for i := range s.slots() {
			if u := s.streamAt(i); u != nil {
				if err := u.relay.Send(p, len(r.body.Payloads)); err != nil {
					s.logger().WithError(err).Debug("terminate payload not forwarded")
				}
			}
		}
	}
	s.logger().Debug("client terminated the session")
	s.held = append(s.held, r)
	s.endTerminate()
}

// forward sends a request's payloads upstream in one write per stream:
// to the stream the request names, or to every open one (XEP-0124
// §16.4; a session with one stream has just that one). With several
// streams a failed write is not the session's end: that stream's end
// reaches the client in an answer (flush).
func (s *Session) forward(b *Body) error {
	if len(b.Payloads) == 0 {
		return nil
	}
	var buf [1]*upstream
	to, err := s.addressed(b, buf[:0])
	if err != nil {
		return err
	}
	if len(to) == 0 {
		s.logger().Debug("payloads for a closed stream dropped")
		return nil
	}
	p := joinPayloads(b.Payloads)
	for _, u := range to {
		u.relay.NoteClientStanza()
		if err := u.relay.Send(p, len(b.Payloads)); err != nil && s.more == nil {
			return err
		}
	}
	return nil
}

// forwardCondition is the condition a failed forward ends the session
// with: item-not-found for a stream name never issued (§16.4), else
// remote-connection-failed.
func forwardCondition(err error) Condition {
	if errors.Is(err, errUnknownStream) {
		return ItemNotFound
	}
	return RemoteConnectionFailed
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
// is waiting or an upstream stream ended, or when a later one has its
// answer fixed (§16, streams.go). An add-stream request whose dial runs
// holds back every answer after it (§8: answers in rid order). Called
// with s.mu held.
func (s *Session) flush() {
	for len(s.held) > 0 && s.state != StateClosed {
		r := s.held[0]
		if r.adding {
			return
		}
		if r.fixed == nil && len(s.held) <= s.hold && !s.hasData() && !s.fixedWaiting() {
			return
		}
		s.held = s.held[1:]
		if r.fixed != nil {
			s.activity.answered(false)
			s.deliver(r, *r.fixed)
			continue
		}
		s.answerWithQueue(r)
	}
}

// fixedWaiting reports whether a held request has its answer fixed, so
// that the ones before it must be answered now. Only §16's requests have
// one.
func (s *Session) fixedWaiting() bool {
	if s.more == nil {
		return false
	}
	for _, r := range s.held {
		if r.fixed != nil {
			return true
		}
	}
	return false
}

// wake is the relay's callback: the server sent something or the stream
// ended. It runs on the relay's goroutine, under recovery (relay.Recover).
func (s *Session) wake() {
	defer relay.Recover(s.h.config().Log, "wake", s.endAfterPanic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed {
		return
	}
	s.flush()
	// The answer may have emptied the session's open requests: from now
	// the client has to come back within 'inactivity' (§10).
	s.armIdle()
	if s.more == nil && len(s.held) == 0 {
		if err := s.first.relay.Err(); err != nil && s.first.relay.Pending() {
			// Nobody to tell now; the next request (or the inactivity
			// timer) ends the session. Keep the queue for it.
			s.logger().WithError(err).Debug("upstream ended with no request held")
		}
	}
}

// answerWithQueue answers r with everything queued by one stream
// (readyStream: an answer never mixes streams, XEP-0124 §16.4); when that
// stream has ended, the answer is the terminal one (XEP-0206 §6: stanzas,
// then the <stream:error/>, with condition remote-stream-error), for the
// whole session, or, while other streams are open, for that stream only
// (§16.6).
func (s *Session) answerWithQueue(r *request) {
	u := s.readyStream()
	if u == nil {
		s.answerEmpty(r)
		return
	}
	els, err := u.relay.Take()
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
	if u.restarting && hasFeatures(els) {
		// XEP-0206 §5: the restarted stream's features have come.
		u.restarting = false
		if s.state == StateRestarting && !s.anyRestarting() {
			s.state = StateOpen
		}
	}
	els = deliverable(els)
	if c := xmppconn.Condition(err); c != "" && !streamError {
		// XEP-0124 §17.2: a fatal error of the stream between boshd and
		// the server (the server broke XML or boshd's limits) is
		// reported as remote-stream-error, with boshd's stream error.
		streamError = true
		els = append(els, xmppconn.Element{Kind: xmppconn.KindError, Raw: xmppconn.AppendStreamError(nil, c, xmppconn.Fault(err))})
	}
	if err != nil {
		cond, cause := RemoteConnectionFailed, err
		if streamError {
			cond = RemoteStreamError
		}
		if errors.Is(err, relay.ErrQueueFull) {
			cond = PolicyViolation
		} else if errors.Is(err, io.EOF) {
			cause = errors.New("upstream closed the stream")
		}
		if s.openStreams() > 1 {
			s.endStream(u, cond, cause, r, els)
			return
		}
		// The last stream: the session ends, and the answer still names
		// the stream its payloads come from (§16.4).
		s.endWith(cond, cause, r, s.tagFor(u, els), els)
		return
	}
	s.activity.answered(len(els) > 0)
	s.deliver(r, s.build(r, "", "", s.tagFor(u, els), els))
}

// deliverable drops the elements a BOSH client never sees: stream
// headers and the closing tag (XEP-0206 §5, §6).
func deliverable(els []xmppconn.Element) []xmppconn.Element {
	out := els[:0]
	for _, el := range els {
		if el.Kind != xmppconn.KindHeader && el.Kind != xmppconn.KindEnd {
			out = append(out, el)
		}
	}
	return out
}

func hasFeatures(els []xmppconn.Element) bool {
	for _, el := range els {
		if el.Kind == xmppconn.KindFeatures {
			return true
		}
	}
	return false
}

// build makes an answer to r: the wrapper with the per-response
// attributes, typ, condition and stream (XEP-0124 §16.4) when set, and els.
func (s *Session) build(r *request, typ, cond, stream string, els []xmppconn.Element) answer {
	var w responseBuilder
	w.start(elementsLen(els))
	if typ != "" {
		w.attr("type", typ)
	}
	if cond != "" {
		w.attr("condition", cond)
	}
	if stream != "" {
		w.attr("stream", stream)
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
	s.activity.answered(false)
	s.deliver(r, s.build(r, "", "", "", nil))
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
// waiting for an earlier rid that has not come within a whole wait means
// the client lost that request for good: the session ends with
// item-not-found. It must not wait longer: the HTTP server's write timeout
// allows one wait (plus a margin), after which the client would see a
// reset connection instead of the answer.
func (s *Session) expire(r *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.held {
		if h == r {
			if r.adding {
				return // its dial ends within the dial timeout
			}
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
	if s.pending[r.rid] == r {
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
			if r.adding {
				// Its dial goes on; the answer is cached for a
				// retransmission of the rid.
				return
			}
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
		s.deliver(h, s.build(h, "terminate", "", "", nil))
	}
	rest := make([]*request, 0, len(s.pending))
	for _, p := range s.pending {
		rest = append(rest, p)
	}
	slices.SortFunc(rest, func(a, b *request) int { return cmp.Compare(a.rid, b.rid) })
	for _, p := range rest {
		s.deliver(p, s.build(p, "terminate", "", "", nil))
	}
	s.held, s.pending = nil, nil
	s.close(nil)
}

// end terminates the session with cond because of culprit's request (nil
// when the cause is not a request); culprit gets cond, other open requests
// other-request (§17.2).
func (s *Session) end(cond Condition, cause error, culprit *request) {
	s.endWith(cond, cause, culprit, "", nil)
}

// endWith is end with els, what the stream whose end it is left, for the
// culprit, in an answer naming that stream when stream is set (§16.4).
func (s *Session) endWith(cond Condition, cause error, culprit *request, stream string, els []xmppconn.Element) {
	if s.state == StateClosed {
		return
	}
	if culprit != nil {
		a := terminalAnswer(cond, s.legacy, stream, els)
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
	return terminalAnswer(cond, s.legacy, "", els)
}

// terminalAnswer is the answer for a terminal condition outside a session
// (or for one): legacy clients, which sent no 'ver', get the HTTP status
// of §17.1 too. stream, when set, names the stream els come from
// (§16.4).
func terminalAnswer(cond Condition, legacy bool, stream string, els []xmppconn.Element) answer {
	var w responseBuilder
	w.start(elementsLen(els))
	w.attr("type", "terminate")
	w.attr("condition", string(cond))
	if stream != "" {
		w.attr("stream", stream)
	}
	w.elements(els)
	a := answer{body: w.buf}
	if legacy {
		a.status = cond.legacyStatus()
	}
	return a
}

// logger returns the session's log entry, with a shortened sid, the
// client's address and the domain. It is built each time the session
// logs rather than kept: most sessions log twice in their life, and a kept
// entry costs about a kilobyte per session (docs/benchmarks.md).
func (s *Session) logger() logrus.FieldLogger {
	return s.h.config().Log.WithFields(logrus.Fields{"sid": shortID(s.id), "remote": s.remote, "domain": s.domain})
}

// close marks the session closed and ends it through the core's
// end-of-session path (relay.Registry.End: timer stopped, retired, upstream
// closed in the background, then logged). The held requests have been
// answered by the caller. Called with s.mu held; err is nil for a clean end.
func (s *Session) close(err error) {
	e := relay.Ending{Reason: endCondition(err), Fields: logrus.Fields{"state": s.state.String()}}
	s.state = StateClosed
	switch {
	case errors.Is(err, errInactive):
		e.Condition, e.Message = string(ConditionOf(err)), "session ended: client inactive"
	case err != nil:
		cond := ConditionOf(err)
		e.Condition, e.Cause, e.Warn = string(cond), err, cond == InternalServerError
	default:
		e.Message = "session ended by the client"
	}
	s.h.reg.End(s.id, &s.idle, s.stopAll(), s.logger(), e)
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
	s.idle.Arm(d, s.idleExpired)
}

// stopIdle disarms the inactivity timer. Called with s.mu held.
func (s *Session) stopIdle() { s.idle.Stop() }

func (s *Session) idleExpired() {
	defer relay.Recover(s.h.config().Log, "inactivity timer", s.endAfterPanic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.idle.Due() || s.state == StateClosed || len(s.held) > 0 || len(s.pending) > 0 {
		return
	}
	// §10: the client is gone; end silently, there is nobody to tell.
	s.close(fmt.Errorf("no request for %v: %w", s.inactivity, errInactive))
}

var errInactive = errors.New("bosh: client inactive")

// endAfterPanic ends the session with internal-server-error after a panic
// in a callback on a goroutine no request owns (see relay.Recover). close
// retires the session before it logs, so even a panic there leaves it out
// of the registry.
func (s *Session) endAfterPanic(what string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end(InternalServerError, fmt.Errorf("panic in %s: %v", what, v), nil)
}

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
