package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxRID is the largest rid XEP-0124 §14.1 allows (2^53 - 1).
const maxRID = 1<<53 - 1

// sentKeep is how many recent requests keep their bytes for Resend.
const sentKeep = 4

// endGrace is how long requests older than a terminating answer may still
// bring their own answers (the CM answers in rid order, so theirs are on
// the way) before they are abandoned.
const endGrace = 2 * time.Second

// Params are the session attributes of the creation response (XEP-0124
// §7.2, XEP-0206 §4). Integers are 0 when absent.
type Params struct {
	Wait, Hold, Requests, Polling, Inactivity, MaxPause int
	// Ack is the CM's ack attribute: the creation rid when the CM will
	// acknowledge requests (§9.1), else 0.
	Ack          uint64
	Ver          string
	From         string
	AuthID       string
	Accept       string
	Charsets     string
	Stream       string
	XMPPVersion  string // xmpp:version
	RestartLogic bool   // xmpp:restartlogic='true' (XEP-0206 §4)
}

// Session is one BOSH session seen from the client (XEP-0124, XEP-0206).
//
// Its methods are safe for concurrent use, with one rule: Login and the
// raw Request and Resend are sequential tools, not meant to overlap Run or
// Send. A session spawns no goroutine: each request runs on the goroutine
// that makes it (Run's, Send's caller's), so a session costs one parked
// goroutine while Run holds its request, and no timer between requests.
type Session struct {
	// SID is the session id from the creation response (XEP-0124 §7.2).
	SID string
	// CreateResponse is the answer to the creation request.
	CreateResponse *Body
	// Params are its session attributes.
	Params Params
	// Features is the latest <stream:features/> element received
	// (XEP-0206 §4, §5), as sent.
	Features []byte
	// JID is the full JID bound by Login (RFC 6120 §7).
	JID string

	cfg     Config
	timeout time.Duration
	slots   chan struct{}
	done    chan struct{}
	recv    chan []byte
	target  *target // nil when cfg.HTTPClient is used
	pool    *Pool

	// wmu orders the writing of new requests by rid: held from taking a
	// rid until the request is on the wire. CMs mishandle new requests
	// that overtake each other (ejabberd's mod_bosh holds the later one
	// forever, Prosody's drops the earlier one as a repeat) although
	// XEP-0124 §14.2 requires them to cope.
	wmu       sync.Mutex
	lastWrite time.Time // guarded by wmu

	mu         sync.Mutex
	nextRID    uint64
	cursor     uint64 // next rid whose payloads are delivered
	pending    []answer
	flights    []*flight
	inflight   int // allocated rids not completed yet
	sent       [sentKeep]sentRequest
	keys       *KeyChain
	err        error
	closing    bool
	delivering bool
	recvClosed bool
	loginQueue []loginItem
	// streams are the streams added to the session (XEP-0124 §16,
	// streams.go), by name; nil until AddStream.
	streams map[string]*streamState
}

// answer is a completed rid whose payloads wait for their turn; stream is
// the answer's 'stream' attribute (XEP-0124 §16.4).
type answer struct {
	rid      uint64
	stream   string
	payloads [][]byte
}

// flight is a request on its way.
type flight struct {
	rid        uint64
	raw        []byte
	cancel     context.CancelCauseFunc // of the running attempt
	ordered    atomic.Bool             // holds s.wmu until written
	afterWrite func()                  // runs on the caller's goroutine once written
}

type sentRequest struct {
	rid uint64
	raw []byte
}

