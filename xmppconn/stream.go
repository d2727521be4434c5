package xmppconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned (wrapped) by Send, Restart and Next once Close has
// been called.
var ErrClosed = errors.New("xmppconn: stream closed")

// Stream is one upstream XML stream. Send and Restart may be called from any
// goroutine; Next and TryNext from one reader at a time; Close from any,
// more than once.
//
// A Stream starts no goroutine. Its memory while idle is the connection
// and, with TLS, crypto/tls's record buffers and the splitter's small
// buffer; without TLS, a stream with nothing pending waits for the server
// without any read buffer (elements larger than a few KiB grow the buffer
// only while they are read), and, read with TryNext and a Poller, without
// a goroutine.
type Stream struct {
	conn   net.Conn // *tls.Conn after STARTTLS; fixed once Open returns
	raw    net.Conn // the TCP connection
	addr   string   // the server's address, for errors
	params StreamParams
	secure bool
	hdr    []byte // our stream header, without the XML declaration

	features []byte

	writeTimeout time.Duration
	closeTimeout time.Duration

	mu     sync.Mutex // guards header
	header Header

	wmu    sync.Mutex // serialises writes
	closed bool       // guarded by wmu

	// rmu is held by Next (and by Close while it drains the server's last
	// bytes instead of a reader). The fields below are guarded by it.
	rmu     sync.Mutex
	sp      Splitter
	ahead   Element // an element Ready found, returned by the next Next
	isAhead bool    // ahead is set
	readErr error   // the last read's error, returned once the splitter is empty
	done    error   // returned by every Next after the stream ended

	closing    atomic.Bool   // Close was called: read failures are ErrClosed
	remoteDone chan struct{} // closed when the reader saw the stream end
	remoteOnce sync.Once
	closeOnce  sync.Once
	closeErr   error

	poll pollReg // guarded by the mu of the Poller watching the stream
}

func newStream(conn net.Conn, p StreamParams, d *Dialer) *Stream {
	return &Stream{
		conn:         conn,
		raw:          conn,
		addr:         conn.RemoteAddr().String(),
		params:       p,
		hdr:          appendHeader(nil, p),
		writeTimeout: orDefault(d.WriteTimeout, DefaultWriteTimeout),
		closeTimeout: orDefault(d.CloseTimeout, DefaultCloseTimeout),
		sp:           Splitter{MaxElementBytes: d.MaxElementBytes, MaxDepth: d.MaxDepth},
		remoteDone:   make(chan struct{}),
	}
}

// negotiate runs the stream set-up of Open: header, features, and
// STARTTLS followed by a new header and features when the policy says so.
func (s *Stream) negotiate(ctx context.Context, d *Dialer) error {
	if err := s.open(); err != nil {
		return err
	}
	offered := false
	if s.features != nil {
		rest, ok, err := clientFeatures(s.features)
		if err != nil {
			return err
		}
		s.features, offered = rest, ok
	}
	switch {
	case d.TLS == TLSOff:
	case offered:
		if err := s.startTLS(ctx, d); err != nil {
			return err
		}
		if err := s.open(); err != nil {
			return fmt.Errorf("after starttls: %w", err)
		}
		if s.features != nil {
			rest, _, err := clientFeatures(s.features)
			if err != nil {
				return err
			}
			s.features = rest
		}
	case d.TLS == TLSRequired:
		if s.features == nil {
			return errors.New("starttls required, but the stream is pre-1.0 and has no features")
		}
		return errors.New("starttls required, but the server does not offer it")
	}
	return nil
}

// open sends our stream header and reads the server's header and, for a
// version 1.0 stream (RFC 6120 §4.7.5), its features.
func (s *Stream) open() error {
	if _, err := s.conn.Write(append([]byte(xmlDecl), s.hdr...)); err != nil {
		return fmt.Errorf("sending stream header: %w", err)
	}
	el, err := s.next()
	if err != nil {
		return err
	}
	switch el.Kind {
	case KindHeader:
	case KindError:
		return newStreamError(el.Raw)
	default:
		return fmt.Errorf("expected a stream header, got %s %.100q", el.Kind, el.Raw)
	}
	h, err := ParseHeader(el.Raw)
	if err != nil {
		return err
	}
	s.header = h
	s.features = nil
	if majorVersion(s.params.Version) < 1 || majorVersion(h.Version) < 1 {
		return nil // pre-1.0: no features follow
	}
	el, err = s.next()
	if err != nil {
		return err
	}
	switch el.Kind {
	case KindFeatures:
		s.features = el.Raw
		return nil
	case KindError:
		return newStreamError(el.Raw)
	}
	return fmt.Errorf("expected <stream:features/>, got %s %.100q", el.Kind, el.Raw)
}

