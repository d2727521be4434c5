// Package held answers long-held HTTP/1.1 requests (XEP-0124 §8: a BOSH
// connection manager keeps a request open until it has data or 'wait'
// runs out) on connections taken over from net/http, so that a request
// waiting for its answer costs neither a goroutine nor net/http's
// per-connection buffers (docs/benchmarks.md: about 26 KB per held request).
//
// A front end calls Front.Take when it decides to hold a request. Take
// hijacks the connection (http.NewResponseController(w).Hijack); net/http's
// goroutines return and its buffers become garbage. The parked Conn has no
// goroutine: whoever produces the answer (an upstream reader, a wait timer,
// shutdown) calls Conn.Answer, which writes the status line, the headers of
// Conn.Header and the body on a short-lived goroutine of its own, then hands
// a keep-alive connection back to the same http.Server through the
// listener Front.Listener returns (served with srv.Serve), so the next
// request on it gets all of net/http's parsing, limits and timeouts again.
// A connection net/http accepts is new to it, with ReadHeaderTimeout from
// the moment it is accepted; so that a handed-back connection may stay
// idle for the server's IdleTimeout, as net/http allows between two
// requests on one connection, it is handed back only once the client's
// next request begins to arrive (or closed when IdleTimeout runs out).
//
// Take refuses (and the caller keeps holding the net/http way) for HTTP/2,
// which cannot be hijacked, and until the listener is being served.
//
// A client leaving while its request is parked is noticed without a
// goroutine on Linux: one watcher goroutine per Front waits in epoll for
// the peer hanging up on any parked connection and calls the gone
// function given to Take (watch_linux.go). Elsewhere the departure is
// noticed only when the answer is written.
//
// http.Server.Shutdown does not see hijacked connections: the front end
// answers its parked requests, then calls Front.Shutdown, which waits for
// those answers to be written and closes the listener.
package held

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrNotTaken is returned by Take when the request stays with net/http:
// the listener is not being served, or the Front is shutting down.
var ErrNotTaken = errors.New("held: connection not taken over")

// DefaultWriteTimeout bounds the write of one answer when
// Front.WriteTimeout is zero.
const DefaultWriteTimeout = 10 * time.Second

// Front takes held requests' connections over from one http.Server and
// hands keep-alive connections back to it. The zero value is not usable;
// call New.
type Front struct {
	// WriteTimeout bounds the write of one answer (DefaultWriteTimeout
	// when zero); a client that does not read it in time is disconnected.
	WriteTimeout time.Duration

	ln      listener
	serving atomic.Bool // Listener().Accept has been called
	closing atomic.Bool // Shutdown has begun: take nothing, close after answering

	mu      sync.Mutex
	open    int // conns taken and not yet written and handed back or closed
	parked  map[*Conn]struct{}
	idle    map[net.Conn]struct{} // answered, waiting for the next request (awaitNext)
	drained chan struct{}         // closed when open falls to 0, for Shutdown
	w       *watcher              // started with the first conn taken (nil: none yet)
}

// New returns a Front whose listener has not been served yet.
func New() *Front {
	f := &Front{}
	f.ln = listener{f: f, conns: make(chan net.Conn, 64), done: make(chan struct{})}
	return f
}

// Listener returns the listener that yields keep-alive connections handed
// back after their answer. Serve it with the same http.Server whose
// handler calls Take (go srv.Serve(f.Listener())); Take takes nothing
// until it is served.
func (f *Front) Listener() net.Listener { return &f.ln }

// Conn is one held request on a connection taken over from net/http,
// from Take to its Answer. Its methods may be called from any goroutine.
type Conn struct {
	f        *Front
	nc       net.Conn
	hdr      http.Header
	head     bool // a HEAD request: no body is written
	proto10  bool // HTTP/1.0: answer as such
	close    bool // close after the answer (Connection: close, HTTP/1.0)
	answered atomic.Bool
	gone     func()
	idle     time.Duration // the server's IdleTimeout (or ReadTimeout); 0: none
	watchFD  int32         // its descriptor while the watcher has it parked, -1 if not
}

