package servers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a private server. The zero value is a plain-text
// loopback server for domain "localhost" in a new temporary directory.
type Options struct {
	// Domain is the XMPP domain the server hosts (RFC 6120 §2.1).
	// Default "localhost".
	Domain string
	// TLS makes the c2s listener offer STARTTLS (RFC 6120 §5) with a
	// certificate for Domain signed by a CA generated for this server only;
	// Server.CAFile is that CA's PEM file. Default off: no STARTTLS offered.
	TLS bool
	// OwnBOSH also enables the server's own BOSH endpoint (XEP-0124/0206) on
	// a free loopback HTTP port with CORS on; Server.BOSHURL is its URL.
	// Default off.
	OwnBOSH bool
	// Backlog is the listen(2) backlog of the c2s (and HTTP) listener.
	// Default 1024 (the servers' own defaults, 128 and 5, reset or stall
	// connections at a few thousand sessions).
	Backlog int
	// Dir is the working directory for configuration, data, certificates
	// and logs; it is left in place on Stop. Default: a new temporary
	// directory, removed on Stop.
	Dir string
	// SASL limits the SASL mechanisms offered (RFC 6120 §6.3.3): SASLPlain
	// offers PLAIN only, SASLSCRAM the SCRAM family only. Default "": both.
	SASL string
	// LoadTest turns traffic shapers and rate limits off (ejabberd
	// shaper_rules {}, Prosody without mod_limits) and lowers log levels to
	// warnings, for benchmarks. Default off: the distributions' stock limits
	// apply (ejabberd 3000 B/s per c2s connection, Prosody 10 kB/s).
	LoadTest bool
}

// Values of Options.SASL.
const (
	SASLPlain = "PLAIN"
	SASLSCRAM = "SCRAM"
)

// Kinds of server, the values of Server.Kind.
const (
	KindProsody  = "prosody"
	KindEjabberd = "ejabberd"
)

// startTimeout bounds one start attempt when the caller's context has no
// deadline. ejabberd needs a few seconds; on a loaded CI machine, more.
const startTimeout = 60 * time.Second

// stopTimeout is how long Stop waits for a graceful exit before SIGKILL.
const stopTimeout = 20 * time.Second

// startAttempts is how often a start is tried with fresh ports when the
// previous attempt lost a port to another process.
const startAttempts = 3

// Server is one running private server. Its exported fields are set by the
// Start functions and must not be changed.
type Server struct {
	// Kind is KindProsody or KindEjabberd.
	Kind string
	// Domain is the XMPP domain the server hosts.
	Domain string
	// Addr is the c2s listener, "127.0.0.1:PORT" (RFC 6120 §3).
	Addr string
	// BOSHURL is the server's own BOSH endpoint when Options.OwnBOSH is set
	// (Prosody: http://127.0.0.1:PORT/http-bind, ejabberd:
	// http://127.0.0.1:PORT/bosh), else "".
	BOSHURL string
	// CAFile is the PEM file of the CA that signed the server certificate
	// when Options.TLS is set, else "".
	CAFile string
	// PID is the server process (lua5.4 for Prosody, beam.smp for
	// ejabberd), for RSS and CPU measurements.
	PID int
	// Dir is the working directory holding configuration, data and logs.
	Dir string

	opts    Options
	ownDir  bool
	logFile string // the server's own log
	console string // the process's stdout and stderr

	c2sPort, httpPort int

	// Prosody.
	cfgFile string

	// ejabberd.
	node     string // Erlang node name
	distPort int    // Erlang distribution port (no epmd)
	distAddr string // its IPv4 loopback address; "" is 127.0.0.1
	ctl      string // private copy of ejabberdctl
	home     string // HOME with the private .erlang.cookie

	proc *process

	stopOnce sync.Once
	stopErr  error
}

// errPortTaken marks a start attempt that failed because one of its ports
// was taken by another process between picking and binding; the attempt is
// retried with new ports.
var errPortTaken = errors.New("port taken by another process")

