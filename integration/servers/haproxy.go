package servers

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// haproxyBin is Debian's HAProxy 2.6.
var haproxyBin = "/usr/sbin/haproxy"

// HAProxyOptions configure a private HAProxy run from a configuration file
// that takes its addresses from the environment ("${VAR}" in the file), as
// deploy/haproxy.cfg does.
type HAProxyOptions struct {
	// Config is the configuration file, used as is. Required.
	Config string
	// Env are the variables the file reads, besides the two below.
	Env map[string]string
	// FrontendVar names the variable that receives "127.0.0.1:PORT", a
	// free loopback port HAProxy listens on. Required.
	FrontendVar string
	// SocketVar names the variable that receives the path of the admin
	// socket (stats socket) in the private directory. Required.
	SocketVar string
}

// HAProxy is one running private HAProxy.
type HAProxy struct {
	// Addr is the frontend's "127.0.0.1:PORT".
	Addr string
	// Socket is the admin socket's path.
	Socket string
	// Dir holds the console log and the socket; removed on Stop.
	Dir string

	console  string
	proc     *process
	stopOnce sync.Once
	stopErr  error
}

// StartHAProxy runs HAProxy in the foreground (-db) on o.Config and
// returns once the frontend port listens on a socket of the HAProxy
// process; an invalid file fails the start with HAProxy's message. ctx
// bounds the start only.
func StartHAProxy(ctx context.Context, o HAProxyOptions) (*HAProxy, error) {
	if _, err := os.Stat(haproxyBin); err != nil {
		return nil, fmt.Errorf("servers: haproxy is not installed (run scripts/install-deps.sh): %w", err)
	}
	cfg, err := filepath.Abs(o.Config) // HAProxy runs in its own directory
	if err != nil {
		return nil, fmt.Errorf("servers: start haproxy: %w", err)
	}
	o.Config = cfg
	dir, err := os.MkdirTemp("", "boshd-haproxy-")
	if err != nil {
		return nil, fmt.Errorf("servers: start haproxy: %w", err)
	}
	h := &HAProxy{Dir: dir, Socket: filepath.Join(dir, "admin.sock"), console: filepath.Join(dir, "haproxy.log")}
	for attempt := 1; ; attempt++ {
		err = h.attempt(ctx, o)
		if err == nil {
			return h, nil
		}
		if !strings.Contains(err.Error(), "Address already in use") || attempt == startAttempts || ctx.Err() != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("servers: start haproxy (attempt %d): %w", attempt, err)
		}
	}
}

func (h *HAProxy) attempt(ctx context.Context, o HAProxyOptions) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	h.Addr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	env := []string{o.FrontendVar + "=" + h.Addr, o.SocketVar + "=" + h.Socket}
	for k, v := range o.Env {
		env = append(env, k+"="+v)
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); o.Env[k] == "" && k != o.FrontendVar && k != o.SocketVar {
			env = append(env, kv)
		}
	}
	p, err := startProcess(haproxyBin, []string{"-db", "-f", o.Config}, env, h.Dir, h.console)
	if err != nil {
		return err
	}
	h.proc = p
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		owned, _, err := listenerOwnedBy(p.pid, ports[0])
		if err == nil && owned {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("haproxy exited during start: %v\n%s", p.exitErr(), tailLines(h.console, 20))
		}
		select {
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("haproxy not listening: %w\n%s", ctx.Err(), tailLines(h.console, 20))
		case <-tick.C:
		}
	}
}

// ServerStates asks the admin socket ("show stat") for the state of every
// server of backend: "UP", "NOLB" (draining: no new sessions), "DOWN",
// "MAINT", and the transitional "UP 1/2" and the like.
func (h *HAProxy) ServerStates(backend string) (map[string]string, error) {
	c, err := net.DialTimeout("unix", h.Socket, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("servers: haproxy socket: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, fmt.Errorf("servers: haproxy socket: %w", err)
	}
	states := map[string]string{}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// CSV: pxname, svname, …, status is field 18 (index 17).
		f := strings.Split(sc.Text(), ",")
		if len(f) > 17 && f[0] == backend && f[1] != "BACKEND" && f[1] != "FRONTEND" {
			states[f[1]] = f[17]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("servers: haproxy socket: %w", err)
	}
	return states, nil
}

// LogTail returns about the last n lines of HAProxy's output (its log goes
// to stdout in deploy/haproxy.cfg).
func (h *HAProxy) LogTail(n int) string { return tailLines(h.console, n) }

// Stop ends HAProxy (SIGTERM, SIGKILL after a few seconds) and removes its
// directory. Idempotent.
func (h *HAProxy) Stop() error {
	h.stopOnce.Do(func() {
		h.proc.signal(syscall.SIGTERM)
		select {
		case <-h.proc.done:
		case <-time.After(5 * time.Second):
			h.proc.kill()
		}
		<-h.proc.done
		h.stopErr = os.RemoveAll(h.Dir)
	})
	return h.stopErr
}

// StartHAProxyForTest starts HAProxy for the test (see StartHAProxy),
// fails the test at once if it cannot, and stops it when the test ends,
// logging its output if the test failed.
func StartHAProxyForTest(t testing.TB, o HAProxyOptions) *HAProxy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := StartHAProxy(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("haproxy's log:\n%s", h.LogTail(60))
		}
		if err := h.Stop(); err != nil {
			t.Error(err)
		}
	})
	return h
}