// Take hijacks the connection of r so that its answer can be written later
// by Conn.Answer, from any goroutine, with no goroutine waiting for it.
// hdr holds the headers already set for the answer (w.Header(): CORS,
// Cache-Control, Vary); the Conn keeps it (Conn.Header). gone, if not
// nil, is called at most once when the client hangs up before the
// answer: from the watcher goroutine, or from Take itself, before it
// returns, when the client hung up on the connection before the request
// was parked (so Take's caller must not hold what gone takes). The
// request body must have been read whole.
//
// It returns an error, with w untouched, when the request must be held
// the net/http way: HTTP/2 (http.ErrNotSupported), the listener not yet
// served or the Front shutting down (ErrNotTaken).
func (f *Front) Take(w http.ResponseWriter, r *http.Request, gone func()) (*Conn, error) {
	if r.ProtoMajor != 1 {
		return nil, http.ErrNotSupported
	}
	if !f.serving.Load() || f.closing.Load() {
		return nil, ErrNotTaken
	}
	hdr := w.Header()
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("held: %w", err)
	}
	if n := brw.Reader.Buffered(); n > 0 {
		// A pipelining client already sent its next request: carry those
		// bytes along, so that net/http reads them first when the
		// connection is handed back after this answer.
		pre, _ := brw.Reader.Peek(n)
		nc = &prefixConn{Conn: nc, pre: append([]byte(nil), pre...)}
	}
	c := &Conn{
		f:       f,
		nc:      nc,
		hdr:     hdr,
		head:    r.Method == http.MethodHead,
		proto10: !r.ProtoAtLeast(1, 1),
		close:   r.Close || !r.ProtoAtLeast(1, 1),
		gone:    gone,
		idle:    idleTimeout(r),
		watchFD: -1,
	}
	f.mu.Lock()
	f.open++
	if f.parked == nil {
		f.parked = make(map[*Conn]struct{})
	}
	f.parked[c] = struct{}{}
	if f.w == nil && gone != nil {
		f.w = startWatcher() // nil where unsupported
	}
	w8 := f.w
	f.mu.Unlock()
	if w8 != nil && gone != nil {
		w8.add(c)
	}
	return c, nil
}

// Header is the header map of the answer, to be completed before Answer
// (Content-Type, Content-Length is set by Answer). Do not touch it after
// calling Answer.
func (c *Conn) Header() http.Header { return c.hdr }

// Answer writes the answer (status, Header, a Date and a Content-Length,
// and body) in the background and then hands the connection back to the
// server, or closes it when the request asked for that, the Front is
// shutting down or the write fails. A nil body closes the connection
// without an answer. It never blocks, so it may be called with locks
// held; only the first call counts.
func (c *Conn) Answer(status int, body []byte) {
	if !c.answered.CompareAndSwap(false, true) {
		return
	}
	c.f.mu.Lock()
	delete(c.f.parked, c)
	c.f.mu.Unlock()
	c.f.unwatch(c)
	go c.finish(status, body)
}

// finish runs on its own goroutine, which the Front counts until it ends.
func (c *Conn) finish(status int, body []byte) {
	f := c.f
	if body == nil {
		// Counted done before the close the client sees, so that a client
		// (or test) that sees the end of the connection sees Open without it.
		f.release()
		c.nc.Close()
		return
	}
	defer f.release()
	closing := c.close || f.closing.Load()
	if closing {
		c.hdr.Set("Connection", "close")
	}
	c.hdr.Set("Content-Length", strconv.Itoa(len(body)))
	buf := appendHead(make([]byte, 0, 256+len(body)), status, c.proto10, c.hdr)
	if !c.head {
		buf = append(buf, body...)
	}
	timeout := f.WriteTimeout
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	c.nc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.nc.Write(buf); err != nil || closing {
		c.nc.Close()
		return
	}
	c.nc.SetWriteDeadline(time.Time{})
	if p, ok := c.nc.(*prefixConn); c.idle <= 0 || ok && len(p.pre) > 0 {
		f.ln.requeue(c.nc) // the next request is here already
		return
	}
	f.awaitNext(c.nc, c.idle)
}

// idleTimeout is how long the server that read r lets a keep-alive
// connection wait for its next request (http.Server.IdleTimeout, or
// ReadTimeout when that is zero, as net/http does); 0 when unknown.
func idleTimeout(r *http.Request) time.Duration {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return 0
	}
	if srv.IdleTimeout != 0 {
		return srv.IdleTimeout
	}
	return srv.ReadTimeout
}

// awaitNext hands nc back to the server once the client's next request
// begins to arrive, closing it when none comes within idle (or Shutdown
// begins): net/http's own wait between two requests on a connection,
// before ReadHeaderTimeout starts. It runs on the goroutine of finish,
// which the Front counts until it ends.
func (f *Front) awaitNext(nc net.Conn, idle time.Duration) {
	if p, ok := nc.(*prefixConn); ok && len(p.pre) == 0 {
		nc = p.Conn // its prefix was read: wrap the socket afresh below
	}
	f.mu.Lock()
	if f.closing.Load() {
		f.mu.Unlock()
		nc.Close()
		return
	}
	if f.idle == nil {
		f.idle = make(map[net.Conn]struct{})
	}
	f.idle[nc] = struct{}{}
	f.mu.Unlock()
	nc.SetReadDeadline(time.Now().Add(idle))
	first, err := readArrived(nc)
	f.mu.Lock()
	delete(f.idle, nc)
	f.mu.Unlock()
	if err != nil {
		nc.Close()
		return
	}
	nc.SetReadDeadline(time.Time{})
	f.ln.requeue(&prefixConn{Conn: nc, pre: first})
}