// errWouldBlock is next's answer, with wait false, when nothing is
// buffered and a plain TCP connection has nothing to read now.
var errWouldBlock = errors.New("xmppconn: nothing to read now")

// next returns the next element, reading as needed. The caller holds rmu
// (or is Open, before anyone else has the stream).
func (s *Stream) next() (Element, error) { return s.nextOr(true) }

// nextOr is next; with wait false it returns errWouldBlock instead of
// waiting for an idle plain TCP connection (see TryNext).
func (s *Stream) nextOr(wait bool) (Element, error) {
	for {
		el, ok, err := s.sp.Next()
		if err != nil {
			return Element{}, err
		}
		if ok {
			return el, nil
		}
		if s.readErr != nil {
			return Element{}, s.readErr
		}
		used := false
		if s.conn == s.raw {
			_, used, err = s.sp.fillIdle(s.raw, wait)
			if err == errWouldBlock {
				return Element{}, err
			}
		}
		if !used {
			_, err = s.sp.fill(s.conn)
		}
		if err != nil {
			switch {
			case s.closing.Load():
				err = ErrClosed
			case errors.Is(err, io.EOF):
				err = fmt.Errorf("connection closed without </stream:stream>: %w", io.ErrUnexpectedEOF)
			}
			s.readErr = fmt.Errorf("reading: %w", err)
		}
	}
}

// Header returns the header of the current stream: the one read by Open,
// or, after a restart, the last KindHeader that Next returned.
func (s *Stream) Header() Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header
}

// Features returns the <stream:features/> received by Open, byte-exact but
// without <starttls/> (XEP-0206 §4). It is nil for a pre-1.0 stream.
func (s *Stream) Features() []byte { return s.features }

// Secure reports whether the upstream connection is encrypted (XEP-0124
// §7.1 'secure').
func (s *Stream) Secure() bool { return s.secure }

// CloseTimeout returns how long Close waits for the server (the Dialer's
// CloseTimeout).
func (s *Stream) CloseTimeout() time.Duration { return s.closeTimeout }

// Addr returns the address of the server the stream is connected to.
func (s *Stream) Addr() string { return s.addr }

// Send writes p (one or more complete elements) to the server. A write that
// does not complete within the Dialer's WriteTimeout fails.
func (s *Stream) Send(p []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.write(p)
}

// Restart sends a new stream header over the same connection (XEP-0206 §5,
// RFC 6120 §4.3.3), without an XML declaration. The reader then yields a
// KindHeader and a KindFeatures element.
func (s *Stream) Restart() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.write(s.hdr)
}

