package xmppconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The canned server side of a transcript, in the style of Prosody's
// (see testdata/prosody-c2s.xml).
const (
	clientHeader = "<stream:stream to='example.net' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
	clientOpen   = xmlDecl + clientHeader

	featuresStartTLS = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	featuresSASL     = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	featuresBind     = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind></stream:features>"
	proceed          = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
)

func serverHeader(id string) string {
	return "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' from='example.net' xml:lang='en' xmlns='jabber:client' id='" + id + "' version='1.0'>"
}

// fakeServer is an XMPP server on a loopback port that runs a script on
// every connection it accepts. The test owns it: it stops when the test
// ends, and its goroutines are waited for.
type fakeServer struct {
	addr string

	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newServer(t *testing.T, script func(p *peer)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, conn)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				script(&peer{t: t, conn: conn})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// dialer returns a Dialer that reaches this server for example.net.
func (s *fakeServer) dialer() *Dialer {
	return &Dialer{
		Routes:       map[string][]string{"example.net": {s.addr}},
		Timeout:      5 * time.Second,
		CloseTimeout: 2 * time.Second,
		TLSConfig:    &tls.Config{RootCAs: testPKI().pool},
	}
}

// peer is the server's end of one connection.
type peer struct {
	t    *testing.T
	conn net.Conn
	sp   Splitter
}

// send writes s; a failure is not an error of the test (the client may
// have gone).
func (p *peer) send(s string) {
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	p.conn.Write([]byte(s))
}

// next returns the next element the client sent.
func (p *peer) next() (Element, error) {
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		el, ok, err := p.sp.Next()
		if err != nil || ok {
			return el, err
		}
		if _, err := p.sp.fill(p.conn); err != nil {
			return Element{}, err
		}
	}
}

// expect checks that the client sent exactly raw next.
func (p *peer) expect(raw string) bool {
	p.t.Helper()
	el, err := p.next()
	if err != nil {
		p.t.Errorf("server: waiting for %q: %v", raw, err)
		return false
	}
	if string(el.Raw) != raw {
		p.t.Errorf("server: client sent\n%q\nwant\n%q", el.Raw, raw)
		return false
	}
	return true
}

// open answers the client's stream header with a header and features.
func (p *peer) open(id, features string) bool {
	p.t.Helper()
	if !p.expect(clientOpen) {
		return false
	}
	p.send(serverHeader(id) + features)
	return true
}

// startTLS answers <starttls/> and runs the server's side of the
// handshake with a certificate for names.
func (p *peer) startTLS(names ...string) bool {
	p.t.Helper()
	if !p.expect(startTLSRequest) {
		return false
	}
	p.send(proceed)
	tc := tls.Server(p.conn, &tls.Config{Certificates: []tls.Certificate{testPKI().cert(names...)}})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		return false // the client refused us; the test checks its error
	}
	tc.SetDeadline(time.Time{})
	p.conn = tc
	p.sp = Splitter{}
	return true
}

// drain reads until the client closes its stream, and closes ours too.
func (p *peer) drain() {
	for {
		el, err := p.next()
		if err != nil {
			return
		}
		if el.Kind == KindEnd {
			p.send(streamClose)
			return
		}
	}
}

// ignore reads until the connection closes, answering nothing: a server
// that has stopped responding.
func (p *peer) ignore() {
	for {
		if _, err := p.next(); err != nil {
			return
		}
	}
}

// open is a helper for tests that need an open stream to example.net.
func openStream(t *testing.T, d *Dialer) *Stream {
	t.Helper()
	s, err := d.Open(context.Background(), StreamParams{To: "example.net", Version: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// within fails the test if f takes longer than d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if el := time.Since(start); el > d {
		t.Errorf("%s took %v, want at most %v", what, el, d)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func errIs(err, target error) error {
	if !errors.Is(err, target) {
		return fmt.Errorf("error %v, want %v", err, target)
	}
	return nil
}