// Connect creates a session (XEP-0124 §7.1, XEP-0206 §3) and returns once
// the stream features have arrived, polling with empty requests when the
// creation response carried none (XEP-0206 §4). A terminal answer gives a
// *TerminateError, a non-200 status an *HTTPError.
func Connect(ctx context.Context, c Config) (*Session, error) {
	s, err := newSession(c)
	if err != nil {
		return nil, fmt.Errorf("client: create session at %s: %w", c.URL, err)
	}
	rid := s.cfg.FirstRID
	if rid == 0 {
		rid = 1 + rand.Uint64N(1<<32-1)
	}
	if rid > maxRID {
		return nil, fmt.Errorf("client: first rid %d exceeds 2^53-1", rid)
	}
	s.nextRID = rid + 1

	attrs := []Attr{
		{"rid", strconv.FormatUint(rid, 10)},
		{"to", s.cfg.Domain},
		{"xml:lang", s.cfg.Lang},
		{"wait", strconv.Itoa(s.cfg.Wait)},
		{"hold", strconv.Itoa(s.cfg.Hold)},
		{"content", s.cfg.Content},
		{"ver", s.cfg.Ver},
		{"xmpp:version", "1.0"},
	}
	if s.cfg.Route != "" {
		attrs = append(attrs, Attr{"route", s.cfg.Route})
	}
	if s.cfg.Ack {
		attrs = append(attrs, Attr{"ack", "1"})
	}
	if s.cfg.Keys {
		s.keys = newRandomKeyChain(s.cfg.KeyCount)
		k, _ := s.keys.Next()
		attrs = append(attrs, Attr{"newkey", k})
	}
	raw := AppendBody(nil, mergeAttrs(attrs, s.cfg.CreateAttrs))
	s.remember(rid, raw)
	fl := &flight{rid: rid, raw: raw}
	s.flights = append(s.flights, fl)
	b, err := s.roundTrip(ctx, fl)
	s.flights = s.flights[:0]
	s.lastWrite = time.Time{}
	if err != nil {
		return nil, fmt.Errorf("client: create session at %s: %w", s.cfg.URL, err)
	}
	s.CreateResponse = b
	if b.Type() == "terminate" {
		return nil, fmt.Errorf("client: create session at %s: %w", s.cfg.URL, &TerminateError{Condition: b.Condition(), Body: b})
	}
	s.SID = b.Attrs["sid"]
	if s.SID == "" {
		return nil, fmt.Errorf("client: create session at %s: %w: creation response without sid", s.cfg.URL, ErrMalformed)
	}
	s.Params = parseParams(b)
	if s.Params.Wait > 0 {
		s.timeout = s.attemptTimeout(s.Params.Wait)
	}
	n := s.cfg.Hold + 1
	if s.Params.Hold > 0 || b.Attrs["hold"] == "0" {
		n = s.Params.Hold + 1
	}
	if s.Params.Requests > 0 && s.Params.Requests < n {
		n = s.Params.Requests
	}
	s.ready(n)
	s.queueLogin(b, b.Payloads)
	if _, err := s.awaitLogin(ctx, "", isFeatures); err != nil {
		s.end(err)
		return nil, fmt.Errorf("client: create session at %s: waiting for stream features: %w", s.cfg.URL, err)
	}
	return s, nil
}

// newSession is a session not yet on the wire: cfg with its defaults and
// the way requests are sent.
func newSession(c Config) (*Session, error) {
	if c.URL == "" {
		return nil, errors.New("Config.URL is empty")
	}
	s := &Session{cfg: c.withDefaults(), done: make(chan struct{})}
	s.timeout = s.attemptTimeout(s.cfg.Wait)
	if s.cfg.HTTPClient == nil {
		t, err := newTarget(s.cfg.URL, s.cfg.Content, s.cfg.Header)
		if err != nil {
			return nil, err
		}
		s.target, s.pool = t, s.cfg.Pool
		if s.pool == nil {
			s.pool = DefaultPool
		}
	}
	return s, nil
}

// ready makes the session usable once its sid and next rid are known:
// requests slots for the CM's limit (XEP-0124 §7.2 'requests'), stanza
// delivery from the next rid on.
func (s *Session) ready(requests int) {
	s.slots = make(chan struct{}, requests)
	s.cursor = s.nextRID
	if s.cfg.OnStanza == nil && s.cfg.OnStreamStanza == nil {
		s.recv = make(chan []byte, s.cfg.ReceiveBuffer)
	}
}

