package servers

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// kinds are the two servers; every end-to-end test runs against both, in
// parallel, which also proves instances of both kinds coexist.
var kinds = []struct {
	name  string
	start func(testing.TB, Options) *Server
}{
	{KindProsody, Prosody},
	{KindEjabberd, Ejabberd},
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestPlainServer: without TLS the c2s port offers no STARTTLS but both PLAIN
// and SCRAM-SHA-1, a registered account logs in with both, a wrong password
// and an unknown user are refused, and the listen backlog is the one asked.
func TestPlainServer(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			s := k.start(t, Options{Backlog: 777})
			if s.Kind != k.name || s.Domain != "localhost" || s.CAFile != "" || s.BOSHURL != "" {
				t.Errorf("server fields: %+v", s)
			}
			// PID is the server itself (for RSS/CPU), not a wrapper script.
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.PID))
			if want := map[string]string{KindProsody: "lua5.4", KindEjabberd: "beam.smp"}[k.name]; strings.TrimSpace(string(comm)) != want {
				t.Errorf("PID %d is %q, want %s", s.PID, comm, want)
			}

			f, err := probeFeatures(ctx, s.Addr, s.Domain)
			if err != nil {
				t.Fatal(err)
			}
			if f.child(nsTLS, "starttls") != nil {
				t.Errorf("STARTTLS offered without Options.TLS")
			}
			mechs := mechanisms(f)
			for _, want := range []string{"PLAIN", "SCRAM-SHA-1"} {
				if !slices.Contains(mechs, want) {
					t.Errorf("mechanisms %v lack %s", mechs, want)
				}
			}

			if got := listenBacklog(t, s.Addr); got != 777 {
				t.Errorf("c2s listen backlog = %d, want 777", got)
			}

			if err := s.Register(ctx, "alice", "s3cret"); err != nil {
				t.Fatal(err)
			}
			for _, mech := range []string{"PLAIN", "SCRAM-SHA-1"} {
				if err := login(ctx, s, mech, "alice", "s3cret"); err != nil {
					t.Errorf("login alice with %s: %v", mech, err)
				}
			}
			if err := login(ctx, s, "PLAIN", "alice", "wrong"); !errors.Is(err, errAuthFailed) {
				t.Errorf("login with a wrong password: got %v, want SASL failure", err)
			}
			if err := login(ctx, s, "PLAIN", "nobody", "s3cret"); !errors.Is(err, errAuthFailed) {
				t.Errorf("login of an unknown user: got %v, want SASL failure", err)
			}
		})
	}
}

// TestTLSServer: with TLS and a domain other than localhost, STARTTLS is
// offered, succeeds against the generated CA with the server-name check,
// fails the check for another name, and login works over TLS; with OwnBOSH
// the server's own BOSH endpoint creates a session and answers CORS.
func TestTLSServer(t *testing.T) {
	t.Parallel()
	const domain = "boshd.test"
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			s := k.start(t, Options{TLS: true, Domain: domain, OwnBOSH: true})
			if s.Domain != domain || s.CAFile == "" {
				t.Fatalf("server fields: %+v", s)
			}

			t.Run("starttls", func(t *testing.T) {
				r, err := dialRaw(ctx, s.Addr)
				if err != nil {
					t.Fatal(err)
				}
				defer r.close()
				f, err := r.open(domain)
				if err != nil {
					t.Fatal(err)
				}
				if f.child(nsTLS, "starttls") == nil {
					t.Fatalf("no STARTTLS in features")
				}
				f, err = r.startTLS(domain, domain, s.CAFile)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(mechanisms(f), "PLAIN") {
					t.Errorf("after TLS, mechanisms %v lack PLAIN", mechanisms(f))
				}
			})

			t.Run("wrong server name", func(t *testing.T) {
				r, err := dialRaw(ctx, s.Addr)
				if err != nil {
					t.Fatal(err)
				}
				defer r.close()
				if _, err := r.open(domain); err != nil {
					t.Fatal(err)
				}
				_, err = r.startTLS(domain, "other.test", s.CAFile)
				var hostErr x509.HostnameError
				if !errors.As(err, &hostErr) {
					t.Errorf("STARTTLS checked against other.test: got %v, want a hostname error", err)
				}
			})

			t.Run("login over tls", func(t *testing.T) {
				if err := s.Register(ctx, "bob", "pa55word"); err != nil {
					t.Fatal(err)
				}
				for _, mech := range []string{"PLAIN", "SCRAM-SHA-1"} {
					if err := login(ctx, s, mech, "bob", "pa55word"); err != nil {
						t.Errorf("login bob with %s over TLS: %v", mech, err)
					}
				}
			})

			t.Run("own bosh", func(t *testing.T) {
				checkOwnBOSH(t, ctx, s)
			})
		})
	}
}

