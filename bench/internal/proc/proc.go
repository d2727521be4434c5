// Package proc starts and stops the processes a benchmark command runs
// beside itself (boshd, the load generator, the servers), and stops every
// one of them when the command is interrupted, so that a benchmark cut
// short with Ctrl-C leaves no process behind. It serves bench/compare and
// bench/scale alike.
package proc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"boshd/integration/servers"
)

// Logf is how a command reports what proc does ("boshd n1: 12 log
// lines, last: …"). Default: discard.
var Logf = func(format string, args ...any) {}

// cleanups stop what the program started when it is interrupted; each is
// also run normally by its owner.
var (
	cleanupMu sync.Mutex
	cleanups  = map[int]func(){}
	cleanupID int
)

// AtExit registers f to run on SIGINT or SIGTERM (StopOnSignal); remove
// unregisters it, once its owner has run it.
func AtExit(f func()) (remove func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanupID++
	id := cleanupID
	cleanups[id] = f
	return func() {
		cleanupMu.Lock()
		delete(cleanups, id)
		cleanupMu.Unlock()
	}
}

// StopOnSignal makes SIGINT or SIGTERM run every function AtExit holds,
// then exit with status 1.
func StopOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		Logf("%v: stopping what was started", sig)
		cleanupMu.Lock()
		fs := make([]func(), 0, len(cleanups))
		for _, f := range cleanups {
			fs = append(fs, f)
		}
		cleanupMu.Unlock()
		for _, f := range fs {
			f()
		}
		os.Exit(1)
	}()
}

// RaiseFileLimit raises the open-file limit to n (tens of thousands of
// sessions need as many sockets), or says why it could not and goes on.
func RaiseFileLimit(n uint64) {
	lim := syscall.Rlimit{Cur: n, Max: n}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		Logf("raising the open-file limit to %d: %v (continuing)", n, err)
	}
}

// Build builds cmd/boshload, and cmd/boshd unless boshdBin names a binary
// to use, into dir; it returns the two binaries' paths.
func Build(dir, boshdBin string) (boshd, boshload string, err error) {
	boshd, boshload = filepath.Join(dir, "boshd"), filepath.Join(dir, "boshload")
	builds := map[string]string{boshd: "./cmd/boshd", boshload: "./cmd/boshload"}
	if boshdBin != "" {
		delete(builds, boshd)
		boshd = boshdBin
	}
	for bin, pkg := range builds {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return boshd, boshload, nil
}

// BoshdOptions configure StartBoshd.
type BoshdOptions struct {
	// Name names the process in what Logf shows. Default "boshd".
	Name string
	// Config renders the TOML configuration for the listen address
	// ("127.0.0.1:PORT") and, with TLS, the [http] lines naming the
	// certificate and key (tls_cert, tls_key; "" without TLS). Required.
	Config func(listen, tlsKeys string) string
	// TLS has boshd serve HTTPS with a certificate made for 127.0.0.1.
	TLS bool
	// Env is added to boshd's environment.
	Env []string
}

// Boshd is a running boshd.
type Boshd struct {
	// URL is its BOSH endpoint (http or https://127.0.0.1:PORT/http-bind).
	URL string
	// Cmd is its process.
	Cmd *exec.Cmd

	name   string
	dir    string // its configuration and log; removed by Stop
	exited chan struct{}
}

// StartBoshd runs bin with the configuration o renders for a free
// loopback port, its output in a log file of its own directory, and
// returns once it answers HTTP; a port taken meanwhile is retried. The
// process dies with the command (Pdeathsig).
func StartBoshd(bin string, o BoshdOptions) (*Boshd, error) {
	if o.Name == "" {
		o.Name = "boshd"
	}
	dir, err := os.MkdirTemp("", "bench-boshd-")
	if err != nil {
		return nil, err
	}
	scheme, tlsKeys := "http", ""
	if o.TLS {
		certs, err := servers.WriteCerts(filepath.Join(dir, "tls"), "127.0.0.1")
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		scheme, tlsKeys = "https", fmt.Sprintf("tls_cert = %q\ntls_key = %q\n", certs.Cert, certs.Key)
	}
	logPath := filepath.Join(dir, "boshd.log")
	for attempt := 1; ; attempt++ {
		listen, err := FreeAddr()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		path := filepath.Join(dir, "boshd.toml")
		if err := os.WriteFile(path, []byte(o.Config(listen, tlsKeys)), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		logFile, err := os.Create(logPath)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		cmd := exec.Command(bin, "-config", path)
		cmd.Env = append(os.Environ(), o.Env...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logFile.Close()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		b := &Boshd{URL: scheme + "://" + listen + "/http-bind", Cmd: cmd, name: o.Name, dir: dir, exited: make(chan struct{})}
		go func() { cmd.Wait(); close(b.exited) }()
		// Plain HTTP even when boshd serves HTTPS: Go's TLS server answers
		// it with a 400, which says it is up.
		err = servers.WaitHTTP("http://"+listen+"/", b.exited, 10*time.Second)
		if err == nil {
			return b, nil
		}
		b.Kill()
		out, _ := os.ReadFile(logPath)
		if attempt < 3 && strings.Contains(string(out), "address already in use") {
			continue
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s did not start: %w\n%s", o.Name, err, out)
	}
}

// Stop ends the process: SIGTERM (twice: a draining node ends its grace
// at the second), SIGKILL after 15 s; its log's last line is shown
// (Logf) and its directory removed.
func (b *Boshd) Stop() {
	for range 2 {
		b.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(7500 * time.Millisecond):
			continue
		}
		break
	}
	b.Kill()
	if out, err := os.ReadFile(filepath.Join(b.dir, "boshd.log")); err == nil && len(out) > 0 {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		Logf("%s: %d log lines, last: %s", b.name, len(lines), lines[len(lines)-1])
	}
	os.RemoveAll(b.dir)
}

// Kill ends the process with SIGKILL, as a crash would, and waits until it
// is gone.
func (b *Boshd) Kill() {
	select {
	case <-b.exited:
		return
	default:
	}
	if err := b.Cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		Logf("kill %s: %v", b.name, err)
	}
	<-b.exited
}

// Exited is closed once the process has exited.
func (b *Boshd) Exited() <-chan struct{} { return b.exited }

// FreeAddr returns a loopback address ("127.0.0.1:PORT") free a moment
// ago; a process started on it may still find it taken, and retries.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
