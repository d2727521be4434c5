package servers

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProsodyEncode(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"localhost", "localhost"},
		{"example.org", "example%2eorg"},
		{"user_1-x", "user%5f1%2dx"},
		{"Ab9", "Ab9"},
	} {
		if got := prosodyEncode(c.in); got != c.want {
			t.Errorf("prosodyEncode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLuaString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"line\nbreak\x00", `"line\010break\000"`},
	} {
		if got := luaString(c.in); got != c.want {
			t.Errorf("luaString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestSimpleNodeprep(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"Alice.B-1", "alice.b-1", true},
		{"", "", false},
		{"a b", "", false},
		{"a@b", "", false},
		{"a/b", "", false},
		{"äöü", "", false},
	} {
		got, err := simpleNodeprep(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("simpleNodeprep(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestErlTerms(t *testing.T) {
	if got := erlBinary("ab,"); got != "<<97,98,44>>" {
		t.Errorf("erlBinary = %s", got)
	}
	if got := erlString(`/tmp/a"b\c`); got != `"/tmp/a\"b\\c"` {
		t.Errorf("erlString = %s", got)
	}
}

// TestConfigs checks what each option turns into in the generated
// configuration: limits and shapers only without LoadTest, TLS and BOSH
// only when asked, the backlog always.
func TestConfigs(t *testing.T) {
	cases := []struct {
		name    string
		kind    string
		o       Options
		want    []string
		notWant []string
	}{
		{"prosody default", KindProsody, Options{Domain: "localhost", Backlog: 1024},
			[]string{`"limits"`, `limits = { c2s`, `tcp_backlog = 1024`, `modules_disabled = { "s2s"; "s2s_auth_certs"; "tls" }`, `authentication = "internal_plain"`, `http_ports = { }`},
			[]string{`"bosh"`, `ssl =`}},
		{"prosody load test", KindProsody, Options{Domain: "localhost", Backlog: 4000, LoadTest: true},
			[]string{`tcp_backlog = 4000`, `min = "warn"`},
			[]string{`"limits"`, `limits =`}},
		{"prosody tls bosh", KindProsody, Options{Domain: "x.test", Backlog: 1024, TLS: true, OwnBOSH: true},
			[]string{`"tls"`, `"bosh"`, `ssl = { certificate =`, `http_ports = { 2 }`, `http_interfaces = { "127.0.0.1" }`, `consider_bosh_secure = true`, `VirtualHost "x.test"`},
			[]string{`"tls" }`}},
		{"ejabberd default", KindEjabberd, Options{Domain: "localhost", Backlog: 1024},
			[]string{"backlog: 1024", "shaper: c2s_shaper", "c2s_shaper: normal", "starttls: false", "auth_password_format: plain", "s2s_access: none"},
			[]string{"mod_bosh", "certfiles", "shaper_rules: {}"}},
		{"ejabberd load test", KindEjabberd, Options{Domain: "localhost", Backlog: 1024, LoadTest: true},
			[]string{"shaper_rules: {}", "loglevel: warning"},
			[]string{"c2s_shaper", "max_user_sessions"}},
		{"ejabberd tls bosh", KindEjabberd, Options{Domain: "x.test", Backlog: 1024, TLS: true, OwnBOSH: true},
			[]string{"starttls: true", "certfiles:", "/bosh: mod_bosh", "mod_bosh: {}", "module: ejabberd_http", `- "x.test"`},
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{Kind: c.kind, Domain: c.o.Domain, opts: c.o, Dir: t.TempDir(), c2sPort: 1, httpPort: 2, distPort: 3}
			var cfg string
			if c.kind == KindProsody {
				if err := prosodyPrepare(s); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(s.cfgFile)
				if err != nil {
					t.Fatal(err)
				}
				cfg = string(b)
			} else {
				cfg = ejabberdYAML(s)
			}
			for _, w := range c.want {
				if !strings.Contains(cfg, w) {
					t.Errorf("config lacks %q:\n%s", w, cfg)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(cfg, w) {
					t.Errorf("config has %q:\n%s", w, cfg)
				}
			}
		})
	}
}

// TestListenerOwnedBy tells a listener of this process from a closed port
// and from another process's view.
func TestListenerOwnedBy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	owned, listening, err := listenerOwnedBy(os.Getpid(), port)
	if !owned || !listening || err != nil {
		t.Errorf("own listener: owned=%v listening=%v err=%v", owned, listening, err)
	}
	owned, listening, err = listenerOwnedBy(os.Getppid(), port)
	if owned || !listening || err != nil {
		t.Errorf("parent's view: owned=%v listening=%v err=%v", owned, listening, err)
	}
	l.Close()
	if _, listening, err = listenerOwnedBy(os.Getpid(), port); listening || err != nil {
		t.Errorf("closed port: listening=%v err=%v", listening, err)
	}
}

// TestKillReachesOtherSessions: kill also ends descendants that left the
// process group (as Erlang's port programs do with setsid).
func TestKillReachesOtherSessions(t *testing.T) {
	p, err := startProcess("/bin/sh", []string{"-c", "setsid sleep 60 & exec sleep 60"}, os.Environ(), t.TempDir(), filepath.Join(t.TempDir(), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	var kids []procID
	for deadline := time.Now().Add(5 * time.Second); len(kids) == 0; {
		if time.Now().After(deadline) {
			p.kill()
			t.Fatal("the setsid child never appeared")
		}
		time.Sleep(10 * time.Millisecond)
		kids = descendants(p.pid)
	}
	if err := p.kill(); err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if k.alive() {
			t.Errorf("descendant %d survived kill", k.pid)
		}
	}
}
