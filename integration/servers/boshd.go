package servers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Boshd is a boshd process (the binary under test) that a test runs
// beside the servers.
type Boshd struct {
	// Addr is its listener, "127.0.0.1:PORT".
	Addr string

	cmd     *exec.Cmd
	out     *lockedBuffer
	exited  chan struct{} // closed when cmd has exited
	exitErr error         // cmd.Wait's error, set before exited closes
}

// StartBoshd runs the boshd binary bin with the configuration that config
// renders for a free loopback listen address ("127.0.0.1:PORT"), written
// to a file in t.TempDir() and passed as -config, followed by args. It
// returns once the listener answers HTTP. When the test ends it sends
// SIGTERM (twice, for a node that drains), kills it if it does not exit,
// and logs its output if the test failed.
func StartBoshd(t testing.TB, bin string, config func(listen string) string, args ...string) *Boshd {
	t.Helper()
	for attempt := 1; ; attempt++ {
		listen := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		path := filepath.Join(t.TempDir(), "boshd.toml")
		if err := os.WriteFile(path, []byte(config(listen)), 0o600); err != nil {
			t.Fatal(err)
		}
		b := &Boshd{Addr: listen, out: &lockedBuffer{}, exited: make(chan struct{})}
		b.cmd = exec.Command(bin, append([]string{"-config", path}, args...)...)
		b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
		// A crashed test binary takes boshd down too.
		b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := b.cmd.Start(); err != nil {
			t.Fatalf("start boshd: %v", err)
		}
		go func() {
			defer close(b.exited)
			b.exitErr = b.cmd.Wait()
		}()
		if err := WaitHTTP("http://"+listen+"/", b.exited, 10*time.Second); err != nil {
			b.cmd.Process.Kill()
			<-b.exited
			if attempt < startAttempts && strings.Contains(b.Output(), "address already in use") {
				continue
			}
			t.Fatalf("boshd did not start: %v\n%s", err, b.Output())
		}
		t.Cleanup(func() { b.stop(t) })
		return b
	}
}

// stop ends the process unless it has exited.
func (b *Boshd) stop(t testing.TB) {
	defer func() {
		if t.Failed() {
			t.Logf("boshd %s's output:\n%s", b.Addr, b.Output())
		}
	}()
	for range 2 {
		b.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
			return
		case <-time.After(5 * time.Second):
		}
	}
	b.cmd.Process.Kill()
	<-b.exited
	t.Errorf("boshd %s did not exit after two SIGTERMs", b.Addr)
}

// Signal sends sig to the process; a process that has exited is not an
// error.
func (b *Boshd) Signal(sig syscall.Signal) error {
	select {
	case <-b.exited:
		return nil
	default:
	}
	if err := b.cmd.Process.Signal(sig); err != nil && err != os.ErrProcessDone {
		return err
	}
	return nil
}

// Kill ends the process with SIGKILL, as a crash would, and waits until
// it is gone.
func (b *Boshd) Kill() error {
	if err := b.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-b.exited
	return nil
}

// Exited is closed when the process has exited; ExitErr is then its
// status (nil for exit 0).
func (b *Boshd) Exited() <-chan struct{} { return b.exited }

// ExitErr is the exit status; valid once Exited is closed.
func (b *Boshd) ExitErr() error { return b.exitErr }

// Output is what the process wrote so far (its log).
func (b *Boshd) Output() string { return b.out.String() }

// lockedBuffer is an io.Writer safe for a process's two output streams.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