// checkOwnBOSH creates a BOSH session (XEP-0124 §7.1, XEP-0206 §4) at the
// server's own endpoint and checks the CORS preflight answer.
func checkOwnBOSH(t *testing.T, ctx context.Context, s *Server) {
	// No keep-alive: no transport goroutine outlives the check.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	wantSuffix := map[string]string{KindProsody: "/http-bind", KindEjabberd: "/bosh"}[s.Kind]
	if !strings.HasPrefix(s.BOSHURL, "http://127.0.0.1:") || !strings.HasSuffix(s.BOSHURL, wantSuffix) {
		t.Fatalf("BOSHURL = %q", s.BOSHURL)
	}
	body := fmt.Sprintf("<body content='text/xml; charset=utf-8' hold='1' rid='1573741820' to='%s' ver='1.6' wait='10' xml:lang='en' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>", s.Domain)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.BOSHURL, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte("sid=")) || !bytes.Contains(got, []byte("mechanisms")) {
		t.Errorf("session creation: %s %s", resp.Status, got)
	}

	req, _ = http.NewRequestWithContext(ctx, http.MethodOptions, s.BOSHURL, nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if acao := resp.Header.Get("Access-Control-Allow-Origin"); acao != "*" && acao != "http://app.example" {
		t.Errorf("CORS preflight: %s, Access-Control-Allow-Origin %q, headers %v", resp.Status, acao, resp.Header)
	}
}

// TestRegisterMany: a thousand accounts are created fast and can log in.
func TestRegisterMany(t *testing.T) {
	t.Parallel()
	const n = 1000
	users := make(map[string]string, n)
	for i := range n {
		users[fmt.Sprintf("user%04d", i)] = fmt.Sprintf("pw-%d", i)
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			s := k.start(t, Options{LoadTest: true})
			start := time.Now()
			if err := s.RegisterMany(ctx, users); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			t.Logf("%s: RegisterMany of %d accounts took %v", k.name, n, took)
			if took > 20*time.Second {
				t.Errorf("RegisterMany took %v, want a few seconds at most", took)
			}
			for _, c := range []struct{ user, mech string }{
				{"user0000", "PLAIN"}, {"user0500", "SCRAM-SHA-1"}, {"user0999", "PLAIN"},
			} {
				if err := login(ctx, s, c.mech, c.user, users[c.user]); err != nil {
					t.Errorf("login %s with %s: %v", c.user, c.mech, err)
				}
			}
			if err := login(ctx, s, "PLAIN", "user0001", users["user0002"]); !errors.Is(err, errAuthFailed) {
				t.Errorf("login with another account's password: got %v, want SASL failure", err)
			}
		})
	}
}

// TestKill: after Kill the c2s port refuses connections and the process is
// gone; Stop afterwards still cleans up.
func TestKill(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			s := k.start(t, Options{})
			if err := s.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := dialOnce(s.Addr); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("dial after Kill: got %v, want connection refused", err)
			}
			if err := syscall.Kill(s.PID, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("pid %d after Kill: %v, want ESRCH", s.PID, err)
			}
			if err := s.Stop(); err != nil {
				t.Errorf("Stop after Kill: %v", err)
			}
			checkGone(t, s)
		})
	}
}