// flavor is what differs between server kinds in a start.
type flavor struct {
	kind string
	// prepare writes the configuration for the ports chosen in s; it runs
	// once per attempt.
	prepare func(s *Server) error
	// command is the program and arguments to run in the foreground.
	command func(s *Server) (name string, args []string, env []string)
	// ready is an extra readiness check after the c2s probe succeeded.
	ready func(ctx context.Context, s *Server) error
	// needsDistPort says whether an Erlang distribution port is needed.
	needsDistPort bool
	// ports picks n free ports; nil means freePorts. Tests replace it to
	// provoke a port race.
	ports func(n int) ([]int, error)
}

// start runs the common start sequence: directory, certificates, free
// ports, configuration, process, readiness, with retries on port races.
func start(ctx context.Context, o Options, f flavor) (*Server, error) {
	if o.Domain == "" {
		o.Domain = "localhost"
	}
	if o.Backlog <= 0 {
		o.Backlog = 1024
	}
	s := &Server{Kind: f.kind, Domain: o.Domain, opts: o, Dir: o.Dir}
	if s.Dir == "" {
		dir, err := os.MkdirTemp("", "boshd-"+f.kind+"-")
		if err != nil {
			return nil, fmt.Errorf("servers: start %s: %w", f.kind, err)
		}
		s.Dir, s.ownDir = dir, true
	} else if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("servers: start %s: %w", f.kind, err)
	}
	abs, err := filepath.Abs(s.Dir)
	if err != nil {
		s.removeDir()
		return nil, fmt.Errorf("servers: start %s: %w", f.kind, err)
	}
	s.Dir = abs
	if o.TLS {
		certs, err := WriteCerts(filepath.Join(s.Dir, "tls"), o.Domain)
		if s.CAFile = certs.CA; err != nil {
			s.removeDir()
			return nil, fmt.Errorf("servers: start %s: %w", f.kind, err)
		}
	}

	for attempt := 1; ; attempt++ {
		err = s.attempt(ctx, f)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts || ctx.Err() != nil {
			s.removeDir()
			return nil, fmt.Errorf("servers: start %s (attempt %d): %w", f.kind, attempt, err)
		}
	}
}

// attempt is one try at starting the server on freshly picked ports. On
// failure the process is gone when it returns.
func (s *Server) attempt(ctx context.Context, f flavor) error {
	n := 1
	if s.opts.OwnBOSH {
		n++
	}
	if f.needsDistPort {
		n++
	}
	pick := f.ports
	if pick == nil {
		pick = freePorts
	}
	ports, err := pick(n)
	if err != nil {
		return err
	}
	s.c2sPort, ports = ports[0], ports[1:]
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.c2sPort)
	s.httpPort, s.BOSHURL = 0, ""
	if s.opts.OwnBOSH {
		s.httpPort, ports = ports[0], ports[1:]
	}
	if f.needsDistPort {
		s.distPort = ports[0]
	}
	if err := f.prepare(s); err != nil {
		return err
	}

	name, args, env := f.command(s)
	p, err := startProcess(name, args, env, s.Dir, s.console)
	if err != nil {
		return err
	}
	s.proc, s.PID = p, p.pid

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	err = s.waitReady(ctx)
	if err == nil && f.ready != nil {
		err = f.ready(ctx, s)
	}
	if err != nil {
		p.kill()
		if !errors.Is(err, errPortTaken) && logMentionsPortInUse(s.LogTail(60)) {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return fmt.Errorf("%w\n--- log tail (%s) ---\n%s", err, s.Dir, s.LogTail(40))
	}
	return nil
}

// waitReady polls until the c2s listener (and the HTTP listener, if any)
// belongs to the server process and the c2s port answers a stream header
// with stream features. It never sleeps a fixed time before the first try.
func (s *Server) waitReady(ctx context.Context) error {
	ports := []int{s.c2sPort}
	for _, p := range []int{s.httpPort, s.distPort} {
		if p != 0 {
			ports = append(ports, p)
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if s.proc.exited() {
			return fmt.Errorf("%s exited during start: %v", s.Kind, s.proc.exitErr())
		}
		lastErr = s.checkListeners(ports)
		if errors.Is(lastErr, errPortTaken) {
			return lastErr
		}
		if lastErr == nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, lastErr = probeFeatures(pctx, s.Addr, s.Domain)
			cancel()
			if lastErr == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last check: %v)", s.Kind, ctx.Err(), lastErr)
		case <-s.proc.done:
		case <-tick.C:
		}
	}
}