func parseParams(b *Body) Params {
	num := func(k string) int {
		v, _ := strconv.Atoi(b.Attrs[k])
		return v
	}
	ack, _ := b.Uint("ack")
	return Params{
		Wait: num("wait"), Hold: num("hold"), Requests: num("requests"), Polling: num("polling"),
		Inactivity: num("inactivity"), MaxPause: num("maxpause"), Ack: ack,
		Ver: b.Attrs["ver"], From: b.Attrs["from"], AuthID: b.Attrs["authid"], Accept: b.Attrs["accept"],
		Charsets: b.Attrs["charsets"], Stream: b.Attrs["stream"], XMPPVersion: b.Attrs["xmpp:version"],
		RestartLogic: b.Attrs["xmpp:restartlogic"] == "true" || b.Attrs["xmpp:restartlogic"] == "1",
	}
}

func (s *Session) attemptTimeout(wait int) time.Duration {
	if s.cfg.Timeout > 0 {
		return s.cfg.Timeout
	}
	w := time.Duration(wait) * time.Second
	return max(w*11/10, w+2*time.Second)
}

// RID returns the rid the next new request will carry (XEP-0124 §14.1).
func (s *Session) RID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextRID
}

// SetNextRID makes rid the next rid, to test how a CM handles a skipped
// or repeated rid. Call it only while no request is in flight; stanza
// delivery then continues from rid.
func (s *Session) SetNextRID(rid uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == 0 && len(s.pending) == 0 {
		s.cursor = rid
	}
	s.nextRID = rid
}

// Err returns why the session ended, or nil while it is alive: ErrClosed
// after Close, a *TerminateError, an *HTTPError, or the transport error
// that made the session give up.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Receive returns the channel of stanzas delivered by Run and Send, in rid
// order, each exactly as the CM sent it. It is closed once the session has
// ended and every answer has been delivered. A consumer must drain it: a
// full channel stops Run. It is nil when Config.OnStanza is set.
func (s *Session) Receive() <-chan []byte { return s.recv }

// Sent returns the bytes of a recent request (the last few rids), for
// tests that inspect or replay exactly what went on the wire.
func (s *Session) Sent(rid uint64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.sent {
		if r.rid == rid && r.raw != nil {
			return r.raw
		}
	}
	return nil
}

func (s *Session) remember(rid uint64, raw []byte) {
	s.sent[rid%sentKeep] = sentRequest{rid, raw}
}

// allocate takes the next rid and key (XEP-0124 §14.1, §15.4, §15.5) and
// builds the request's attributes; it must be called with s.mu held.
func (s *Session) allocate() (rid uint64, key, newkey string, ack uint64) {
	rid = s.nextRID
	s.nextRID++
	if s.keys != nil {
		key, _ = s.keys.Next()
		if s.keys.Remaining() == 0 {
			// K(1) is used now: switch to a fresh sequence (§15.5).
			s.keys = newRandomKeyChain(s.cfg.KeyCount)
			newkey, _ = s.keys.Next()
		}
	}
	if s.cfg.Ack && s.cursor < rid {
		// Highest rid answered with all lower ones answered (§9.2);
		// omitted when every earlier request has its answer.
		ack = s.cursor - 1
	}
	s.inflight++
	return
}

// Send sends stanzas in one request with the next rid (XEP-0124 §8) and
// hands the answer's payloads to the receive path in rid order. It
// returns when the answer has arrived, which with hold=1 happens when the
// CM has data or another request (Run's next poll) arrives. It waits for
// a free request slot: at most min(requests, hold+1) requests of Run and
// Send are in flight, like Strophe.js's two.
func (s *Session) Send(ctx context.Context, stanzas ...[]byte) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	fl, err := s.begin(stanzas, nil, false)
	if err != nil {
		return err
	}
	b, deliver, err := s.exchange(ctx, fl, nil)
	s.complete(fl.rid, streamOf(b), deliver)
	return err
}

