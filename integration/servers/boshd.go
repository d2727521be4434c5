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
	// ConfigFile is the path of its configuration file (a test may
	// rewrite it and Signal SIGHUP).
	ConfigFile string
	// LogFile is the path of a file with its output, as Output returns it.
	LogFile string

	cmd     *exec.Cmd
	out     *lockedBuffer
	exited  chan struct{} // closed when cmd has exited
	exitErr error         // cmd.Wait's error, set before exited closes
	strict  bool          // BoshdOptions.CheckExit
}

// BoshdOptions configure StartBoshd.
type BoshdOptions struct {
	// Bin is the boshd binary. Default: BoshdBinary's, built once per
	// test binary.
	Bin string
	// Config renders the TOML configuration for the listen address
	// ("127.0.0.1:PORT"). Required.
	Config func(listen string) string
	// Args are extra command-line flags after -config.
	Args []string
	// CheckExit fails the test when the process, stopped at the end of
	// the test, exits with an error status.
	CheckExit bool
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// BoshdBinary builds cmd/boshd once per test binary, into a temporary
// directory that RemoveBoshdBinary removes (call it from TestMain after
// m.Run), and returns its path.
func BoshdBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "boshd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "boshd")
		if out, err := exec.Command("go", "build", "-o", builtBin, "boshd/cmd/boshd").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build boshd/cmd/boshd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// RemoveBoshdBinary removes what BoshdBinary built, if anything.
func RemoveBoshdBinary() {
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
}

// StartBoshd runs boshd with the configuration o.Config renders for a free
// loopback listen address, written to a file in t.TempDir() and passed as
// -config, followed by o.Args. It returns once the listener answers HTTP
// (plain HTTP even when boshd serves HTTPS: Go's TLS server answers that
// with a 400, which says it is up). When the test ends it sends SIGTERM
// (twice, for a node that drains), kills it if it does not exit, and logs
// its output if the test failed.
func StartBoshd(t testing.TB, o BoshdOptions) *Boshd {
	t.Helper()
	if o.Bin == "" {
		o.Bin = BoshdBinary(t)
	}
	for attempt := 1; ; attempt++ {
		listen := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		dir := t.TempDir()
		path := filepath.Join(dir, "boshd.toml")
		if err := os.WriteFile(path, []byte(o.Config(listen)), 0o600); err != nil {
			t.Fatal(err)
		}
		logFile, err := os.Create(filepath.Join(dir, "boshd.log"))
		if err != nil {
			t.Fatal(err)
		}
		b := &Boshd{Addr: listen, ConfigFile: path, LogFile: logFile.Name(), out: &lockedBuffer{file: logFile}, exited: make(chan struct{}), strict: o.CheckExit}
		b.cmd = exec.Command(o.Bin, append([]string{"-config", path}, o.Args...)...)
		b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
		// A crashed test binary takes boshd down too.
		b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := b.cmd.Start(); err != nil {
			logFile.Close()
			t.Fatalf("start boshd: %v", err)
		}
		go func() {
			defer close(b.exited)
			b.exitErr = b.cmd.Wait()
			logFile.Close()
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
			if b.strict && b.exitErr != nil {
				t.Errorf("boshd %s exited with %v", b.Addr, b.exitErr)
			}
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

// lockedBuffer is an io.Writer safe for a process's two output streams,
// keeping what they write and copying it to file.
type lockedBuffer struct {
	mu   sync.Mutex
	b    strings.Builder
	file *os.File
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.file.Write(p)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