// checkListeners reports nil when every port is listening on a socket of
// the server process, errPortTaken when one is held by another process, and
// another error while a port is not listening yet.
func (s *Server) checkListeners(ports []int) error {
	for _, port := range ports {
		owned, listening, err := listenerOwnedBy(s.PID, port)
		switch {
		case err != nil:
			return err
		case !listening:
			return fmt.Errorf("port %d not listening yet", port)
		case !owned:
			return fmt.Errorf("%w: 127.0.0.1:%d is not %s's (pid %d)", errPortTaken, port, s.Kind, s.PID)
		}
	}
	return nil
}

// logMentionsPortInUse reports whether a failed start was caused by a port
// that was taken (EADDRINUSE in Prosody's or ejabberd's words).
func logMentionsPortInUse(tail string) bool {
	t := strings.ToLower(tail)
	return strings.Contains(t, "eaddrinuse") || strings.Contains(t, "address already in use")
}

// LogTail returns about the last n lines of the server's log and of its
// console output, for error messages.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, f := range []string{s.logFile, s.console} {
		if f == "" {
			continue
		}
		fmt.Fprintf(&b, "== %s ==\n%s", filepath.Base(f), tailLines(f, n))
	}
	return b.String()
}

// tailLines returns the last n lines of a file (at most 64 KiB are read).
func tailLines(path string, n int) string {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	defer fh.Close()
	const max = 64 << 10
	st, err := fh.Stat()
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	off := max64(0, st.Size()-max)
	buf := make([]byte, st.Size()-off)
	if _, err := fh.ReadAt(buf, off); err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.SplitAfter(string(buf), "\n")
	if len(lines) > n+1 {
		lines = lines[len(lines)-n-1:]
	}
	out := strings.Join(lines, "")
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// Kill ends the server at once with SIGKILL to its process group, as if it
// crashed, and waits until it is gone: afterwards its ports refuse
// connections. For "upstream died mid-session" tests. The directory stays
// until Stop.
func (s *Server) Kill() error {
	if s.proc == nil {
		return nil
	}
	if err := s.proc.kill(); err != nil {
		return fmt.Errorf("servers: kill %s: %w", s.Kind, err)
	}
	return nil
}

// Stop asks the server to shut down gracefully (ejabberdctl stop, or
// SIGTERM for Prosody), waits for it, kills it if it hangs, and removes the
// directory if it was a temporary one. It is idempotent and safe after
// Kill; later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	var kids []procID
	if s.proc != nil && !s.proc.exited() {
		// Descendants outside the process group (Erlang's port
		// programs) are found now, while they are still below the server.
		kids = descendants(s.proc.pid)
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		var err error
		switch s.Kind {
		case KindEjabberd:
			err = s.ejabberdStop(ctx)
		default:
			err = s.proc.signal(syscall.SIGTERM)
		}
		if err != nil {
			// Fall back to SIGTERM, which both servers treat as a
			// graceful stop request.
			errs = append(errs, err)
			_ = s.proc.signal(syscall.SIGTERM)
		}
		select {
		case <-s.proc.done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("no exit within %v, killed", stopTimeout))
			_ = s.proc.kill()
		}
	}
	if s.proc != nil {
		<-s.proc.done
	}
	if err := reapDescendants(kids); err != nil {
		errs = append(errs, err)
	}
	if err := s.removeDir(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("servers: stop %s: %w", s.Kind, err)
	}
	return nil
}

// removeDir removes the working directory if Start created it.
func (s *Server) removeDir() error {
	if !s.ownDir || s.Dir == "" {
		return nil
	}
	return os.RemoveAll(s.Dir)
}