// Run keeps a request waiting at the CM at all times, so that stanzas
// arrive as soon as the server sends them (XEP-0124 §8, §10): an empty
// poll is sent each time the previous one is answered. The stanzas of an
// answer are delivered once the next poll is on the wire, so that a Send
// reacting to them always carries a higher rid than that poll and reaches
// the CM after it (with Config.HTTPClient set this cannot be arranged and
// they are delivered first). In a polling session (see Polling) an empty
// answer is followed by a pause of 'polling' seconds (§12). Failed
// requests are resent with the same rid (see Config.MaxRetries). Run returns when the session ends (its Err) or ctx
// is done; call it after Login.
func (s *Session) Run(ctx context.Context) error {
	polling := s.Polling()
	var prev func() // delivers the previous answer
	defer func() {
		if prev != nil {
			prev()
		}
	}()
	for {
		if err := s.acquire(ctx); err != nil {
			return err
		}
		if s.target == nil && prev != nil {
			prev()
			prev = nil
		}
		fl, err := s.begin(nil, nil, false)
		if err != nil {
			s.release()
			return err
		}
		fl.afterWrite, prev = prev, nil
		b, deliver, err := s.exchange(ctx, fl, nil)
		s.release()
		rid := fl.rid
		stream := streamOf(b)
		prev = func() { s.complete(rid, stream, deliver) }
		if err != nil {
			return err
		}
		if polling && len(b.Payloads) == 0 {
			prev()
			prev = nil
			if err := s.sleep(ctx, s.pollPause()); err != nil {
				return err
			}
		}
	}
}

// Polling reports whether the CM made this a polling session (XEP-0124
// §12): it said hold='0' or wait='0', or allows one request at a time.
// Such a session must leave 'polling' seconds between two empty requests
// when the first was answered without payloads, or the CM ends it with
// policy-violation.
func (s *Session) Polling() bool {
	a := s.CreateResponse.Attrs
	return a["hold"] == "0" || a["wait"] == "0" || s.Params.Requests == 1
}

// pollPause is the pause after an empty answer in a polling session: the
// CM's 'polling' (XEP-0124 §12) and a margin for clock granularity.
func (s *Session) pollPause() time.Duration {
	return time.Duration(s.Params.Polling)*time.Second + 100*time.Millisecond
}

// begin takes the turn to write a new request (requests go on the wire in
// rid order, see written) and the next rid and key, and builds the
// request: the hot-path wrapper, or with attrs the general one. closing
// marks the session as terminating in the same step, so that no poll
// follows a terminate request.
func (s *Session) begin(payloads [][]byte, attrs map[string]string, closing bool) (*flight, error) {
	s.wmu.Lock()
	s.mu.Lock()
	if err := s.stopping(); err != nil {
		s.mu.Unlock()
		s.wmu.Unlock()
		return nil, err
	}
	s.closing = s.closing || closing
	rid, key, newkey, ack := s.allocate()
	var raw []byte
	if attrs == nil {
		raw = appendRequest(make([]byte, 0, requestSize(s.SID, payloads)), rid, s.SID, key, newkey, ack, payloads)
	} else {
		base := s.baseAttrs(strconv.FormatUint(rid, 10), key, newkey, ack)
		raw = AppendBody(nil, mergeAttrs(base, attrs), payloads...)
	}
	s.remember(rid, raw)
	s.mu.Unlock()
	fl := &flight{rid: rid, raw: raw}
	fl.ordered.Store(true)
	return fl, nil
}

// written ends fl's turn to write once its request is on the wire (or
// its first attempt failed); it may run on net/http's goroutine.
func (s *Session) written(fl *flight) {
	if fl.ordered.CompareAndSwap(true, false) {
		s.lastWrite = time.Now()
		s.wmu.Unlock()
	}
}

// finishWrite ends the write turn and runs the after-write hook, once.
func (s *Session) finishWrite(fl *flight) {
	s.written(fl)
	if f := fl.afterWrite; f != nil {
		fl.afterWrite = nil
		f()
	}
}

// stopping returns the error that forbids a new request; s.mu held.
func (s *Session) stopping() error {
	if s.err != nil {
		return s.err
	}
	if s.closing {
		return ErrClosed
	}
	return nil
}

func (s *Session) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.Err()
	}
}

func (s *Session) release() { <-s.slots }

func (s *Session) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.Err()
	}
}

