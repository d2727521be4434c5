package relay

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrTooManySessions and ErrTooManyForAddress are returned by
// [Registry.Reserve] when a limit is reached; ErrShuttingDown once
// [Registry.Close] has been called. Front ends answer them with their
// protocol's refusal (XEP-0124 §17.2 policy-violation or system-shutdown).
var (
	ErrTooManySessions   = errors.New("relay: too many sessions")
	ErrTooManyForAddress = errors.New("relay: too many sessions from this address")
	ErrShuttingDown      = errors.New("relay: shutting down")
	// ErrDraining: Drain was called; existing sessions go on, new ones
	// are refused (front ends answer as for ErrShuttingDown).
	ErrDraining = errors.New("relay: draining, not accepting new sessions")
)

// Registry is the table of live sessions of one front end, keyed by an
// unguessable ID, with limits on their number overall and per client
// address. V is the front end's session type. The zero value is not
// usable; call NewRegistry.
type Registry[V any] struct {
	maxTotal, maxPerAddr int
	// counter, when set, is shared between registries so that the total
	// limit covers every front end.
	counter *Counter

	opt options
	// stop is cancelled by Close, so that upstream dials in progress
	// (DialContext) give up when the front end shuts down.
	stop       context.Context
	cancelDial context.CancelFunc

	mu       sync.Mutex
	sessions map[string]entry[V]
	closed   bool
	draining bool

	// retiring counts the goroutines stopping ended sessions' upstream
	// streams, so that Shutdown can wait for them; drained, when set, is
	// closed when the count drops to zero. Both are guarded by mu: a
	// session may retire while Shutdown waits, which a WaitGroup forbids.
	retiring int
	drained  chan struct{}
}

type entry[V any] struct {
	v      V
	addr   string
	domain string // set by Opened
	opened bool   // Opened was called: the Observer heard SessionCreated
}

// Counter counts sessions across every registry that shares it, so that
// one limit covers all front ends.
type Counter struct {
	mu      sync.Mutex
	total   int
	perAddr map[string]int
}

// NewCounter returns an empty shared counter.
func NewCounter() *Counter { return &Counter{perAddr: make(map[string]int)} }

// Total returns the number of sessions counted.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// NewRegistry returns an empty registry. maxTotal and maxPerAddr of 0 mean
// no limit; counter may be nil (the registry then counts only its own).
// opts name the transport, replace the ID source, add an Observer.
func NewRegistry[V any](maxTotal, maxPerAddr int, counter *Counter, opts ...Option) *Registry[V] {
	if counter == nil {
		counter = NewCounter()
	}
	g := &Registry[V]{
		maxTotal:   maxTotal,
		maxPerAddr: maxPerAddr,
		counter:    counter,
		sessions:   make(map[string]entry[V]),
	}
	g.opt.newID = NewID
	g.stop, g.cancelDial = context.WithCancel(context.Background())
	for _, o := range opts {
		o(&g.opt)
	}
	return g
}

// DialContext returns ctx bounded by timeout and cancelled when the
// registry closes (Shutdown): an upstream dial in progress for a session
// being created gives up at once, so that its creation request can be
// answered (system-shutdown) instead of dropped. Call cancel when the dial
// is over.
func (g *Registry[V]) DialContext(ctx context.Context, timeout time.Duration) (dctx context.Context, cancel context.CancelFunc) {
	dctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	stop := context.AfterFunc(g.stop, cancelTimeout)
	return dctx, func() {
		stop()
		cancelTimeout()
	}
}

// Closed reports whether Close (or Shutdown) has been called: new
// sessions are refused and dials are being cancelled.
func (g *Registry[V]) Closed() bool { return g.stop.Err() != nil }

// Drain refuses every later Reserve with ErrDraining while the sessions
// registered (and reservations taken) go on: a node leaving a cluster
// lets its sessions end by themselves.
func (g *Registry[V]) Drain() {
	g.mu.Lock()
	g.draining = true
	g.mu.Unlock()
}

// Reservation holds a place in the limits while a session is being set up
// (the upstream dial can take seconds). Exactly one of Commit or Cancel must
// be called.
type Reservation[V any] struct {
	reg  *Registry[V]
	addr string
	done bool
}

// Reserve takes a place for a new session from addr, or says which limit
// stops it.
func (g *Registry[V]) Reserve(addr string) (*Reservation[V], error) {
	g.mu.Lock()
	closed, draining := g.closed, g.draining
	g.mu.Unlock()
	if closed {
		return nil, ErrShuttingDown
	}
	if draining {
		return nil, ErrDraining
	}
	c := g.counter
	c.mu.Lock()
	defer c.mu.Unlock()
	if g.maxTotal > 0 && c.total >= g.maxTotal {
		return nil, ErrTooManySessions
	}
	if g.maxPerAddr > 0 && c.perAddr[addr] >= g.maxPerAddr && (g.opt.exempt == nil || !g.opt.exempt(addr)) {
		return nil, ErrTooManyForAddress
	}
	c.total++
	c.perAddr[addr]++
	return &Reservation[V]{reg: g, addr: addr}, nil
}

// Commit registers v under a new random ID and returns the ID. It fails
// only when the registry was closed meanwhile (the place is then released).
func (r *Reservation[V]) Commit(v V) (string, error) {
	if r.done {
		return "", errors.New("relay: reservation used twice")
	}
	r.done = true
	g := r.reg
	return g.commit(r.addr, v)
}