// arrivalBufs are the buffers readArrived reads into: taken only once
// bytes are there, so that a connection waiting for its next request
// holds none.
var arrivalBufs = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// readArrived waits until bytes arrive on nc and returns what one read
// got. On a plain socket (a syscall.Conn: *tls.Conn is not one) that is
// the whole of a usual request, read into a pooled buffer and copied out
// at its size, so net/http finds it all in the prefix and reads the
// socket once less; on anything else it is one byte.
func readArrived(nc net.Conn) ([]byte, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		first := make([]byte, 1)
		_, err := io.ReadFull(nc, first)
		return first, err
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var got []byte
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		bp := arrivalBufs.Get().(*[]byte)
		n, e := syscall.Read(int(fd), *bp)
		for e == syscall.EINTR {
			n, e = syscall.Read(int(fd), *bp)
		}
		switch {
		case e == syscall.EAGAIN:
			arrivalBufs.Put(bp)
			return false // wait for readability
		case e != nil:
			rerr = e
		case n == 0:
			rerr = io.EOF
		default:
			got = append([]byte(nil), (*bp)[:n]...)
		}
		arrivalBufs.Put(bp)
		return true
	})
	if err == nil {
		err = rerr
	}
	return got, err
}

// appendHead appends the status line and the header block, as net/http
// writes them: sorted header fields, a Date.
func appendHead(b []byte, status int, proto10 bool, hdr http.Header) []byte {
	if proto10 {
		b = append(b, "HTTP/1.0 "...)
	} else {
		b = append(b, "HTTP/1.1 "...)
	}
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	bw := appendWriter{b: b}
	hdr.Write(&bw) // sorted, with newlines in values replaced
	return append(bw.b, "\r\n"...)
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

// release counts one taken connection done with.
func (f *Front) release() {
	f.mu.Lock()
	f.open--
	if f.open == 0 && f.drained != nil {
		close(f.drained)
		f.drained = nil
	}
	f.mu.Unlock()
}

// Open reports the connections taken and not yet answered and written,
// or handed back (awaitNext waits for their next request).
func (f *Front) Open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// BeginShutdown makes Take refuse from now on and every answer close its
// connection afterwards. Call it before answering the parked requests
// with system-shutdown (XEP-0124 §17.2), then Shutdown.
func (f *Front) BeginShutdown() { f.closing.Store(true) }

// Shutdown begins shutting down (BeginShutdown), closes the answered
// connections waiting for their next request, waits until every taken
// connection has been answered and its answer written (or ctx ends: the
// connections still parked are then closed unanswered), stops the watcher
// and closes the listener.
func (f *Front) Shutdown(ctx context.Context) error {
	f.BeginShutdown()
	f.mu.Lock()
	for nc := range f.idle {
		nc.SetReadDeadline(time.Now()) // awaitNext closes it
	}
	var ch chan struct{}
	if f.open > 0 {
		if f.drained == nil {
			f.drained = make(chan struct{})
		}
		ch = f.drained
	}
	w := f.w
	f.mu.Unlock()
	var err error
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			err = fmt.Errorf("held: %d connections still parked: %w", f.Open(), ctx.Err())
		}
	}
	if err != nil {
		f.mu.Lock()
		left := make([]*Conn, 0, len(f.parked))
		for c := range f.parked {
			left = append(left, c)
		}
		f.mu.Unlock()
		for _, c := range left {
			c.Answer(0, nil)
		}
	}
	if w != nil {
		w.stop()
	}
	f.ln.Close()
	return err
}

// unwatch tells the watcher c is no longer parked, before its connection
// is closed or handed back, so that a hang-up from now on is not c's.
func (f *Front) unwatch(c *Conn) {
	f.mu.Lock()
	w := f.w
	f.mu.Unlock()
	if w != nil {
		w.remove(c)
	}
}

// listener yields the connections handed back after an answer.
type listener struct {
	f     *Front
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	l.f.serving.Store(true)
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// requeue hands c to the server, or closes it when the listener is closed.
func (l *listener) requeue(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// Close stops Accept; connections answered afterwards are closed.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *listener) Addr() net.Addr { return heldAddr{} }

type heldAddr struct{}

func (heldAddr) Network() string { return "held" }
func (heldAddr) String() string  { return "held-requests" }

// prefixConn is a connection whose first bytes were already read off it
// (a pipelined request, read into net/http's buffer before the hijack).
type prefixConn struct {
	net.Conn
	pre []byte
}

// Read returns the prefix first, then reads the connection. The prefix's
// array is let go once read, since the connection may stay parked for a
// long time.
func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}