// Request sends one request with the next rid, the session's sid and key
// (and ack), plus attrs, and returns the answer: the low-level tool for
// protocol tests. An attrs value replaces the generated attribute of that
// name ("" removes it: {"key": ""} sends no key), other attrs are added
// ({"pause": "30"}, {"type": "terminate"}). With attrs["rid"] set the
// request is sent as is, once, outside the rid sequence. The answer's
// payloads are returned, not delivered to Receive. A type='terminate'
// answer ends the session and is returned with a *TerminateError.
func (s *Session) Request(ctx context.Context, attrs map[string]string, payloads ...[]byte) (*Body, error) {
	if r, ok := attrs["rid"]; ok {
		s.mu.Lock()
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		base := s.baseAttrs(r, "", "", 0)
		raw := AppendBody(nil, mergeAttrs(base, attrs), payloads...)
		if rid, err := strconv.ParseUint(r, 10, 64); err == nil {
			s.remember(rid, raw)
		}
		s.mu.Unlock()
		return s.once(ctx, raw)
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	fl, err := s.begin(payloads, attrs, false)
	if err != nil {
		return nil, err
	}
	b, _, err := s.exchange(ctx, fl, keepAll)
	s.complete(fl.rid, "", nil)
	return b, err
}

// baseAttrs are the attributes of a request.
func (s *Session) baseAttrs(rid, key, newkey string, ack uint64) []Attr {
	a := make([]Attr, 0, 8)
	a = append(a, Attr{"rid", rid}, Attr{"sid", s.SID})
	if key != "" {
		a = append(a, Attr{"key", key})
	}
	if newkey != "" {
		a = append(a, Attr{"newkey", newkey})
	}
	if ack != 0 {
		a = append(a, Attr{"ack", strconv.FormatUint(ack, 10)})
	}
	return a
}

// Resend sends again, byte for byte and once, the request that carried rid
// (one of the last few; see Sent), as a client does after a broken
// connection (XEP-0124 §14.3), and returns the answer without delivering
// it. A type='terminate' answer ends the session.
func (s *Session) Resend(ctx context.Context, rid uint64) (*Body, error) {
	raw := s.Sent(rid)
	if raw == nil {
		return nil, fmt.Errorf("client: no request with rid %d kept for resending", rid)
	}
	return s.once(ctx, raw)
}

// once posts raw a single time, outside the rid sequence.
func (s *Session) once(ctx context.Context, raw []byte) (*Body, error) {
	b, err := s.attempt(ctx, &flight{raw: raw})
	if err != nil {
		return b, err
	}
	if b.Type() == "terminate" {
		te := &TerminateError{Condition: b.Condition(), Body: b}
		s.end(te)
		return b, te
	}
	return b, nil
}

// attempt sends fl's request once, through the pool or net/http.
func (s *Session) attempt(ctx context.Context, fl *flight) (*Body, error) {
	if s.target != nil {
		return s.pool.do(ctx, s.target, fl.raw, s.cfg.MaxBodySize, func() { s.finishWrite(fl) })
	}
	var hook func()
	if fl.ordered.Load() {
		hook = func() { s.written(fl) }
	}
	return post(ctx, s.cfg.HTTPClient, s.cfg.URL, s.cfg.Content, s.cfg.Header, fl.raw, s.cfg.MaxBodySize, hook)
}

// Close ends the session (XEP-0124 §13): a type='terminate' request with
// the payloads (typically an unavailable presence, which the CM forwards
// before closing), sent even when all request slots are taken (§11 allows
// one extra request to terminate). Run then stops, and Err returns
// ErrClosed. Payloads in the answers still reach Receive.
func (s *Session) Close(ctx context.Context, payloads ...[]byte) error {
	fl, err := s.begin(payloads, map[string]string{"type": "terminate"}, true)
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return nil
		}
		return err
	}
	b, deliver, err := s.exchange(ctx, fl, nil)
	s.complete(fl.rid, streamOf(b), deliver)
	s.end(ErrClosed)
	if err == nil || errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// keepAll keeps every payload for the caller (nothing is delivered).
func keepAll([]byte) bool { return true }

