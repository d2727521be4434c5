package httppoll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// State is where a polling session is in its life. Transitions go only
// forward: StateNew → StateOpen → StateClosed, or StateNew → StateClosed.
type State uint8

const (
	// StateNew: the session has an identifier but the client's stream
	// header is not complete yet, so there is no upstream stream.
	StateNew State = iota
	// StateOpen: the upstream stream is open and stanzas are relayed.
	StateOpen
	// StateClosed: the session has ended (terminal); its identifier now
	// gets IDUnknown.
	StateClosed
)

// Reasons a session ends, for the one log line it writes.
var (
	errClientEnded = errors.New("httppoll: the client closed its stream")
	errExpired     = errors.New("httppoll: no successful request within the session timeout")
	errShutdown    = errors.New("httppoll: boshd is shutting down")
	errRefused     = errors.New("stream refused")
	errStartTLS    = errors.New("httppoll: the client asked for STARTTLS, which boshd negotiates with the server itself")
	errOveractive  = errors.New("httppoll: polling too often")
)

// Session is one XEP-0025 session: the client's byte stream cut into
// elements, the upstream relay, the key sequence, the poll being held, and
// the keep-alive timer.
type Session struct {
	h     *Handler
	regID string // the key in the registry
	id    string // the identifier on the wire (wireID of regID)
	// remote and domain identify the session in its log lines (logger);
	// the entry is built when a line is written, not kept per session.
	remote, domain string

	// kick is the relay's wake: it has room for one signal, so waking
	// never blocks and never takes a lock.
	kick chan struct{}
	// done is closed when the session ends.
	done chan struct{}

	mu        sync.Mutex
	state     State
	up        upstream
	endTag    []byte // closes the stream the server's header opened
	endSent   bool   // the client has been given the end of the stream
	split     xmppconn.Splitter
	keyed     bool
	lastKey   string    // the key of the last request accepted (§4)
	out       []byte    // bytes for the next answer, in stream order
	lastReply time.Time // when the last answer was made
	release   chan struct{}
	heldSince time.Time // when the poll now held (release != nil) arrived
	// overactive counts the wasted polls in a row (see police).
	overactive int
	busy       int // requests being processed or held
	// dialing is set while openUpstream dials without s.mu held, and
	// closed when the dial is over: another request of the session waits
	// for it before it touches the byte stream.
	dialing chan struct{}
	// expiry is the keep-alive timer (§3), armed while no request is open.
	expiry relay.IdleTimer
}

func newSession(h *Handler, first Request, remote string) *Session {
	s := &Session{
		h:         h,
		remote:    remote,
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		keyed:     first.Key != "",
		lastKey:   first.Key,
		lastReply: time.Now(),
	}
	s.split.MaxElementBytes = h.config().MaxElementBytes
	s.split.MaxDepth = h.config().MaxDepth
	return s
}

// logger returns the session's log entry. The sid shown is a prefix:
// enough to tell sessions apart, too little to hijack one.
func (s *Session) logger() logrus.FieldLogger {
	f := logrus.Fields{"sid": s.id[:min(8, len(s.id))], "remote": s.remote}
	if s.domain != "" {
		f["domain"] = s.domain
	}
	return s.h.config().Log.WithFields(f)
}

func (s *Session) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// checkKey applies XEP-0025 §4 step 5 and the re-keying of step 6. A
// session whose first request had no key never asks for one. Called with
// s.mu held.
func (s *Session) checkKey(r Request) bool {
	if !s.keyed {
		return true
	}
	if r.Key == "" || !keyFollows(r.Key, s.lastKey) {
		return false
	}
	s.lastKey = r.Key
	if r.NewKey != "" {
		s.lastKey = r.NewKey
	}
	return true
}

