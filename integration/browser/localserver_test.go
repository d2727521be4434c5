package browser

// A stopgap private Prosody with its own mod_bosh, used until package
// boshd/integration/servers is ready. It exists only to prove the pages and
// the browser driving before boshd answers.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

type localProsody struct {
	domain  string
	c2sAddr string
	boshURL string
	cfg     string
}

func startLocalProsody(t *testing.T) *localProsody {
	t.Helper()
	dir := t.TempDir()
	c2s, httpPort := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "prosody.cfg.lua")
	conf := fmt.Sprintf(`
run_as_root = true
pidfile = %[1]q
data_path = %[2]q
log = { { levels = { min = "info" }, to = "file", filename = %[3]q } }
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = { "roster", "saslauth", "disco", "ping", "presence", "bosh", "http" }
modules_disabled = { "s2s", "tls" }
c2s_ports = { %[4]d }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { %[5]d }
http_interfaces = { "127.0.0.1" }
https_ports = { }
cross_domain_bosh = true
consider_bosh_secure = true
bosh_max_wait = 10
VirtualHost "localhost"
`, filepath.Join(dir, "prosody.pid"), filepath.Join(dir, "data"), filepath.Join(dir, "prosody.log"), c2s, httpPort)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("prosody", "-F", "--config", cfg)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prosody: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prosody.log"))
			t.Logf("prosody log:\n%s", b)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", c2s)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prosody did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &localProsody{domain: "localhost", c2sAddr: addr, cfg: cfg,
		boshURL: fmt.Sprintf("http://127.0.0.1:%d/http-bind", httpPort)}
}

func (p *localProsody) Register(ctx context.Context, user, pass string) error {
	out, err := exec.CommandContext(ctx, "prosodyctl", "--config", p.cfg, "register", user, p.domain, pass).CombinedOutput()
	if err != nil {
		return fmt.Errorf("prosodyctl register %s: %v: %s", user, err, out)
	}
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
