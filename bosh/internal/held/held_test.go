package held

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is an http.Server whose handler parks every POST and answers it
// when the test says so (answer), the way a BOSH front end answers a held
// request from an upstream reader.
type rig struct {
	t      *testing.T
	f      *Front
	srv    *httptest.Server
	parked chan *Conn
	gone   chan struct{}
	other  chan string // requests not parked: method and path
	// lastBody is the length of the last request body the handler read.
	lastBody atomic.Int64
}

// newRig starts the rig's server, after mod (if any) has set its timeouts.
func newRig(t *testing.T, mod ...func(*http.Server)) *rig {
	t.Helper()
	rg := &rig{t: t, f: New(), parked: make(chan *Conn, 8), gone: make(chan struct{}, 8), other: make(chan string, 8)}
	rg.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		rg.lastBody.Store(n)
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path == "/slowhold" {
			time.Sleep(100 * time.Millisecond) // the client may hang up meanwhile
		}
		if r.URL.Path == "/hold" || r.URL.Path == "/slowhold" {
			c, err := rg.f.Take(w, r, func() { rg.gone <- struct{}{} })
			if err == nil {
				rg.parked <- c
				return
			}
		}
		rg.other <- r.Method + " " + r.URL.Path
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "direct")
	}))
	for _, m := range mod {
		m(rg.srv.Config)
	}
	rg.srv.Start()
	done := make(chan struct{})
	go func() { defer close(done); rg.srv.Config.Serve(rg.f.Listener()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		rg.f.Shutdown(ctx)
		rg.srv.Close()
		<-done
	})
	// Take refuses until the listener is served: wait for Serve's Accept.
	deadline := time.Now().Add(2 * time.Second)
	for !rg.f.serving.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return rg
}