// exchange sends an allocated rid, retrying as needed: payloads for
// which keep returns true are returned in the Body only, the others are
// returned in deliver, for the caller to pass to complete (every allocated
// rid must be completed exactly once). A terminal answer ends the session;
// so do an HTTP error status, a malformed answer and exhausted retries.
func (s *Session) exchange(ctx context.Context, fl *flight, keep func([]byte) bool) (b *Body, deliver [][]byte, err error) {
	s.mu.Lock()
	s.flights = append(s.flights, fl)
	s.mu.Unlock()
	b, err = s.roundTrip(ctx, fl)
	s.mu.Lock()
	for i, f := range s.flights {
		if f == fl {
			s.flights = append(s.flights[:i], s.flights[i+1:]...)
			break
		}
	}
	s.mu.Unlock()

	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; the session lives on.
			return b, nil, err
		}
		s.end(err) // no-op when the session had already ended
		return b, nil, s.Err()
	}
	if r, ok := b.Uint("report"); ok {
		s.resendRIDs(func(f uint64) bool { return f == r })
	}
	terminal := b.Type() == "terminate"
	if name := b.Attrs["stream"]; terminal && name != "" {
		// XEP-0124 §16.6: the end of that stream only; without a
		// condition, the answer to the client's own CloseStream (§16.5).
		var why error = ErrClosed
		if c := b.Condition(); c != "" {
			why = &TerminateError{Condition: c, Body: b}
		}
		s.streamEnded(name, why)
		terminal = false
	}
	for _, p := range b.Payloads {
		if keep != nil && keep(p) {
			continue
		}
		if terminal && localName(p) == "error" {
			continue // the <stream:error/> copy stays in the TerminateError
		}
		deliver = append(deliver, p)
	}
	if terminal {
		te := &TerminateError{Condition: b.Condition(), Body: b}
		s.endAt(te, fl.rid)
		return b, deliver, s.Err()
	}
	return b, deliver, nil
}

// roundTrip posts fl.raw until it gets an answer, resending the same
// bytes after a network error, an attempt timeout, an HTTP 5xx or a
// recoverable binding error (XEP-0124 §14.3, §17.3), at most
// cfg.MaxRetries times.
func (s *Session) roundTrip(ctx context.Context, fl *flight) (*Body, error) {
	defer s.finishWrite(fl)
	if gap := s.cfg.WriteGap; gap > 0 && fl.ordered.Load() {
		// The previous new request may still be on its way to the CM;
		// give it a head start (see Config.WriteGap).
		if d := time.Until(s.lastWrite.Add(gap)); d > 0 {
			if err := s.sleep(ctx, d); err != nil {
				return nil, err
			}
		}
	}
	failures := 0
	for {
		actx, cancel := context.WithCancelCause(ctx)
		tctx, tcancel := context.WithTimeout(actx, s.timeout)
		s.mu.Lock()
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			tcancel()
			cancel(nil)
			return nil, err
		}
		fl.cancel = cancel
		s.mu.Unlock()

		b, err := s.attempt(tctx, fl)
		s.finishWrite(fl) // retries are not ordered: their rid is already known

		s.mu.Lock()
		fl.cancel = nil
		s.mu.Unlock()
		cause := context.Cause(actx)
		timedOut := tctx.Err() != nil && actx.Err() == nil
		tcancel()
		cancel(nil)

		if err == nil {
			if b.Type() != "error" {
				return b, nil
			}
			// Recoverable binding condition: resend this request and
			// every earlier unanswered one (§17.3).
			s.resendRIDs(func(r uint64) bool { return r < fl.rid })
			err = fmt.Errorf("client: rid %d: recoverable binding error", fl.rid)
		} else {
			var he *HTTPError
			switch {
			case errors.As(err, &he):
				if he.Status < 500 {
					return b, err // 4xx: the session is void (§17.1)
				}
			case errors.Is(err, ErrMalformed):
				return b, err
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case cause == errEnded:
				if e := s.Err(); e != nil {
					return nil, e
				}
				return nil, errEnded
			case cause == errResend:
				if failures++; failures > s.cfg.MaxRetries {
					return nil, fmt.Errorf("client: rid %d: giving up after %d resends", fl.rid, failures)
				}
				continue
			case timedOut:
				err = fmt.Errorf("client: rid %d: no answer within %v: %w", fl.rid, s.timeout, err)
			}
		}
		if failures++; failures > s.cfg.MaxRetries {
			return b, fmt.Errorf("client: rid %d: giving up after %d attempts: %w", fl.rid, failures, err)
		}
		if b == nil || b.Type() != "error" {
			if err := s.sleep(ctx, s.backoff(failures)); err != nil {
				return nil, err
			}
		}
	}
}

