package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// fakeXMPP is an upstream for the in-process tests: it answers a stream
// header with its own header and empty features, then echoes every byte
// the client sends, so a stanza sent comes back as one received. The real
// servers are in integration/ops_test.go; this one counts its connections,
// which shows which route a session took.
type fakeXMPP struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
}

func newFakeXMPP(t *testing.T) *fakeXMPP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeXMPP{ln: ln}
	var mu sync.Mutex
	var open []net.Conn
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeXMPP) Addr() string { return f.ln.Addr().String() }

func (f *fakeXMPP) serve(c net.Conn) {
	defer c.Close()
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("<stream:stream")) || !bytes.HasSuffix(bytes.TrimSpace(head), []byte(">")) {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		head = append(head, buf[:n]...)
	}
	io.WriteString(c, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='fake' from='a.example' version='1.0'><stream:features/>")
	io.Copy(c, c)
}

// testServer is boshd running in-process on a free port, stopped when the
// test ends.
type testServer struct {
	base string
	path string // config file
	hook *logtest.Hook
	hup  chan os.Signal
	stop chan os.Signal // SIGTERM and SIGINT, as run(args) arranges
}

func startServer(t *testing.T, route string) *testServer {
	return startServerExtra(t, route, "")
}

// startServerExtra is startServer with TOML tables after [upstream].
func startServerExtra(t *testing.T, route, extra string) *testServer {
	t.Helper()
	port := freePort(t)
	ts := &testServer{base: fmt.Sprintf("http://127.0.0.1:%d", port), path: filepath.Join(t.TempDir(), "boshd.toml")}
	writeConfig(t, ts.path, port, route, extra)
	o := options{path: ts.path}
	cfg, err := o.load()
	if err != nil {
		t.Fatal(err)
	}
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	ts.hook = hook
	s, err := newServer(cfg, o, log)
	if err != nil {
		t.Fatal(err)
	}
	ts.hup = make(chan os.Signal, 1)
	ts.stop = make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- s.run(ts.stop, ts.hup) }()
	t.Cleanup(func() {
		// A second signal if the test sent one: it ends a drain.
		ts.stop <- syscall.SIGTERM
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		if resp, err := http.Get(ts.base + "/http-bind"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("boshd did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ts
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeConfig(t *testing.T, path string, port int, route, extra string) {
	t.Helper()
	cfg := fmt.Sprintf("[http]\nlisten = \"127.0.0.1:%d\"\n[upstream]\ntls = \"off\"\n%s\n[[domain]]\nname = \"a.example\"\nroutes = [%q]\n", port, extra, route)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sighup sends the process SIGHUP, delivered to the server's channel as
// run(args) arranges with signal.Notify, and waits for a log entry with
// msg.
func (ts *testServer) sighup(t *testing.T, msg string) *logrus.Entry {
	t.Helper()
	signal.Notify(ts.hup, syscall.SIGHUP)
	defer signal.Stop(ts.hup)
	before := len(ts.hook.AllEntries())
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, e := range ts.hook.AllEntries()[before:] {
			if strings.Contains(e.Message, msg) {
				return e
			}
		}
	}
	t.Fatalf("no log entry %q after SIGHUP", msg)
	return nil
}

var sidRE = regexp.MustCompile(`sid='([^']+)'`)

// post sends one BOSH body and returns the answer.
func post(t *testing.T, url, body string) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(url, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// boshSession is a raw BOSH client: enough to create a session and see a
// stanza come back.
type boshSession struct {
	url, sid string
	rid      int
}

func newBOSH(t *testing.T, base string) *boshSession {
	t.Helper()
	s := &boshSession{url: base + "/http-bind", rid: 1000}
	a := post(t, s.url, fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' to='a.example' wait='1' hold='1' ver='1.11'/>", s.rid))
	m := sidRE.FindStringSubmatch(a)
	if m == nil {
		t.Fatalf("session not created: %s", a)
	}
	s.sid = m[1]
	return s
}

// echo sends a message with id and waits until the fake server's echo of
// it comes back in an answer.
func (s *boshSession) echo(t *testing.T, id string) {
	t.Helper()
	payload := fmt.Sprintf("<message xmlns='jabber:client' id='%s'/>", id)
	for i := 0; i < 5; i++ {
		s.rid++
		a := post(t, s.url, fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s'>%s</body>", s.rid, s.sid, payload))
		if strings.Contains(a, "type='terminate'") {
			t.Fatalf("session %s ended: %s", s.sid, a)
		}
		if strings.Contains(a, "id='"+id+"'") {
			return
		}
		payload = ""
	}
	t.Fatalf("message %s did not come back", id)
}

// TestSIGHUPReload: a session created before SIGHUP keeps working; after
// the route in the file changes and SIGHUP arrives, a new session goes to
// the new route; a file that does not load is refused with a log line
// naming file:line:column, and the route before it stays in force.
func TestSIGHUPReload(t *testing.T) {
	first, second := newFakeXMPP(t), newFakeXMPP(t)
	ts := startServer(t, first.Addr())
	port := ts.base[strings.LastIndexByte(ts.base, ':')+1:]
	var p int
	fmt.Sscan(port, &p)

	old := newBOSH(t, ts.base)
	old.echo(t, "before")
	if first.conns.Load() != 1 {
		t.Fatalf("first route has %d connections, want 1", first.conns.Load())
	}

	writeConfig(t, ts.path, p, second.Addr(), "")
	ts.sighup(t, "configuration reloaded")
	old.echo(t, "after-reload")
	newer := newBOSH(t, ts.base)
	newer.echo(t, "new")
	if first.conns.Load() != 1 || second.conns.Load() != 1 {
		t.Fatalf("connections: first %d, second %d; want 1 and 1", first.conns.Load(), second.conns.Load())
	}

	writeConfig(t, ts.path, p, first.Addr(), "dial_timeout = 10")
	e := ts.sighup(t, "reload refused")
	if want := ts.path + ":5:16: upstream.dial_timeout"; !strings.Contains(fmt.Sprint(e.Data[logrus.ErrorKey]), want) {
		t.Errorf("refusal logged as %v, want it to name %q", e.Data[logrus.ErrorKey], want)
	}
	if e.Level != logrus.ErrorLevel {
		t.Errorf("refusal logged at %v", e.Level)
	}
	third := newBOSH(t, ts.base)
	third.echo(t, "third")
	old.echo(t, "after-refusal")
	if first.conns.Load() != 1 || second.conns.Load() != 2 {
		t.Fatalf("connections after a refused reload: first %d, second %d; want 1 and 2", first.conns.Load(), second.conns.Load())
	}
}

// TestReloadKeepsRestartOnly: keys a running process cannot change keep
// their running values, and the reload says which.
func TestReloadKeepsRestartOnly(t *testing.T) {
	up := newFakeXMPP(t)
	ts := startServer(t, up.Addr())
	writeConfig(t, ts.path, freePort(t), up.Addr(), "")
	e := ts.sighup(t, "need a restart")
	if got := e.Data["keys"]; got != "http.listen" {
		t.Errorf("kept keys %v, want http.listen", got)
	}
	newBOSH(t, ts.base).echo(t, "still-listening")
}

// TestReloadKeepsNodeID: cluster.node_id is restart-only. After a SIGHUP
// that renames the node, the reload warns naming the key, a session from
// before goes on, and a new session's sid still names the running node
// (the load balancer routes on it); cluster.shutdown_grace, changed in the
// same file, is taken, not warned about.
func TestReloadKeepsNodeID(t *testing.T) {
	up := newFakeXMPP(t)
	ts := startServerExtra(t, up.Addr(), "[cluster]\nnode_id = \"n1\"\n")
	old := newBOSH(t, ts.base)
	if !strings.HasPrefix(old.sid, "n1.") {
		t.Fatalf("sid %q, want n1. + random", old.sid)
	}
	var p int
	fmt.Sscan(ts.base[strings.LastIndexByte(ts.base, ':')+1:], &p)
	writeConfig(t, ts.path, p, up.Addr(), "[cluster]\nnode_id = \"n2\"\nshutdown_grace = \"1s\"\n")
	e := ts.sighup(t, "need a restart")
	if got := e.Data["keys"]; got != "cluster.node_id" {
		t.Errorf("kept keys %v, want cluster.node_id", got)
	}
	old.echo(t, "after-reload")
	if sid := newBOSH(t, ts.base).sid; !strings.HasPrefix(sid, "n1.") {
		t.Errorf("sid after a reload renaming the node: %q, want n1. + random", sid)
	}
}

// TestReloadPrebind: a SIGHUP puts a rotated prebind.secret and a new
// prebind.allow in force for the next pre-binding; prebind.path, and
// emptying the secret (turning pre-binding off), are kept with the
// restart warning. The fake upstream offers no SASL mechanism, so a
// request past the secret and address checks ends in 502, not 401 or 403.
func TestReloadPrebind(t *testing.T) {
	const secretA, secretB = "aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb"
	up := newFakeXMPP(t)
	ts := startServerExtra(t, up.Addr(), "[prebind]\nsecret = \""+secretA+"\"\n")
	var port int
	fmt.Sscan(ts.base[strings.LastIndexByte(ts.base, ':')+1:], &port)
	prebindStatus := func(path, secret string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.base+path, strings.NewReader(`{"jid": "u@a.example", "password": "p"}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := prebindStatus("/prebind", secretB); got != http.StatusUnauthorized {
		t.Fatalf("secret B before the reload: %d, want 401", got)
	}
	if got := prebindStatus("/prebind", secretA); got != http.StatusBadGateway {
		t.Fatalf("secret A before the reload: %d, want 502 (no mechanism)", got)
	}

	writeConfig(t, ts.path, port, up.Addr(), "[prebind]\nsecret = \""+secretB+"\"\npath = \"/pb\"\n")
	if got := ts.sighup(t, "need a restart").Data["keys"]; got != "prebind.path" {
		t.Errorf("kept keys %v, want prebind.path", got)
	}
	if got := prebindStatus("/prebind", secretA); got != http.StatusUnauthorized {
		t.Errorf("rotated-out secret A: %d, want 401", got)
	}
	if got := prebindStatus("/prebind", secretB); got != http.StatusBadGateway {
		t.Errorf("rotated-in secret B: %d, want 502 (past the secret)", got)
	}

	writeConfig(t, ts.path, port, up.Addr(), "[prebind]\nsecret = \""+secretB+"\"\nallow = [\"10.0.0.0/8\"]\n")
	ts.sighup(t, "configuration reloaded")
	if got := prebindStatus("/prebind", secretB); got != http.StatusForbidden {
		t.Errorf("loopback outside the reloaded prebind.allow: %d, want 403", got)
	}

	writeConfig(t, ts.path, port, up.Addr(), "")
	if got := ts.sighup(t, "need a restart").Data["keys"]; got != "prebind.secret (pre-binding on or off)" {
		t.Errorf("kept keys %v, want the prebind.secret switch", got)
	}
	if got := prebindStatus("/prebind", secretB); got != http.StatusBadGateway {
		t.Errorf("secret B after a reload emptying it: %d, want 502 (still on, with B)", got)
	}
}

// TestReloadWebSocket: a SIGHUP applies the [websocket] keys (here
// see_other_uri, which the next shutdown sends to a live WebSocket
// session) and keeps the mounted http.websocket_path and the host-meta
// URLs, naming them in the restart warning.
func TestReloadWebSocket(t *testing.T) {
	up := newFakeXMPP(t)
	ts := startServer(t, up.Addr())
	var port int
	fmt.Sscan(ts.base[strings.LastIndexByte(ts.base, ':')+1:], &port)
	cfg := fmt.Sprintf("[http]\nlisten = \"127.0.0.1:%d\"\nwebsocket_path = \"/ws2\"\npublic_bosh_url = \"https://x.example/http-bind\"\n"+
		"[websocket]\nping_interval = \"45s\"\nsee_other_uri = \"wss://other.example/xmpp-websocket\"\n"+
		"[upstream]\ntls = \"off\"\n[[domain]]\nname = \"a.example\"\nroutes = [%q]\n", port, up.Addr())
	if err := os.WriteFile(ts.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ts.sighup(t, "need a restart").Data["keys"]; got != "http.websocket_path, http.public_bosh_url" {
		t.Errorf("kept keys %v, want http.websocket_path, http.public_bosh_url", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.base, "http")+"/xmpp-websocket", &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatalf("the running websocket_path stopped answering: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a.example' version='1.0'/>")); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		_, p, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(p)
	}
	if got := read(); !strings.HasPrefix(got, "<open ") {
		t.Fatalf("got %s, want the server's <open/>", got)
	}
	ts.stop <- syscall.SIGTERM
	for {
		got := read()
		if strings.Contains(got, "<close ") {
			if !strings.Contains(got, "see-other-uri='wss://other.example/xmpp-websocket'") {
				t.Fatalf("shutdown sent %s, want the reloaded see-other-uri", got)
			}
			return
		}
	}
}