// serve runs one request of the session (first: the request with
// identifier 0 that created it) and returns its answer; ok is false when
// the client went away before it could be answered.
func (s *Session) serve(ctx context.Context, r Request, first bool) (a answer, ok bool) {
	s.mu.Lock()
	if !s.awaitDial(ctx) {
		s.mu.Unlock()
		return answer{}, false
	}
	if s.state == StateClosed {
		s.mu.Unlock()
		return answer{id: IDUnknown}, true
	}
	if !first && !s.checkKey(r) {
		log := s.logger()
		s.mu.Unlock()
		// §4: not processed, keep-alive not extended; the session stays
		// for its rightful client (ending it would let anyone who saw an
		// identifier end the session).
		log.Info("key sequence error: request ignored")
		return answer{id: IDKeySequence}, true
	}
	// A client polls one request at a time; a new one while a poll is
	// held means the client gave up on it. That one gets an empty answer
	// and the new request takes over.
	released := false
	if s.release != nil {
		close(s.release)
		s.release = nil
		released = true
	}
	s.busy++
	s.stopExpiry()

	var now time.Time
	if fail, failed := s.feedSafely(ctx, r.XML); failed {
		s.busy--
		s.mu.Unlock()
		return fail, true
	}
	now = time.Now() // feed may have dialed
	empty := len(bytes.TrimSpace(r.XML)) == 0
	// A request that releases a held poll early wastes the released
	// poll's answer (police).
	if released && empty && s.police(now.Sub(s.heldSince)) {
		a = s.reply(now)
		a.id = IDBadRequest
	} else if s.state == StateOpen && empty && s.h.config().HoldCap > 0 &&
		len(s.out) == 0 && !s.up.Pending() {
		deadline := s.lastReply.Add(s.interval(now))
		if limit := now.Add(s.h.config().HoldCap); deadline.After(limit) {
			deadline = limit
		}
		if deadline.After(now) {
			if !released {
				s.overactive = 0
			}
			s.heldSince = now
			return s.hold(ctx, deadline) // unlocks
		}
		a = s.reply(now)
	} else {
		since := now.Sub(s.lastReply)
		a = s.reply(now)
		switch {
		case !empty || len(a.body) > 0:
			s.overactive = 0 // data either way is never wasted
		case !released && s.police(since):
			a = s.reply(now)
			a.id = IDBadRequest
		}
	}
	s.busy--
	s.armExpiry()
	s.mu.Unlock()
	return a, true
}

// police applies boshd's overactivity rule to XEP-0025, which defines
// none (XEP-0025 §3 leaves the poll rate to the client): it is called for
// a wasted poll, one that costs an answer carrying nothing without being
// held (an empty poll answered empty at once, or an empty request that
// releases a held poll), since being the time since the previous answer
// (or since the released poll arrived). The poll counts as overactive when
// since is less than half of poll_min, the advised minimum
// (PollInterval(0), not the adaptive advice); anything else resets the
// count. Held polls and polls or answers that carry data are never
// counted, so a client that follows the advice, or one that polls back to
// back and is held, is never punished. MaxOveractive overactive polls in a
// row end the session with a policy-violation stream error; police returns
// true then and the caller answers IDBadRequest. Called with s.mu held.
func (s *Session) police(since time.Duration) bool {
	gap := s.h.config().PollInterval(0) / 2
	if since >= gap {
		s.overactive = 0
		return false
	}
	s.overactive++
	if s.overactive < MaxOveractive || s.state != StateOpen {
		return false
	}
	s.drain()
	s.out = appendStreamError(s.out, "policy-violation", "polling too often")
	s.closeStream()
	s.end(fmt.Errorf("%w: %d empty polls in a row answered less than %v after the previous answer",
		errOveractive, s.overactive, gap))
	return true
}

// MaxOveractive is how many overactive polls in a row end an XEP-0025
// session (see Session.police).
const MaxOveractive = 5

// awaitDial waits while another request of the session dials the upstream
// stream; false means the client went away meanwhile. Called with s.mu
// held, which it releases while it waits.
func (s *Session) awaitDial(ctx context.Context) bool {
	for s.dialing != nil {
		d := s.dialing
		s.mu.Unlock()
		select {
		case <-d:
		case <-s.done:
		case <-ctx.Done():
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			return false
		}
		if s.state == StateClosed {
			return true
		}
	}
	return true
}

