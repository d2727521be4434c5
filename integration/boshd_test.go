package integration_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"boshd/bosh/client"
	"boshd/integration/servers"
)

// The core suite: the boshd binary, configured by a TOML file, in front of
// a real Prosody and a real ejabberd, driven by a Strophe-like BOSH client.

var (
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
	servers.RemoveBoshdBinary()
	os.Exit(code)
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

// boshd is a running boshd process (servers.StartBoshd) and its endpoints.
type boshd struct {
	*servers.Boshd
	URL    string // its BOSH endpoint
	Config string // the config file's path
	Base   string // http://127.0.0.1:port
}

// startBoshd runs the binary with a config naming the server as the only
// domain, plus extra TOML, at debug level; it is stopped when the test
// ends, which fails if boshd then exits with an error.
func startBoshd(t *testing.T, srv *servers.Server, extra string) *boshd {
	t.Helper()
	return startBoshdHTTP(t, srv, "", extra)
}

// startBoshdHTTP is startBoshd with more keys of the [http] table.
func startBoshdHTTP(t *testing.T, srv *servers.Server, httpKeys, extra string) *boshd {
	t.Helper()
	b := servers.StartBoshd(t, servers.BoshdOptions{
		Config: func(listen string) string {
			return fmt.Sprintf(`
[http]
listen = %q
cors_origins = ["*"]
%s
[[domain]]
name = %q
routes = [%q]
%s
`, listen, httpKeys, srv.Domain, srv.Addr, extra)
		},
		Args:      []string{"-log-level", "debug"},
		CheckExit: true,
	})
	base := "http://" + b.Addr
	return &boshd{Boshd: b, URL: base + "/http-bind", Config: b.ConfigFile, Base: base}
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