// dial opens a raw connection to the rig.
func (rg *rig) dial() (net.Conn, *bufio.Reader) {
	rg.t.Helper()
	c, err := net.Dial("tcp", rg.srv.Listener.Addr().String())
	if err != nil {
		rg.t.Fatal(err)
	}
	rg.t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func (rg *rig) nextParked() *Conn {
	rg.t.Helper()
	select {
	case c := <-rg.parked:
		return c
	case p := <-rg.other:
		rg.t.Fatalf("request %s was not parked", p)
	case <-time.After(5 * time.Second):
		rg.t.Fatal("no request parked")
	}
	return nil
}

// waitGone waits for the gone function of a parked request, failing
// after 5s with what happened.
func (rg *rig) waitGone(what string) {
	rg.t.Helper()
	select {
	case <-rg.gone:
	case <-time.After(5 * time.Second):
		rg.t.Fatalf("%s; gone not called", what)
	}
}

func post(path, proto, extra string) string {
	return "POST " + path + " " + proto + "\r\nHost: x\r\nContent-Length: 3\r\n" + extra + "\r\nabc"
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestAnswerOnTakenConnection: what a parked request's client reads, and
// what happens to its connection afterwards.
func TestAnswerOnTakenConnection(t *testing.T) {
	tests := []struct {
		name       string
		req        string
		method     string
		wantProto  string
		wantBody   string
		wantClosed bool // the connection is closed after the answer
	}{
		{"keep-alive goes back to the server", post("/hold", "HTTP/1.1", ""), "POST", "HTTP/1.1", "<body/>", false},
		{"Connection: close", post("/hold", "HTTP/1.1", "Connection: close\r\n"), "POST", "HTTP/1.1", "<body/>", true},
		{"HTTP/1.0", post("/hold", "HTTP/1.0", ""), "POST", "HTTP/1.0", "<body/>", true},
		{"HEAD has no body", "HEAD /hold HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", "HTTP/1.1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t)
			nc, br := rg.dial()
			io.WriteString(nc, tt.req)
			c := rg.nextParked()
			if n := rg.f.Open(); n != 1 {
				t.Fatalf("Open() = %d with one request parked", n)
			}
			c.Header().Set("Content-Type", "text/xml; charset=utf-8")
			c.Answer(http.StatusOK, []byte("<body/>"))
			c.Answer(http.StatusTeapot, []byte("second")) // ignored
			resp, body := readResponse(t, br, tt.method)
			if resp.Proto != tt.wantProto || resp.StatusCode != 200 || body != tt.wantBody {
				t.Fatalf("answer %s %d %q, want %s 200 %q", resp.Proto, resp.StatusCode, body, tt.wantProto, tt.wantBody)
			}
			for k, want := range map[string]string{"Content-Type": "text/xml; charset=utf-8", "Cache-Control": "no-store", "Content-Length": "7"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if resp.Header.Get("Date") == "" {
				t.Error("no Date")
			}
			// The next request on the same connection: net/http serves it
			// again (keep-alive), or the connection is closed.
			io.WriteString(nc, post("/next", "HTTP/1.1", ""))
			if tt.wantClosed {
				if _, err := br.ReadByte(); err == nil {
					t.Fatal("connection still open after an answer that closes it")
				}
				return
			}
			if _, body := readResponse(t, br, "POST"); body != "direct" {
				t.Fatalf("next request on the connection answered %q", body)
			}
		})
	}
}

// TestPipelinedRequestIsCarriedAlong: a request sent behind the parked one
// on the same connection is answered after it, in order.
func TestPipelinedRequestIsCarriedAlong(t *testing.T) {
	rg := newRig(t)
	nc, br := rg.dial()
	io.WriteString(nc, post("/hold", "HTTP/1.1", "")+post("/second", "HTTP/1.1", ""))
	c := rg.nextParked()
	time.Sleep(20 * time.Millisecond) // the second request is in the socket or the buffer: either must work
	c.Answer(http.StatusOK, []byte("first"))
	if _, body := readResponse(t, br, "POST"); body != "first" {
		t.Fatalf("first answer %q", body)
	}
	if _, body := readResponse(t, br, "POST"); body != "direct" {
		t.Fatalf("second answer %q", body)
	}
}

// TestClientLeavingIsNoticed: the gone function runs when the client hangs
// up on a parked request, with no goroutine waiting on the connection.
func TestClientLeavingIsNoticed(t *testing.T) {
	rg := newRig(t)
	nc, _ := rg.dial()
	io.WriteString(nc, post("/hold", "HTTP/1.1", ""))
	c := rg.nextParked()
	nc.Close()
	rg.waitGone("client hung up")
	c.Answer(200, nil)
}

// TestParkingAgainCostsNoRegistration: a keep-alive connection that parks
// request after request is registered with the watcher once, at its first
// park (one epoll_ctl for the connection's life, none per answer), and a
// hang-up during a later park is still noticed.
func TestParkingAgainCostsNoRegistration(t *testing.T) {
	rg := newRig(t)
	nc, br := rg.dial()
	for i := 0; i < 3; i++ {
		io.WriteString(nc, post("/hold", "HTTP/1.1", ""))
		rg.nextParked().Answer(http.StatusOK, []byte("<body/>"))
		if _, body := readResponse(t, br, "POST"); body != "<body/>" {
			t.Fatalf("answer %d: %q", i, body)
		}
	}
	io.WriteString(nc, post("/hold", "HTTP/1.1", ""))
	c := rg.nextParked()
	rg.f.mu.Lock()
	w := rg.f.w
	rg.f.mu.Unlock()
	if w == nil {
		t.Skip("no watcher on this system")
	}
	w.mu.Lock()
	adds := w.adds
	w.mu.Unlock()
	if adds != 1 {
		t.Errorf("4 parks on one connection made %d registrations, want 1", adds)
	}
	nc.Close()
	rg.waitGone("client hung up on its fourth park")
	c.Answer(200, nil)
}

// TestHangUpBeforeParkIsNoticed: a client that hangs up on a registered
// connection after sending a request, before that request is parked, is
// noticed at the park: the hang-up event came while nothing was parked.
func TestHangUpBeforeParkIsNoticed(t *testing.T) {
	rg := newRig(t)
	nc, br := rg.dial()
	io.WriteString(nc, post("/hold", "HTTP/1.1", ""))
	rg.nextParked().Answer(http.StatusOK, []byte("<body/>"))
	readResponse(t, br, "POST")
	io.WriteString(nc, post("/slowhold", "HTTP/1.1", ""))
	time.Sleep(20 * time.Millisecond) // the request is read before the hang-up
	nc.Close()
	c := rg.nextParked()
	rg.waitGone("client hung up before its request was parked")
	c.Answer(200, nil)
}

// TestLargeNextRequestAfterAnswer: a handed-back connection's next request
// larger than one read of the socket reaches the handler whole.
func TestLargeNextRequestAfterAnswer(t *testing.T) {
	rg := newRig(t)
	nc, br := rg.dial()
	io.WriteString(nc, post("/hold", "HTTP/1.1", ""))
	rg.nextParked().Answer(http.StatusOK, []byte("held"))
	if _, body := readResponse(t, br, "POST"); body != "held" {
		t.Fatalf("held answer %q", body)
	}
	big := strings.Repeat("x", 20000)
	io.WriteString(nc, "POST /next HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n"+big)
	if _, body := readResponse(t, br, "POST"); body != "direct" {
		t.Fatalf("large next request answered %q", body)
	}
	if got := <-rg.other; got != "POST /next" {
		t.Fatalf("server saw %q, want POST /next", got)
	}
	if n := rg.lastBody.Load(); n != 20000 {
		t.Fatalf("handler read %d bytes of the large next request, want 20000", n)
	}
}

// TestTLSConnIsNotReadRaw: readArrived reads a connection's socket
// directly only when it is a syscall.Conn; a TLS connection must not be
// one, or its records would be read as plain bytes.
func TestTLSConnIsNotReadRaw(t *testing.T) {
	if _, raw := any(&tls.Conn{}).(syscall.Conn); raw {
		t.Fatal("*tls.Conn is a syscall.Conn: readArrived would read TLS records raw")
	}
}

// TestShutdownWaitsForAnswers: Shutdown returns once every parked request
// is answered and written; one still parked when ctx ends is closed.
func TestShutdownWaitsForAnswers(t *testing.T) {
	rg := newRig(t)
	nc1, br1 := rg.dial()
	io.WriteString(nc1, post("/hold", "HTTP/1.1", ""))
	c1 := rg.nextParked()
	nc2, br2 := rg.dial()
	io.WriteString(nc2, post("/hold", "HTTP/1.1", ""))
	rg.nextParked() // never answered

	rg.f.BeginShutdown()
	c1.Answer(200, []byte("bye"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := rg.f.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with one request never answered: %v", err)
	}
	resp, body := readResponse(t, br1, "POST")
	if body != "bye" || !resp.Close {
		t.Fatalf("answer during shutdown %q, close %v; want bye, closed", body, resp.Close)
	}
	if _, err := br2.ReadByte(); err == nil {
		t.Fatal("unanswered parked connection still open after Shutdown")
	}
	if n := rg.f.Open(); n != 0 {
		t.Fatalf("Open() = %d after Shutdown", n)
	}
	// And nothing more is taken.
	nc3, br3 := rg.dial()
	io.WriteString(nc3, post("/hold", "HTTP/1.1", "Connection: close\r\n"))
	if _, body := readResponse(t, br3, "POST"); body != "direct" {
		t.Fatalf("request after Shutdown answered %q, want the net/http path", body)
	}
}

// TestNotTakenUntilServed: without its listener served, Take leaves the
// request with net/http (a handed-back connection would have nowhere to go).
func TestNotTakenUntilServed(t *testing.T) {
	f := New()
	var got error
	var wg sync.WaitGroup
	wg.Add(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer wg.Done()
		_, got = f.Take(w, r, nil)
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wg.Wait()
	if !errors.Is(got, ErrNotTaken) {
		t.Fatalf("Take before the listener is served: %v", got)
	}
}

// TestHTTP2IsNotTaken: HTTP/2 streams cannot be hijacked; they stay with
// net/http.
func TestHTTP2IsNotTaken(t *testing.T) {
	f := New()
	f.serving.Store(true)
	var got error
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, got = f.Take(w, r, nil)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("test request went over %s", resp.Proto)
	}
	if !errors.Is(got, http.ErrNotSupported) {
		t.Fatalf("Take of an HTTP/2 request: %v", got)
	}
	f.Shutdown(context.Background())
}

// TestHandedBackConnectionStaysIdle: a keep-alive connection handed back
// after a parked request's answer waits for its next request for the
// server's IdleTimeout, as between two requests net/http answered itself,
// not merely its ReadHeaderTimeout; past IdleTimeout it is closed.
func TestHandedBackConnectionStaysIdle(t *testing.T) {
	const readHeader, idle = 100 * time.Millisecond, time.Second
	tests := []struct {
		name       string
		pause      time.Duration // idle between the answer and the next request
		wantClosed bool
	}{
		{"idle beyond ReadHeaderTimeout", 4 * readHeader, false},
		{"idle beyond IdleTimeout", idle + 4*readHeader, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t, func(s *http.Server) { s.ReadHeaderTimeout, s.IdleTimeout = readHeader, idle })
			nc, br := rg.dial()
			io.WriteString(nc, post("/hold", "HTTP/1.1", ""))
			rg.nextParked().Answer(http.StatusOK, []byte("<body/>"))
			if resp, body := readResponse(t, br, "POST"); resp.StatusCode != 200 || body != "<body/>" {
				t.Fatalf("held answer %d %q", resp.StatusCode, body)
			}
			// Real time: the timeouts are net/http's, on a real socket.
			time.Sleep(tt.pause)
			io.WriteString(nc, post("/next", "HTTP/1.1", ""))
			if tt.wantClosed {
				nc.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := br.ReadByte(); err == nil {
					t.Fatal("the connection idle beyond IdleTimeout was still served")
				}
				return
			}
			if resp, body := readResponse(t, br, "POST"); resp.StatusCode != 200 || body != "direct" {
				t.Fatalf("next request on the idle connection: %d %q, want 200 \"direct\"", resp.StatusCode, body)
			}
			if got := <-rg.other; got != "POST /next" {
				t.Errorf("server saw %q, want POST /next", got)
			}
		})
	}
}

// TestShutdownClosesIdleConnections: Shutdown does not wait out the
// IdleTimeout of a handed-back connection waiting for its next request;
// it closes it (goleak checks that its goroutine is gone).
func TestShutdownClosesIdleConnections(t *testing.T) {
	rg := newRig(t, func(s *http.Server) { s.IdleTimeout = time.Minute })
	nc, br := rg.dial()
	io.WriteString(nc, post("/hold", "HTTP/1.1", ""))
	rg.nextParked().Answer(http.StatusOK, []byte("<body/>"))
	readResponse(t, br, "POST")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := rg.f.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with one idle connection", d)
	}
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Error("the idle connection is still open after Shutdown")
	}
}

// TestPrefixLetGoOnceRead: a handed-back connection may be parked for a
// long time after its prefix was read, so it must not keep the prefix's
// array.
func TestPrefixLetGoOnceRead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	pre := append(make([]byte, 0, 4096), "POST / HTTP/1.1\r\n"...) // as readArrived's copy may be
	p := &prefixConn{Conn: a, pre: pre}
	buf := make([]byte, 10)
	var got []byte
	for len(p.pre) > 0 {
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "POST / HTTP/1.1\r\n" || p.pre != nil {
		t.Fatalf("read %q, prefix left as %d bytes of a %d-byte array, want nil", got, len(p.pre), cap(p.pre))
	}
}