// Opened records that the session id, registered by Commit, has its
// upstream stream to domain open: the Observer hears SessionCreated now,
// and SessionEnded with the same domain when the session is retired. A
// session never opened (refused, or ended while dialing) is neither.
func (g *Registry[V]) Opened(id, domain string) {
	g.mu.Lock()
	e, ok := g.sessions[id]
	if ok && !e.opened {
		e.domain, e.opened = domain, true
		g.sessions[id] = e
	}
	g.mu.Unlock()
	if ok && g.opt.obs != nil {
		g.opt.obs.SessionCreated(g.opt.transport, domain)
	}
}

func (g *Registry[V]) commit(addr string, v V) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.release(addr)
		return "", ErrShuttingDown
	}
	for {
		id := g.opt.newID()
		if _, taken := g.sessions[id]; taken {
			continue
		}
		g.sessions[id] = entry[V]{v: v, addr: addr}
		return id, nil
	}
}

// Cancel gives the place back.
func (r *Reservation[V]) Cancel() {
	if r.done {
		return
	}
	r.done = true
	r.reg.release(r.addr)
}

func (g *Registry[V]) release(addr string) {
	c := g.counter
	c.mu.Lock()
	c.total--
	if n := c.perAddr[addr] - 1; n > 0 {
		c.perAddr[addr] = n
	} else {
		delete(c.perAddr, addr)
	}
	c.mu.Unlock()
}

// Get returns the session registered under id.
func (g *Registry[V]) Get(id string) (V, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.sessions[id]
	return e.v, ok
}

// Remove forgets id and releases its place; removing an unknown ID does nothing.
func (g *Registry[V]) Remove(id string) {
	g.mu.Lock()
	e, ok := g.sessions[id]
	if ok {
		delete(g.sessions, id)
	}
	g.mu.Unlock()
	if ok {
		g.release(e.addr)
	}
}

// Retire forgets id and runs stop (closing the session's upstream stream,
// which waits briefly for the server) in a goroutine the registry owns:
// Shutdown waits for it. It is RetireWith without a condition.
func (g *Registry[V]) Retire(id string, stop func()) { g.RetireWith(id, "", stop) }

// RetireWith is Retire telling the Observer why the session ended (see
// Observer.SessionEnded), if it was Opened.
func (g *Registry[V]) RetireWith(id, condition string, stop func()) {
	// Removing and counting happen in one critical section: Shutdown,
	// which looks at both under mu, sees the session either live or
	// stopping, never neither.
	g.mu.Lock()
	e, ok := g.sessions[id]
	if ok {
		delete(g.sessions, id)
	}
	if stop != nil {
		g.retiring++
	}
	g.mu.Unlock()
	if ok {
		g.release(e.addr)
		if e.opened && g.opt.obs != nil {
			g.opt.obs.SessionEnded(g.opt.transport, e.domain, condition)
		}
	}
	if stop == nil {
		return
	}
	go func() {
		defer g.retired()
		stop()
	}()
}

// Background runs stop (work of a live session no request should wait
// for: closing one upstream stream, which waits briefly for the server,
// or dialling a new one) in a goroutine the registry owns: Shutdown waits
// for it as for a retired session's.
func (g *Registry[V]) Background(stop func()) {
	g.mu.Lock()
	g.retiring++
	g.mu.Unlock()
	go func() {
		defer g.retired()
		stop()
	}()
}

// retired records the end of one goroutine started by Retire.
func (g *Registry[V]) retired() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.retiring--
	if g.retiring == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
}

// idle returns a channel that is closed once no retired session is still
// stopping.
func (g *Registry[V]) idle() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retiring == 0 {
		done := make(chan struct{})
		close(done)
		return done
	}
	if g.drained == nil {
		g.drained = make(chan struct{})
	}
	return g.drained
}

// Shutdown refuses new sessions, calls end on every live session (which
// answers its waiting requests and retires it), and waits until every
// retired session has stopped, or ctx is done.
func (g *Registry[V]) Shutdown(ctx context.Context, end func(V)) error {
	for _, v := range g.Close() {
		end(v)
	}
	select {
	case <-g.idle():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("relay: shutdown: %w", ctx.Err())
	}
}

// Len returns the number of registered sessions.
func (g *Registry[V]) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Close refuses every later Reserve and Commit and returns the sessions
// registered now, for the caller to end.
func (g *Registry[V]) Close() []V {
	g.cancelDial()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	out := make([]V, 0, len(g.sessions))
	for _, e := range g.sessions {
		out = append(out, e.v)
	}
	return out
}

// NewID returns 128 random bits, URL-safe base64 encoded: unpredictable and,
// in practice, never repeated (XEP-0124 §7.2 and §19.3).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("relay: crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Busiest returns the most sessions counted for one client address, the
// use of the per-address limit (/status).
func (c *Counter) Busiest() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.perAddr {
		n = max(n, v)
	}
	return n
}

// SetLimits changes the limits for sessions reserved from now on (a
// configuration reload); live sessions over a lowered limit go on.
func (g *Registry[V]) SetLimits(maxTotal, maxPerAddr int) {
	g.counter.mu.Lock()
	g.maxTotal, g.maxPerAddr = maxTotal, maxPerAddr
	g.counter.mu.Unlock()
}