func (s *Session) backoff(n int) time.Duration {
	if s.cfg.Backoff != nil {
		return s.cfg.Backoff(n)
	}
	d := time.Duration(n*n*n) * time.Second
	return min(d, s.timeout*10/11+time.Second)
}

// resendRIDs aborts the running attempts of the flights whose rid matches,
// so that they are sent again.
func (s *Session) resendRIDs(match func(uint64) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.flights {
		if match(f.rid) && f.cancel != nil {
			f.cancel(errResend)
		}
	}
}

// end ends the session with err, aborting every request in flight.
func (s *Session) end(err error) { s.endAt(err, 0) }

// endAt ends the session with err after the answer to rid: requests with
// a higher rid are aborted now, lower ones get endGrace to bring their
// answers, which the CM sent first (XEP-0124 §8: answers in rid order).
func (s *Session) endAt(err error, rid uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	var te *TerminateError
	if s.closing && errors.As(err, &te) && (te.Condition == "" || te.Condition == "other-request") {
		// Our own terminate request ended the session: the CM answers it,
		// or the oldest held request, with type='terminate' (§13), and
		// other held requests with other-request (§17.2; ejabberd).
		err = ErrClosed
	}
	s.err = err
	close(s.done)
	var older []*flight
	for _, f := range s.flights {
		if f.rid > rid || rid == 0 {
			if f.cancel != nil {
				f.cancel(errEnded)
			}
		} else if f.rid < rid {
			older = append(older, f)
		}
	}
	if len(older) > 0 {
		time.AfterFunc(endGrace, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, f := range older {
				if f.cancel != nil {
					f.cancel(errEnded)
				}
			}
		})
	}
	s.maybeCloseRecv()
}

// complete records the answer to an allocated rid and delivers, in rid
// order, every answer whose turn has come (XEP-0124 §8: the client
// processes answers in rid order even when they arrive out of order). One
// goroutine at a time delivers; the others leave their answer and go, so
// a stanza callback may call Send without deadlock.
func (s *Session) complete(rid uint64, stream string, payloads [][]byte) {
	s.mu.Lock()
	s.inflight--
	if rid >= s.cursor {
		s.pending = append(s.pending, answer{rid, stream, payloads})
	}
	if s.delivering {
		s.mu.Unlock()
		return
	}
	s.delivering = true
	for {
		i := -1
		for j, a := range s.pending {
			if a.rid == s.cursor {
				i = j
				break
			}
		}
		if i < 0 {
			break
		}
		ps, stream := s.pending[i].payloads, s.pending[i].stream
		s.pending = append(s.pending[:i], s.pending[i+1:]...)
		s.cursor++
		if len(ps) == 0 {
			continue
		}
		s.mu.Unlock()
		for _, p := range ps {
			if s.cfg.OnStreamStanza != nil {
				s.cfg.OnStreamStanza(s, stream, p)
			} else if s.cfg.OnStanza != nil {
				s.cfg.OnStanza(s, p)
			} else {
				s.recv <- p
			}
		}
		s.mu.Lock()
	}
	s.delivering = false
	s.maybeCloseRecv()
	s.mu.Unlock()
}

// maybeCloseRecv closes Receive once the session has ended and nothing is
// left to deliver; s.mu held.
func (s *Session) maybeCloseRecv() {
	if s.err != nil && s.inflight == 0 && !s.delivering && s.recv != nil && !s.recvClosed {
		s.recvClosed = true
		close(s.recv)
	}
}