// TestStop: Stop ends the server gracefully, leaves no process and no
// directory behind, and is idempotent.
func TestStop(t *testing.T) {
	t.Parallel()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			s := k.start(t, Options{})
			start := time.Now()
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: Stop took %v", k.name, time.Since(start))
			checkGone(t, s)
			if err := s.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

// TestConcurrentInstances: two instances of each kind start at the same
// time with their own ports, directories, processes and node names, and
// each answers for its own domain, where accounts made by RegisterMany log
// in (the domain's dot is encoded in Prosody's account path).
func TestConcurrentInstances(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		started []*Server
		wg      sync.WaitGroup
	)
	for i := range 4 {
		wg.Go(func() {
			o := Options{Domain: fmt.Sprintf("c%d.test", i)}
			start := StartProsody
			if i%2 == 1 {
				start = StartEjabberd
			}
			s, err := start(testCtx(t), o)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			started = append(started, s)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, s := range started {
		t.Cleanup(func() {
			if err := s.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	if t.Failed() {
		return
	}
	seen := map[string]bool{}
	for _, s := range started {
		for _, v := range []string{s.Addr, s.Dir, strconv.Itoa(s.PID)} {
			if seen[v] {
				t.Errorf("%s shared between instances", v)
			}
			seen[v] = true
		}
		if s.node != "" {
			if seen[s.node] {
				t.Errorf("node name %s shared", s.node)
			}
			seen[s.node] = true
		}
		ctx := testCtx(t)
		if err := s.RegisterMany(ctx, map[string]string{"carol": "pw1", "Dave": "pw2"}); err != nil {
			t.Fatal(err)
		}
		if err := login(ctx, s, "PLAIN", "carol", "pw1"); err != nil {
			t.Errorf("%s %s: login carol: %v", s.Kind, s.Domain, err)
		}
		// Nodeprep lower-cases user names, on registration and on login.
		if err := login(ctx, s, "SCRAM-SHA-1", "dave", "pw2"); err != nil {
			t.Errorf("%s %s: login dave: %v", s.Kind, s.Domain, err)
		}
	}
}

// TestPortRaceIsRetried: when the port picked for c2s is taken before the
// server binds it, the start is retried on another port, and the server
// does not mistake the other listener for its own.
func TestPortRaceIsRetried(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	// The intruder answers like an XMPP server would, so only the
	// ownership check can tell it from Prosody.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); taken.Close(); wg.Wait() }()
	wg.Go(func() { fakeXMPP(taken, stop) })

	calls := 0
	f := prosodyFlavor()
	f.ports = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[0] = taken.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	s, err := start(testCtx(t), Options{}, f)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}()
	if calls != 2 {
		t.Errorf("ports picked %d times, want 2", calls)
	}
	if s.Addr == taken.Addr().String() {
		t.Errorf("server reports the taken port %s", s.Addr)
	}
	if owned, _, err := listenerOwnedBy(s.PID, s.c2sPort); !owned || err != nil {
		t.Errorf("c2s listener owned by server: %v, %v", owned, err)
	}
}

// fakeXMPP answers every connection with a stream header and features.
func fakeXMPP(l net.Listener, stop chan struct{}) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		select {
		case <-stop:
			c.Close()
			return
		default:
		}
		c.Write([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='localhost' id='x'><stream:features/>"))
		c.Close()
	}
}

// checkGone asserts that nothing of s is left: the process, any process
// whose command line or working directory mentions its directory or node
// name, the directory itself, and the c2s listener.
func checkGone(t *testing.T, s *Server) {
	t.Helper()
	if err := syscall.Kill(s.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists (%v)", s.PID, err)
	}
	marks := []string{s.Dir}
	if s.node != "" {
		marks = append(marks, s.node)
	}
	if left := processesMentioning(marks...); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s still exists (%v)", s.Dir, err)
	}
	if err := dialOnce(s.Addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s after stop: got %v, want connection refused", s.Addr, err)
	}
}

// processesMentioning lists "pid cmdline" of processes whose command line
// or working directory contains any of marks.
func processesMentioning(marks ...string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		text := strings.ReplaceAll(string(cmdline), "\x00", " ")
		for _, m := range marks {
			if strings.Contains(text, m) || strings.HasPrefix(cwd, m) {
				out = append(out, e.Name()+" "+text)
				break
			}
		}
	}
	return out
}

func dialOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

// listenBacklog reads the backlog of the listener on addr from ss(8),
// which shows it as Send-Q of a listening socket.
func listenBacklog(t *testing.T, addr string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("ss", "-Hltn", "sport = :"+port).Output()
	if err != nil {
		t.Fatalf("ss: %v (iproute2 is installed by scripts/install-deps.sh)", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		t.Fatalf("ss output %q", out)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("ss output %q: %v", out, err)
	}
	return n
}
