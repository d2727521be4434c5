package integration_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"boshd/bosh/client"
	"boshd/integration/servers"
)

// The core suite: the boshd binary, configured by a TOML file, in front of
// a real Prosody and a real ejabberd, driven by a Strophe-like BOSH client.

var (
	boshdBin     string
	buildOnce    sync.Once
	buildErr     error
	sharedMu     sync.Mutex
	sharedByKind = map[string]*servers.Server{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	for _, s := range sharedByKind {
		s.Stop()
	}
	sharedMu.Unlock()
	if boshdBin != "" {
		os.RemoveAll(filepath.Dir(boshdBin))
	}
	os.Exit(code)
}

// binary builds cmd/boshd once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "boshd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		boshdBin = filepath.Join(dir, "boshd")
		out, err := exec.Command("go", "build", "-o", boshdBin, "boshd/cmd/boshd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return boshdBin
}

// shared returns a server of the kind, started once for the whole run.
func shared(t *testing.T, kind string) *servers.Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if s := sharedByKind[kind]; s != nil {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := servers.StartProsody
	if kind == "ejabberd" {
		start = servers.StartEjabberd
	}
	s, err := start(ctx, servers.Options{})
	if err != nil {
		t.Fatalf("starting %s: %v", kind, err)
	}
	sharedByKind[kind] = s
	return s
}

var kinds = []string{"prosody", "ejabberd"}

// boshd is a running boshd process.
type boshd struct {
	URL     string
	Config  string // the config file's path
	Base    string // http://127.0.0.1:port
	cmd     *exec.Cmd
	log     *strings.Builder
	exited  chan struct{} // closed when cmd has exited
	exitErr error         // cmd.Wait's error, set before exited closes
}

// startBoshd runs the binary with a config naming the server as the only
// domain, plus extra TOML, and stops it (SIGTERM) when the test ends.
func startBoshd(t *testing.T, srv *servers.Server, extra string) *boshd {
	t.Helper()
	return startBoshdHTTP(t, srv, "", extra)
}

// startBoshdHTTP is startBoshd with more keys of the [http] table.
func startBoshdHTTP(t *testing.T, srv *servers.Server, httpKeys, extra string) *boshd {
	t.Helper()
	bin := binary(t)
	for attempt := 0; ; attempt++ {
		port := servers.FreePort(t)
		cfg := fmt.Sprintf(`
[http]
listen = "127.0.0.1:%d"
cors_origins = ["*"]
%s
[[domain]]
name = %q
routes = [%q]
%s
`, port, httpKeys, srv.Domain, srv.Addr, extra)
		path := filepath.Join(t.TempDir(), "boshd.toml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		cmd := exec.Command(bin, "-config", path, "-log-level", "debug")
		cmd.Stdout, cmd.Stderr = &syncWriter{w: &log}, &syncWriter{w: &log}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		b := &boshd{URL: base + "/http-bind", Base: base, Config: path, cmd: cmd, log: &log, exited: make(chan struct{})}
		go func() {
			defer close(b.exited)
			b.exitErr = cmd.Wait()
		}()
		if err := servers.WaitHTTP(b.URL, b.exited, 10*time.Second); err != nil {
			cmd.Process.Kill()
			<-b.exited
			if attempt < 3 && strings.Contains(log.String(), "address already in use") {
				continue
			}
			t.Fatalf("boshd did not start: %v\n%s", err, log.String())
		}
		t.Cleanup(func() { b.stop(t) })
		return b
	}
}

// stop sends SIGTERM and checks that boshd exits within a few seconds.
// When the test failed, boshd's log is printed.
func (b *boshd) stop(t *testing.T) {
	defer func() {
		if t.Failed() {
			t.Logf("boshd's log:\n%s", b.log.String())
		}
	}()
	b.cmd.Process.Signal(syscall.SIGTERM) // os.ErrProcessDone if it exited by itself
	select {
	case <-b.exited:
		if b.exitErr != nil {
			t.Errorf("boshd exited with %v\n%s", b.exitErr, b.log.String())
		}
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
		t.Errorf("boshd did not exit within 10s of SIGTERM\n%s", b.log.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// user registers a fresh account and returns its name.
func user(t *testing.T, srv *servers.Server, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1e9)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Register(ctx, name, "pw-"+name); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return name
}

// login connects through boshd and logs in; the session then keeps a
// request held (client.Run) until the test ends. opts adjust the client's
// configuration.
func login(t *testing.T, url string, srv *servers.Server, name, mech string, opts ...func(*client.Config)) *client.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := client.Config{URL: url, Domain: srv.Domain, Wait: 10}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := client.Connect(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if err := s.Login(ctx, name, "pw-"+name, mech, "it"); err != nil {
		t.Fatalf("login %s with %s: %v", name, mech, err)
	}
	keepRunning(t, s)
	return s
}

// keepRunning keeps a request of s held (client.Run) until the test ends.
// The cleanup then closes the session and stops Run, reading Receive
// meanwhile: a Run (or Close) blocked delivering to a full, unread
// Receive would otherwise ignore its stop and hang the cleanup.
func keepRunning(t *testing.T, s *client.Session) {
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(runCtx)
	}()
	t.Cleanup(func() {
		quit, drained := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(drained)
			for recv := s.Receive(); ; {
				select {
				case _, ok := <-recv:
					if !ok {
						recv = nil
					}
				case <-quit:
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
		stop()
		<-done
		close(quit)
		<-drained
	})
}

// expect waits for a stanza containing every one of want.
func expect(t *testing.T, s *client.Session, within time.Duration, want ...string) string {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case st, ok := <-s.Receive():
			if !ok {
				t.Fatalf("session ended (%v) while waiting for %q", s.Err(), want)
			}
			all := true
			for _, w := range want {
				all = all && strings.Contains(string(st), w)
			}
			if all {
				return string(st)
			}
		case <-timeout:
			t.Fatalf("no stanza with %q within %v", want, within)
		}
	}
}

func send(t *testing.T, s *client.Session, stanza string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Send(ctx, []byte(stanza)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// TestLoginAndChat: two users log in through boshd (SASL PLAIN and
// SCRAM-SHA-1, restart, bind), exchange messages both ways and directed
// presence, and one terminates with unavailable presence the other sees.
// Bob's client uses key sequencing (XEP-0124 §15, switching to a new key
// chain every few requests) and acknowledgements (§9), as a careful
// browser client would.
func TestLoginAndChat(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			srv := shared(t, kind)
			b := startBoshd(t, srv, "")
			an, bn := user(t, srv, "alice"), user(t, srv, "bob")
			alice := login(t, b.URL, srv, an, "PLAIN")
			bob := login(t, b.URL, srv, bn, "SCRAM-SHA-1", func(c *client.Config) { c.Keys, c.KeyCount, c.Ack = true, 4, true })
			if !strings.HasPrefix(alice.JID, an+"@") || !strings.HasPrefix(bob.JID, bn+"@") {
				t.Fatalf("bound JIDs %q, %q", alice.JID, bob.JID)
			}

			send(t, alice, fmt.Sprintf(`<presence xmlns='jabber:client' to='%s'/>`, bob.JID))
			expect(t, bob, 10*time.Second, "<presence", "from='"+alice.JID+"'")

			for i := 0; i < 3; i++ {
				send(t, alice, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='a%d'><body>hello bob &amp; %d</body></message>`, bob.JID, i, i))
				expect(t, bob, 10*time.Second, "<message", "id='a"+fmt.Sprint(i)+"'", "hello bob &amp; "+fmt.Sprint(i))
				send(t, bob, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='b%d'><body>hi alice %d</body></message>`, alice.JID, i, i))
				expect(t, alice, 10*time.Second, "<message", "id='b"+fmt.Sprint(i)+"'")
			}

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := alice.Close(ctx, []byte(`<presence type='unavailable' xmlns='jabber:client'/>`)); err != nil {
				t.Fatalf("terminate: %v", err)
			}
			expect(t, bob, 10*time.Second, "<presence", "type='unavailable'", "from='"+alice.JID+"'")
		})
	}
}

// TestStartTLSUpstream: boshd secures the upstream with STARTTLS against a
// CA from its config, hides <starttls/> from the client, and the session
// says secure='true'. A wrong CA makes the session fail cleanly.
func TestStartTLSUpstream(t *testing.T) {
	srv := servers.Prosody(t, servers.Options{TLS: true})
	b := startBoshd(t, srv, fmt.Sprintf("[upstream]\ntls = \"required\"\nca_file = %q\n", srv.CAFile))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := user(t, srv, "tls")
	s, err := client.Connect(ctx, client.Config{URL: b.URL, Domain: srv.Domain, Wait: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CreateResponse.Attrs["secure"]; got != "true" {
		t.Errorf("secure = %q, want true", got)
	}
	if strings.Contains(string(s.Features), "starttls") {
		t.Errorf("features show starttls to the client: %s", s.Features)
	}
	if err := s.Login(ctx, name, "pw-"+name, "SCRAM-SHA-1", "tls"); err != nil {
		t.Fatalf("login over upstream TLS: %v", err)
	}
	s.Close(ctx)

	// A CA that did not sign the server's certificate.
	other := servers.Prosody(t, servers.Options{TLS: true})
	bad := startBoshd(t, srv, fmt.Sprintf("[upstream]\ntls = \"required\"\nca_file = %q\n", other.CAFile))
	_, err = client.Connect(ctx, client.Config{URL: bad.URL, Domain: srv.Domain, Wait: 10})
	var te *client.TerminateError
	if !errors.As(err, &te) || te.Condition != "remote-connection-failed" {
		t.Fatalf("untrusted upstream certificate: %v, want remote-connection-failed", err)
	}
}

// TestUpstreamKilled: the XMPP server dies mid-session; the held request is
// answered remote-connection-failed at once.
func TestUpstreamKilled(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			var srv *servers.Server
			if kind == "prosody" {
				srv = servers.Prosody(t, servers.Options{})
			} else {
				srv = servers.Ejabberd(t, servers.Options{})
			}
			b := startBoshd(t, srv, "")
			name := user(t, srv, "victim")
			s := login(t, b.URL, srv, name, "PLAIN")
			time.Sleep(300 * time.Millisecond) // let Run hold a request
			start := time.Now()
			if err := srv.Kill(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-s.Done():
			case <-time.After(8 * time.Second):
				t.Fatalf("session still alive 8s after the server died")
			}
			var te *client.TerminateError
			if err := s.Err(); !errors.As(err, &te) || te.Condition != "remote-connection-failed" {
				t.Fatalf("session ended with %v, want remote-connection-failed", err)
			}
			t.Logf("%s killed: session ended after %v", kind, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestLostResponseRecovered: an answer carrying a message is lost on the
// wire; the client resends the same rid and gets the identical answer from
// boshd's cache, and the session goes on.
func TestLostResponseRecovered(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			srv := shared(t, kind)
			b := startBoshd(t, srv, "")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			an, bn := user(t, srv, "lossy"), user(t, srv, "sender")
			a, err := client.Connect(ctx, client.Config{URL: b.URL, Domain: srv.Domain, Wait: 10})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Login(ctx, an, "pw-"+an, "PLAIN", "r"); err != nil {
				t.Fatal(err)
			}
			bob := login(t, b.URL, srv, bn, "PLAIN")

			// Alice holds one request by hand; Bob's message answers it.
			rid := a.RID()
			got := make(chan *client.Body, 1)
			var held sync.WaitGroup
			held.Go(func() {
				body, err := a.Request(ctx, nil)
				if err != nil {
					t.Errorf("held request: %v", err)
				}
				got <- body
			})
			// A Fatal below must not leave the request to report after
			// the test has ended.
			defer func() { cancel(); held.Wait() }()
			time.Sleep(300 * time.Millisecond)
			send(t, bob, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' id='lost1'><body>do not lose me</body></message>`, a.JID))
			first := <-got
			if first == nil || !strings.Contains(string(first.Raw), "lost1") {
				t.Fatalf("held request answered %v", first)
			}
			// That answer was "lost": resend the same rid.
			again, err := a.Resend(ctx, rid)
			if err != nil {
				t.Fatalf("resend rid %d: %v", rid, err)
			}
			if string(again.Raw) != string(first.Raw) {
				t.Fatalf("resent rid answered\n%s\nfirst answer was\n%s", again.Raw, first.Raw)
			}
			// The session is still usable.
			send(t, bob, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' id='after'/>`, a.JID))
			body, err := a.Request(ctx, nil)
			if err != nil || !strings.Contains(string(body.Raw), "after") {
				t.Fatalf("after the resend: %v %v", body, err)
			}
			a.Close(ctx)
		})
	}
}

// TestRefusesUnservedDomain: boshd never connects to a domain it does not
// serve, whatever the client asks.
func TestRefusesUnservedDomain(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []client.Config{
		{URL: b.URL, Domain: "example.net"},
		{URL: b.URL, Domain: srv.Domain, Route: "xmpp:127.0.0.1:22"},
	} {
		_, err := client.Connect(ctx, c)
		var te *client.TerminateError
		if !errors.As(err, &te) || te.Condition != "host-unknown" {
			t.Errorf("%+v: %v, want host-unknown", c, err)
		}
	}
}