// write writes p with the write deadline; the caller holds wmu.
func (s *Stream) write(p []byte) error {
	if s.closed {
		return fmt.Errorf("xmppconn: writing to %s: %w", s.addr, ErrClosed)
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if s.closing.Load() {
		// Close has begun and may be waiting for this write: it gets no
		// more than Close's own deadline (set after closing, so seen here).
		s.conn.SetWriteDeadline(time.Now().Add(s.closeTimeout))
	}
	if _, err := s.conn.Write(p); err != nil {
		return fmt.Errorf("xmppconn: writing to %s: %w", s.addr, err)
	}
	return nil
}

// Next blocks until the next top-level element arrives. After KindError or
// KindEnd, or when the connection fails or is closed, it returns an error:
// io.EOF after KindEnd, the *StreamError after KindError, an error wrapping
// ErrClosed after Close, ErrTooLarge, ErrTooDeep or ErrNotWellFormed when
// the server breaks the rules, or the connection's error.
//
// A KindHeader (after Restart) also updates Header.
func (s *Stream) Next() (Element, error) {
	el, _, err := s.nextElement(true)
	return el, err
}

// TryNext is Next for a reader that need not wait: when no complete
// element is buffered and the plain TCP connection has nothing to read
// now, it returns ok false at once, holding no read buffer, instead of
// waiting (a [Poller] tells when there is something to read). On a TLS
// stream, or while part of an element is buffered (the rest is on its
// way), it waits as Next does. ok is true whenever err is nil and an
// element is returned.
func (s *Stream) TryNext() (el Element, ok bool, err error) {
	return s.nextElement(false)
}

func (s *Stream) nextElement(wait bool) (Element, bool, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.done != nil {
		return Element{}, false, s.done
	}
	var el Element
	var err error
	if s.isAhead {
		el, s.ahead, s.isAhead = s.ahead, Element{}, false
	} else {
		el, err = s.nextOr(wait)
		if err == errWouldBlock {
			return Element{}, false, nil
		}
	}
	if err != nil {
		err = fmt.Errorf("xmppconn: stream from %s: %w", s.addr, err)
		s.end(err)
		return Element{}, false, err
	}
	switch el.Kind {
	case KindHeader:
		if h, err := ParseHeader(el.Raw); err == nil {
			s.mu.Lock()
			s.header = h
			s.mu.Unlock()
		}
	case KindEnd:
		s.end(io.EOF)
	case KindError:
		s.end(newStreamError(el.Raw))
	}
	return el, true, nil
}

// Ready reports whether Next would return an element without reading from
// the connection: a complete element is already buffered. The reader uses
// it to hand over, at once, everything one read brought (a stanza and the
// <stream:error/> behind it, a header and its features) instead of waking
// its consumer for each element.
func (s *Stream) Ready() bool {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.done != nil || s.isAhead {
		return s.isAhead
	}
	el, ok, err := s.sp.Next()
	if err != nil {
		return true // sticky: Next reports it at once
	}
	if ok {
		s.ahead, s.isAhead = el, true
	}
	return ok
}

// end records that the stream ended with err (rmu held) and lets a waiting
// Close go on.
func (s *Stream) end(err error) {
	s.done = err
	s.remoteOnce.Do(func() { close(s.remoteDone) })
}

// Close ends the stream politely (RFC 6120 §4.4): it writes
// </stream:stream>, waits up to the Dialer's CloseTimeout for the server's
// closing tag (or the connection's end), then closes the connection, which
// unblocks Next. Elements that arrive meanwhile are discarded unless a
// reader is in Next. Close may be called more than once and from any
// goroutine, including the reader's.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Stream) close() error {
	s.closing.Store(true)
	deadline := time.Now().Add(s.closeTimeout)
	if !s.wmu.TryLock() {
		// A write is in progress, maybe stalled on a server that does not
		// read, which would hold wmu until its WriteTimeout: Close cuts it
		// short (net.Conn deadlines may be set during a Write). A caller
		// that wants queued writes to finish waits for them first, as
		// bosh/relay.Relay.Close does.
		s.conn.SetWriteDeadline(time.Now())
		s.wmu.Lock()
	}
	s.closed = true
	s.conn.SetWriteDeadline(deadline)
	_, werr := io.WriteString(s.conn, "</stream:stream>")
	s.wmu.Unlock()
	conn := s.conn
	if werr == nil {
		s.awaitEnd(deadline)
	} else {
		// The server does not read: a TLS close_notify would block too.
		conn = s.raw
	}
	if err := conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("xmppconn: closing stream to %s: %w", s.addr, err)
	}
	return nil
}

// awaitEnd waits until deadline for the server to end its side of the
// stream. When a reader is in Next, that reader will see the end; else
// Close reads (and drops) what is left itself, so it never races a reader.
func (s *Stream) awaitEnd(deadline time.Time) {
	if !s.rmu.TryLock() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-s.remoteDone:
		case <-t.C:
		}
		return
	}
	defer s.rmu.Unlock()
	if s.done != nil || s.isAhead && (s.ahead.Kind == KindEnd || s.ahead.Kind == KindError) {
		return
	}
	s.conn.SetReadDeadline(deadline)
	for {
		el, err := s.next()
		if err != nil || el.Kind == KindEnd || el.Kind == KindError {
			break
		}
	}
	s.end(fmt.Errorf("xmppconn: stream from %s: %w", s.addr, ErrClosed))
}