// hold keeps an empty poll of a quiet session open until deadline, and
// answers it at once when the server sends something or the session ends.
// Called with s.mu held; returns with it released.
func (s *Session) hold(ctx context.Context, deadline time.Time) (answer, bool) {
	rel := make(chan struct{})
	s.release = rel
	up := s.up
	s.mu.Unlock()

	s.h.reg.Held(+1)
	defer s.h.reg.HeldEnded()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	released, gone := false, false
wait:
	for {
		select {
		case <-s.kick:
			if up.Pending() {
				break wait
			}
			// A signal for data an earlier answer already took.
		case <-t.C:
			break wait
		case <-rel:
			released = true
			break wait
		case <-s.done:
			break wait
		case <-ctx.Done():
			gone = true
			break wait
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release == rel {
		s.release = nil
	}
	s.busy--
	defer s.armExpiry()
	switch {
	case gone:
		// Nobody to answer; what is queued waits for the next poll.
		return answer{}, false
	case released:
		return answer{id: s.id, interval: s.advice(time.Now())}, true
	}
	return s.reply(time.Now()), true
}

// reply makes the answer to a request: everything waiting for the client.
// Called with s.mu held.
func (s *Session) reply(now time.Time) answer {
	s.drain()
	a := answer{id: s.id, body: s.out}
	s.out = nil
	if s.state != StateClosed {
		a.interval = s.advice(now)
	}
	s.lastReply = now
	return a
}

// HeldPollGap is the gap boshd advises after every answer while empty polls
// are held: the server's hold, not the client's sleep, paces an idle
// session, so a client that follows the advice is never asleep for more
// than this when a message arrives (docs/polling.md).
const HeldPollGap = time.Second

// advice is the X-Poll-Interval of an answer made at now. While empty
// polls are held (HoldCap > 0) it is HeldPollGap: the next empty poll is
// held until the session's interval has passed since this answer, so a
// client that follows the advice polls once per interval and is answered
// the moment something arrives. With holding off it is the interval
// itself, and a message waits for the client's next poll.
func (s *Session) advice(now time.Time) time.Duration {
	if s.h.config().HoldCap > 0 {
		return HeldPollGap
	}
	return s.interval(now)
}

// interval is the session's current poll interval: the adaptive policy
// applied to the time since the last stanza in either direction.
func (s *Session) interval(now time.Time) time.Duration {
	if s.up == nil {
		return s.h.config().PollInterval(0)
	}
	return s.h.config().PollInterval(now.Sub(s.up.LastStanza()))
}

// drain moves what the server sent into s.out and, when the upstream
// stream has ended, ends the session with the stream's end (and a stream
// error explaining boshd's part, if any). Called with s.mu held.
func (s *Session) drain() {
	if s.up == nil {
		return
	}
	els, err := s.up.Take()
	for _, el := range els {
		s.out = append(s.out, el.Raw...)
		if el.Kind == xmppconn.KindEnd {
			s.endSent = true
		}
	}
	if err == nil || s.state == StateClosed {
		return
	}
	reason := err
	switch {
	case errors.Is(err, relay.ErrQueueFull):
		reason = fmt.Errorf("httppoll: more than %d bytes waited for the client's next poll (max_queue_bytes): %w",
			s.h.config().MaxQueueBytes, err)
		s.out = appendStreamError(s.out, "policy-violation", "too much data waiting for the next poll")
	case errors.Is(err, io.EOF):
		reason = errors.New("httppoll: the server closed the stream")
	case xmppconn.Condition(err) != "":
		// The server broke XML or boshd's limits: nothing of the broken
		// element was queued; the client learns the stream failed.
		s.out = appendStreamError(s.out, "internal-server-error", xmppconn.Fault(err))
	}
	s.closeStream()
	s.end(reason)
}

// closeStream gives the client the end of its stream, once. Called with
// s.mu held.
func (s *Session) closeStream() {
	if s.endSent || s.endTag == nil {
		return
	}
	s.endSent = true
	s.out = append(s.out, s.endTag...)
}

// feed cuts the request's stream bytes into elements and acts on them: a
// stream header opens (or restarts) the upstream stream, stanzas go to the
// server in one write, the stream's end ends the session. When the request
// cannot be served, it returns the error answer and failed=true; the
// session has then ended. Called with s.mu held.
func (s *Session) feed(ctx context.Context, p []byte) (fail answer, failed bool) {
	if len(p) == 0 {
		return answer{}, false
	}
	s.split.Write(p)
	var batch []byte
	stanzas := 0 // in batch
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if stanzas > 0 {
			s.up.NoteClientStanza()
		}
		if err := s.up.Send(batch, stanzas); err != nil {
			// The relay has ended or will; the answer reports it.
			s.logger().WithError(err).Debug("stanzas not forwarded")
		}
		batch, stanzas = batch[:0], 0
	}
	for s.state != StateClosed {
		el, ok, err := s.split.Next()
		if err != nil {
			s.end(fmt.Errorf("httppoll: client stream: %w", err))
			return answer{id: IDBadRequest}, true
		}
		if !ok {
			break
		}
		switch el.Kind {
		case xmppconn.KindHeader:
			flush()
			if s.up == nil {
				if a, failed := s.openUpstream(ctx, el.Raw); failed {
					return a, true
				}
				continue
			}
			// RFC 6120 §4.3.3 (after SASL, RFC 6120 §6.4.6): the client
			// restarts its stream; boshd restarts the upstream one, whose
			// new header and features reach the client through the relay.
			if err := s.up.Restart(); err != nil {
				s.logger().WithError(err).Debug("stream restart not forwarded")
			}
		case xmppconn.KindEnd, xmppconn.KindError:
			// RFC 6120 §4.4: the client closes its stream (XEP-0025 §3:
			// how a client disconnects). A stream error goes to the
			// server first.
			if el.Kind == xmppconn.KindError {
				batch = append(batch, el.Raw...)
			}
			flush()
			s.drain()
			s.closeStream()
			s.end(errClientEnded)
		default:
			switch {
			case is(el.Raw, el.Name, "starttls", xmppconn.NSTLS):
				flush()
				s.drain()
				s.out = append(s.out, tlsFailure...)
				s.closeStream()
				s.end(errStartTLS)
			case is(el.Raw, el.Name, "compress", nsCompress):
				flush()
				s.drain()
				s.out = append(s.out, compressFailure...)
			default:
				batch = append(batch, el.Raw...)
				stanzas++
			}
		}
	}
	if s.state != StateClosed {
		flush()
	}
	return answer{}, false
}

// feedSafely runs feed, turning a panic into the end of this session only:
// the request gets IDServerError and every other session goes on. Called
// with s.mu held, which it still holds after a panic.
func (s *Session) feedSafely(ctx context.Context, p []byte) (fail answer, failed bool) {
	defer func() {
		if v := recover(); v != nil {
			s.logger().WithField("panic", fmt.Sprint(v)).WithField("stack", string(debug.Stack())).Error("request panicked")
			s.end(fmt.Errorf("httppoll: panic: %v", v))
			fail, failed = answer{id: IDServerError}, true
		}
	}()
	return s.feed(ctx, p)
}

// openUpstream checks the domain the client's first stream header names
// against the allowlist and opens the upstream stream; the server's header
// and features are the client's first bytes. Called with s.mu held, which
// it releases during the dial.
func (s *Session) openUpstream(ctx context.Context, raw []byte) (answer, bool) {
	sh, err := xmppconn.ParseHeader(raw)
	if err != nil {
		s.end(fmt.Errorf("httppoll: client stream: %w", err))
		return answer{id: IDBadRequest}, true
	}
	target, err := s.h.config().Domains.Resolve(sh.To, "")
	if err != nil {
		cond := "host-unknown"
		if errors.Is(err, relay.ErrImproperAddressing) {
			cond = "improper-addressing"
		}
		s.end(fmt.Errorf("httppoll: %w: %w", errRefused, err))
		return answer{id: IDUnknown, body: refusalDocument(cond, "this connection manager does not serve that domain")}, true
	}
	s.domain = target.Domain
	// Dial without s.mu: Shutdown, the expiry timer and a held poll must
	// not wait for the network. Other requests of the session wait for
	// the dial (awaitDial) so the byte stream stays in order.
	dialing := make(chan struct{})
	s.dialing = dialing
	s.mu.Unlock()
	dctx, cancel := s.h.reg.DialContext(ctx, s.h.config().DialTimeout)
	o, err := s.h.openRelay(dctx, target, sh, s.wake)
	cancel()
	s.mu.Lock()
	s.dialing = nil
	close(dialing)
	if err == nil && s.state == StateClosed {
		// Ended while dialing (Shutdown): the new stream has no session.
		s.h.reg.Retire(s.regID, o.up.Close)
		return answer{id: IDServerError, body: refusalDocument("system-shutdown", "boshd is shutting down")}, true
	}
	if err != nil {
		err = fmt.Errorf("httppoll: %w: connecting to %s: %w", errRefused, target.Domain, err)
		s.end(err)
		var se *xmppconn.StreamError
		if errors.As(err, &se) {
			// The server refused the stream: relay its own error.
			return answer{id: IDServerError, body: errorDocument(se.Raw)}, true
		}
		return answer{id: IDServerError, body: refusalDocument("remote-connection-failed", "cannot connect to the server")}, true
	}
	s.up, s.state = o.up, StateOpen
	s.h.reg.Opened(s.regID, s.domain)
	s.endTag = endTag(o.header)
	s.out = append(s.out, o.header...)
	s.out = append(s.out, o.features...)
	s.logger().WithField("secure", o.secure).Info("session created")
	return answer{}, false
}

// end ends the session: marks it closed, wakes a held poll (which gets
// what s.out holds), and goes the core's end-of-session path
// (relay.Registry.End: timer stopped, forgotten, the upstream stream
// closed politely in the background so the server bounces or stores what
// was on its way (XEP-0025 §3), then logged). Called with s.mu held.
func (s *Session) end(reason error) {
	if s.state == StateClosed {
		return
	}
	s.state = StateClosed
	close(s.done)
	e := relay.Ending{Condition: condition(reason), Reason: endCondition(reason), Cause: reason}
	switch {
	case errors.Is(reason, errClientEnded):
		e.Cause, e.Message = nil, "session ended by the client"
	case errors.Is(reason, relay.ErrQueueFull):
		e.Message, e.Warn = "session ended: too much data waiting for the client", true
	case errors.Is(reason, errRefused):
		e.Message = "session refused"
	case errors.Is(reason, errOveractive):
		e.Message, e.Warn = "session ended: polling too often", true
	case errors.Is(reason, errExpired):
		e.Cause, e.Message = nil, "session expired: no request within the session timeout"
		e.Fields = logrus.Fields{"timeout": s.h.config().SessionTimeout}
	}
	var stop func()
	if s.up != nil {
		stop = s.up.Close
	}
	s.h.reg.End(s.regID, &s.expiry, stop, s.logger(), e)
}

// condition is the name of why a session ended, for relay.Observer: the
// stream error condition the client was given (RFC 6120 §4.9.3) where
// there is one, "" for the client's own end.
func condition(reason error) string {
	switch {
	case errors.Is(reason, errClientEnded):
		return ""
	case errors.Is(reason, relay.ErrQueueFull), errors.Is(reason, errOveractive):
		return "policy-violation"
	case errors.Is(reason, errShutdown):
		return "system-shutdown"
	case errors.Is(reason, errExpired):
		return "connection-timeout"
	case errors.Is(reason, errRefused):
		return "remote-connection-failed"
	case errors.Is(reason, errStartTLS):
		return "unsupported-feature"
	case errors.Is(reason, io.EOF):
		return "remote-stream-end"
	}
	return "undefined-condition"
}

// shutdown ends the session because boshd is stopping; a held poll gets a
// system-shutdown stream error (RFC 6120 §4.9.3.17).
func (s *Session) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed {
		return
	}
	s.drain()
	if s.state == StateOpen {
		s.out = appendStreamError(s.out, "system-shutdown", "boshd is shutting down")
		s.closeStream()
	}
	s.end(errShutdown)
}

// armExpiry starts the keep-alive timer when no request is open (XEP-0025
// §3: a session without a successful POST for the configured time ends).
// Called with s.mu held.
func (s *Session) armExpiry() {
	if s.state == StateClosed || s.busy > 0 {
		return
	}
	s.expiry.Arm(s.h.config().SessionTimeout, s.expired)
}

func (s *Session) stopExpiry() { s.expiry.Stop() }

// expired is the keep-alive timer's callback, on the timer's goroutine:
// a panic there ends this session only (relay.Recover).
func (s *Session) expired() {
	defer relay.Recover(s.h.config().Log, "expiry timer", s.endAfterPanic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.expiry.Due() || s.state == StateClosed || s.busy > 0 {
		return
	}
	s.end(errExpired)
}

// endAfterPanic ends the session after a panic in a callback (see
// relay.Recover); end retires the session before it logs.
func (s *Session) endAfterPanic(what string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end(fmt.Errorf("httppoll: panic in the %s: %v", what, v))
}
