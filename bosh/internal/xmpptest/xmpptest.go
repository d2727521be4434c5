// Package xmpptest is a scripted stand-in for an XMPP server, for unit tests
// of edge cases a real server cannot be made to produce on demand (a stream
// error at a chosen moment, a connection dropped mid-session). Proof that
// boshd works with real servers lives in the integration tests.
//
// Each accepted connection answers every stream header with a header and
// the configured features, records every other element the client sends,
// and lets the test push arbitrary bytes to the client.
package xmpptest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"boshd/xmppconn"
)

// DefaultFeatures is what the server offers after each stream header.
const DefaultFeatures = `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`

// Server accepts client streams on a loopback port.
type Server struct {
	Addr     string
	Features string
	// RestartFeaturesDelay, when set before the first connection, makes
	// the server send its features that long after the header of a
	// restarted stream, as a busy server may (two TCP segments).
	RestartFeaturesDelay time.Duration
	// Conns delivers each accepted connection once its first header arrived.
	Conns chan *Conn

	ln   net.Listener
	wg   sync.WaitGroup
	done chan struct{} // closed by Close
	mu   sync.Mutex
	cs   []*Conn
	shut bool // Close was called; guarded by mu
}

// Conn is one client stream as the server sees it.
type Conn struct {
	net.Conn
	// Received delivers each element the client sent (headers included).
	Received chan xmppconn.Element
	ids      int

	mu      sync.Mutex
	stalled chan struct{} // set while the server does not read; closed to resume
}

// Stall makes the server stop reading from the client (as a server does
// whose read shaper throttles a client, or that is overloaded), until the
// returned function is called or the server closes. Pushing to the client
// still works. A read already in progress completes first.
func (c *Conn) Stall() (resume func()) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.stalled = ch
	c.mu.Unlock()
	return sync.OnceFunc(func() {
		c.mu.Lock()
		c.stalled = nil
		c.mu.Unlock()
		close(ch)
	})
}

// waitUnstalled blocks while the connection is stalled; false means the
// server is closing.
func (c *Conn) waitUnstalled(done <-chan struct{}) bool {
	c.mu.Lock()
	ch := c.stalled
	c.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-done:
		return false
	}
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("xmpptest: %v", err)
	}
	s := &Server{Addr: ln.Addr().String(), Features: DefaultFeatures, Conns: make(chan *Conn, 64), ln: ln, done: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// NewPipe returns a server without a listener: its Dial method connects
// over net.Pipe, so that everything stays in memory (and inside a
// testing/synctest bubble). The caller must Close it.
func NewPipe() *Server {
	return &Server{Addr: "pipe:5222", Features: DefaultFeatures, Conns: make(chan *Conn, 64), done: make(chan struct{})}
}

// Dial connects to the server over an in-memory pipe; it fits
// xmppconn.Dialer.DialContext.
func (s *Server) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	if !s.track(server) {
		client.Close()
		return nil, net.ErrClosed
	}
	return client, nil
}

// track starts serving an accepted connection, unless Close has begun
// (then it closes it): every connection Close has not seen is refused, so
// no serve goroutine outlives Close's wait.
func (s *Server) track(nc net.Conn) bool {
	c := &Conn{Conn: nc, Received: make(chan xmppconn.Element, 256)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		nc.Close()
		return false
	}
	s.cs = append(s.cs, c)
	s.wg.Add(1)
	go s.serve(c)
	return true
}

// Close stops the server and every connection, and waits for them.
func (s *Server) Close() {
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Lock()
	if !s.shut {
		s.shut = true
		close(s.done)
	}
	for _, c := range s.cs {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.track(nc)
	}
}

func (s *Server) serve(c *Conn) {
	defer s.wg.Done()
	defer c.Close()
	var sp xmppconn.Splitter
	buf := make([]byte, 4096)
	first := true
	for {
		if !c.waitUnstalled(s.done) {
			close(c.Received)
			return
		}
		n, err := c.Read(buf)
		if err != nil {
			close(c.Received)
			return
		}
		sp.Write(buf[:n])
		for {
			el, ok, err := sp.Next()
			if err != nil {
				close(c.Received)
				return
			}
			if !ok {
				break
			}
			switch el.Kind {
			case xmppconn.KindHeader:
				c.ids++
				header := fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='stream-%d' from='localhost' version='1.0'>", c.ids)
				if !first && s.RestartFeaturesDelay > 0 {
					c.Write([]byte(header))
					time.Sleep(s.RestartFeaturesDelay)
					c.Write([]byte(s.Features))
				} else {
					c.Write([]byte(header + s.Features))
				}
			case xmppconn.KindEnd:
				c.Write([]byte("</stream:stream>"))
			}
			select {
			case c.Received <- el:
			default:
			}
			if el.Kind == xmppconn.KindHeader && first {
				first = false
				select {
				case s.Conns <- c:
				case <-s.done:
				}
			}
		}
	}
}

// Push writes raw bytes to the client.
func (c *Conn) Push(t testing.TB, raw string) {
	t.Helper()
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatalf("xmpptest: push: %v", err)
	}
}

// Next returns the next element the client sent, failing the test after 5s.
func (c *Conn) Next(t testing.TB) xmppconn.Element {
	t.Helper()
	select {
	case el, ok := <-c.Received:
		if !ok {
			t.Fatal("xmpptest: connection closed")
		}
		return el
	case <-time.After(5 * time.Second):
		t.Fatal("xmpptest: nothing received in 5s")
	}
	return xmppconn.Element{}
}

// NextConn returns the next accepted connection, failing after 5s.
func (s *Server) NextConn(t testing.TB) *Conn {
	t.Helper()
	select {
	case c := <-s.Conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("xmpptest: no connection in 5s")
	}
	return nil
}
