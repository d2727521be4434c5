package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"boshd/bosh/client"
)

// options are the command-line settings.
type options struct {
	urls                  []string
	domain, route         string
	firstUser             int
	spread                string
	sync                  bool
	n, concurrency        int
	userPattern, password string
	resource              string
	rates                 []float64
	duration              time.Duration
	setupTimeout, settle  time.Duration
	drain, closeTimeout   time.Duration
	pids                  string
	sourceAddrs           string
	h2, insecure          bool
	jsonPath              string
	merge                 []string
	maxSetupFailures      int
	label                 string
	progressEvery         time.Duration
	maxInflightSends      int
	messageBody           string
	idleConns             int
	// profileURL serves net/http/pprof (boshd's [debug] pprof_listen): a
	// heap profile when idle goes to profilePrefix-idle.heap.pprof, a CPU
	// profile of each message phase to profilePrefix-RATE.pprof.
	profileURL, profilePrefix string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, code := parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(o.merge) > 0 {
		return mergeFiles(o.merge, o.jsonPath, stdout, stderr)
	}
	pids, err := parsePIDs(o.pids)
	if err != nil {
		fmt.Fprintln(stderr, "boshload:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l := &loader{o: o, pids: pids, stderr: stderr, stdin: os.Stdin}
	l.progressOn = isTerminal(stderr)
	res, err := l.run(ctx)
	if res != nil {
		if werr := writeResult(res, o.jsonPath, stdout); werr != nil {
			fmt.Fprintln(stderr, "boshload:", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "boshload:", err)
		return 1
	}
	return 0
}

// parseArgs reads the command line; code is -1 to go on, else the exit
// status (2 for a usage error).
func parseArgs(args []string, stderr io.Writer) (o options, code int) {
	fs := flag.NewFlagSet("boshload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := &listFlag{def: []string{"http://127.0.0.1:5280/http-bind"}}
	fs.Var(urls, "url", "BOSH endpoint, or a ws:// or wss:// RFC 7395 WebSocket endpoint; repeat it or give a comma list to spread the sessions over several endpoints round-robin (see -spread)")
	merge := &listFlag{}
	fs.Var(merge, "merge", "run nothing: merge these JSON results of boshload processes run side by side into one (repeat or comma list); the result goes to -json or stdout")
	fs.IntVar(&o.firstUser, "first-user", 0, "number of the first user (-user's %d) and of the first session in the -url rotation, so several processes use disjoint users")
	fs.StringVar(&o.spread, "spread", "pair", "how sessions go round the endpoints: 'pair' (the two sessions of a chatting pair on one endpoint, needed when endpoints front servers that do not share users) or 'session'")
	fs.BoolVar(&o.sync, "sync", false, "before each phase write 'boshload sync PHASE' on stderr and wait for a line on stdin (so a driver can keep several boshload processes in step)")
	fs.StringVar(&o.domain, "domain", "localhost", "XMPP domain (the 'to' attribute)")
	fs.StringVar(&o.route, "route", "", "optional 'route' attribute, xmpp:host:port")
	fs.IntVar(&o.n, "n", 1000, "sessions (even; sessions 2k and 2k+1 chat together)")
	fs.IntVar(&o.concurrency, "c", 100, "most sessions being set up at once")
	fs.StringVar(&o.userPattern, "user", "load%d", "user-name pattern; %d is the session number from 0")
	fs.StringVar(&o.password, "password", "secret", "password of every user")
	fs.StringVar(&o.resource, "resource", "boshload", "resource to bind")
	rateList := fs.String("rate", "200", "messages per second, all sessions together; a comma list runs one message phase per rate on the same sessions")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "length of each message phase")
	fs.DurationVar(&o.setupTimeout, "setup-timeout", 10*time.Minute, "bound of the setup phase")
	fs.DurationVar(&o.settle, "settle", 10*time.Second, "idle time before memory is read")
	fs.DurationVar(&o.drain, "drain", 15*time.Second, "how long to wait for messages still on their way")
	fs.DurationVar(&o.closeTimeout, "close-timeout", 2*time.Minute, "bound of the close phase")
	fs.StringVar(&o.pids, "pids", "", "processes to measure, name=pid,... (e.g. boshd=123,prosody=456)")
	fs.StringVar(&o.sourceAddrs, "source-addrs", "", "local addresses to spread connections over, e.g. 127.0.0.2,127.0.0.3")
	fs.BoolVar(&o.h2, "h2", false, "HTTP/2 (the URL must be https)")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server certificate")
	fs.StringVar(&o.jsonPath, "json", "", "write the JSON result here instead of stdout")
	fs.IntVar(&o.maxSetupFailures, "max-setup-failures", -1, "abort setup after this many failed sessions (-1: 1% of n, at least 10)")
	fs.StringVar(&o.label, "label", "", "free text copied into the result")
	fs.DurationVar(&o.progressEvery, "progress", time.Second, "progress line interval (only on a terminal)")
	fs.IntVar(&o.maxInflightSends, "max-inflight", 20000, "most message requests in flight")
	fs.StringVar(&o.messageBody, "body", "Hello, this is a load test message of typical chat length.", "message text")
	fs.IntVar(&o.idleConns, "idle-conns", 0, "idle keep-alive connections kept (default n)")
	fs.StringVar(&o.profileURL, "profile-url", "", "base URL of a Go process's net/http/pprof (e.g. boshd's [debug] pprof_listen, http://127.0.0.1:6060): take a heap profile of it when idle, after memory is read, and a CPU profile during each message phase")
	fs.StringVar(&o.profilePrefix, "profile-prefix", "boshload-profile", "with -profile-url, the heap profile is written to PREFIX-idle.heap.pprof and each phase's CPU profile to PREFIX-RATE.pprof")
	if err := fs.Parse(args); err != nil {
		return o, 2
	}
	usage := func(format string, args ...any) (options, int) {
		fmt.Fprintf(stderr, "boshload: "+format+"\n", args...)
		return o, 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	o.merge = merge.values()
	if len(o.merge) > 0 {
		return o, -1
	}
	o.urls = urls.values()
	for _, u := range o.urls {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return usage("bad -url %q (want http:// or https://)", u)
		}
	}
	for _, f := range strings.Split(*rateList, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r < 0 {
			return usage("bad -rate %q", f)
		}
		o.rates = append(o.rates, r)
	}
	if o.n < 2 || o.n%2 != 0 {
		return usage("-n must be even and at least 2")
	}
	if o.firstUser < 0 || o.firstUser%2 != 0 {
		return usage("-first-user must be even and not negative (pairs stay pairs)")
	}
	if o.spread != "pair" && o.spread != "session" {
		return usage("bad -spread %q (want pair or session)", o.spread)
	}
	if o.maxSetupFailures < 0 {
		o.maxSetupFailures = max(10, o.n/100)
	}
	if o.idleConns == 0 {
		o.idleConns = o.n
	}
	return o, -1
}

// listFlag is a flag that may be repeated, each value a comma list; the
// first use replaces the default.
type listFlag struct {
	def, set []string
	used     bool
}

func (f *listFlag) String() string { return strings.Join(f.values(), ",") }

func (f *listFlag) Set(v string) error {
	f.used = true
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			f.set = append(f.set, s)
		}
	}
	return nil
}

func (f *listFlag) values() []string {
	if f.used {
		return f.set
	}
	return f.def
}

// endpoint is the -url index of session i (numbered from -first-user):
// round-robin by session or by chatting pair.
func (o *options) endpoint(i int) int {
	g := o.firstUser + i
	if o.spread == "pair" {
		g /= 2
	}
	return g % len(o.urls)
}

// writeResult writes res as indented JSON to path, or to w when path is "".
func writeResult(res *Result, path string, w io.Writer) error {
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parsePIDs reads "name=pid,name=pid".
func parsePIDs(s string) ([]namedPID, error) {
	var out []namedPID
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, v, ok := strings.Cut(f, "=")
		if !ok {
			name, v = "pid"+f, f
		}
		pid, err := strconv.Atoi(v)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("bad -pids entry %q (want name=pid)", f)
		}
		out = append(out, namedPID{Name: name, PID: pid})
	}
	return out, nil
}

type namedPID struct {
	Name string
	PID  int
}

// loader runs the phases and collects the result.
type loader struct {
	o          options
	pids       []namedPID
	stderr     io.Writer
	stdin      io.Reader
	goLines    chan struct{} // a line read from stdin (-sync); closed at its end
	progressOn bool

	sessions []session

	// Messages: sent time (unix ns) and receipts by sequence number.
	sentAt   []atomic.Int64
	received []atomic.Int32
	recvAt   []atomic.Int64
	nSent    atomic.Int64
	nRecv    atomic.Int64
	nDup     atomic.Int64
	nSendErr atomic.Int64
	nStray   atomic.Int64

	sendErrMu    sync.Mutex
	sendErrKinds map[string]int
	firstSendErr string

	runWG    sync.WaitGroup
	runErrs  atomic.Int64
	firstErr atomic.Value // string
}

// Result is the JSON document boshload prints.
type Result struct {
	Label string `json:"label,omitempty"`
	// URL is the first endpoint, URLs all of them (sessions spread over
	// them round-robin).
	URL       string   `json:"url"`
	URLs      []string `json:"urls,omitempty"`
	Transport string   `json:"transport"`
	// Processes is how many boshload processes the result sums (more than
	// 1 for a -merge); Merged names their files.
	Processes   int      `json:"processes"`
	Merged      []string `json:"merged,omitempty"`
	N           int      `json:"n"`
	Concurrency int      `json:"concurrency"`
	DurationS   float64  `json:"duration_s"`

	Setup struct {
		Ok, Failed     int
		Seconds        float64
		PerSecond      float64        `json:"per_second"`
		LoginP50Ms     float64        `json:"login_p50_ms"`
		LoginP99Ms     float64        `json:"login_p99_ms"`
		FirstError     string         `json:"first_error,omitempty"`
		AbortedEarly   bool           `json:"aborted_early,omitempty"`
		TimedOut       bool           `json:"timed_out,omitempty"`
		FailuresByKind map[string]int `json:"failures_by_kind,omitempty"`
		// LoginHist counts the login times, for merging.
		LoginHist *Hist `json:"login_hist,omitempty"`
	} `json:"setup"`

	Memory []ProcMemory `json:"memory"`

	// Phases has one entry per message rate, in the order given.
	Phases []*MessagePhase `json:"phases"`

	// IdleCPU is the CPU time of the measured processes while idle.
	IdleCPU []ProcCPU `json:"idle_cpu"`

	// SessionsEnded counts sessions that ended before the close phase
	// (terminated by the server, retries exhausted), with the first reason.
	SessionsEnded   int64  `json:"sessions_ended_early"`
	FirstSessionErr string `json:"first_session_error,omitempty"`

	Close struct {
		Ok, Failed int
		Seconds    float64
		TimedOut   bool `json:"timed_out,omitempty"`
	} `json:"close"`

	Error string `json:"error,omitempty"`
}

// MessagePhase is the outcome of one message phase.
type MessagePhase struct {
	Rate                                                 float64 `json:"rate"`
	Sent, Delivered, Lost, Duplicated, SendErrors, Stray int64
	P50Ms, P90Ms, P99Ms, MaxMs                           float64
	PhaseSeconds                                         float64   `json:"phase_seconds"`
	AchievedRate                                         float64   `json:"achieved_rate"`
	CPU                                                  []ProcCPU `json:"cpu"`
	// GeneratorCPUSeconds is boshload's own CPU time in the phase: on a
	// small machine the generator competes with the target for the cores.
	GeneratorCPUSeconds float64 `json:"generator_cpu_s"`
	// LoadAvg1 is the machine's one-minute load average at the end of
	// the phase (/proc/loadavg): a value far above the core count says
	// that other work shared the machine.
	LoadAvg1 float64 `json:"loadavg1"`
	// SendErrorKinds counts the failed sends by class, and FirstSendError
	// is the first one's text, so that a loss can be traced to its cause.
	SendErrorKinds map[string]int `json:"send_error_kinds,omitempty"`
	FirstSendError string         `json:"first_send_error,omitempty"`
	// LatencyHist counts the latencies, for merging and charts.
	LatencyHist *Hist `json:"latency_hist,omitempty"`
}

// ProcMemory is the RSS of one measured process around the setup phase.
type ProcMemory struct {
	Name           string  `json:"name"`
	PID            int     `json:"pid"`
	RSSBeforeKB    int64   `json:"rss_before_kb"`
	RSSAfterKB     int64   `json:"rss_after_kb"`
	PerSessionKB   float64 `json:"per_session_kb"`
	OpenFilesAfter int     `json:"open_files_after"`
}

// ProcCPU is the CPU time of one measured process over the message phase.
type ProcCPU struct {
	Name           string  `json:"name"`
	PID            int     `json:"pid"`
	Seconds        float64 `json:"seconds"`
	MsPerDelivered float64 `json:"ms_per_delivered"`
	SetupSeconds   float64 `json:"setup_seconds"`
	IdleSeconds    float64 `json:"idle_seconds"`
	// SetupMsPerSession is SetupSeconds per session logged in (ms of CPU
	// for one login), IdleMsPerSession IdleSeconds per session.
	SetupMsPerSession float64 `json:"setup_ms_per_session,omitempty"`
	IdleMsPerSession  float64 `json:"idle_ms_per_session,omitempty"`
}

func (l *loader) transport() (string, []*http.Client, []*client.Pool, error) {
	o := l.o
	if len(o.urls) > 0 && strings.HasPrefix(o.urls[0], "ws") {
		for _, u := range o.urls {
			if !strings.HasPrefix(u, "ws") {
				return "", nil, nil, fmt.Errorf("-url %s: WebSocket and BOSH endpoints cannot be mixed in one run", u)
			}
		}
		return "websocket (RFC 7395, coder/websocket)", nil, nil, nil
	}
	var addrs []string
	for _, a := range strings.Split(o.sourceAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if !o.h2 {
		// HTTP/1.1 on the light pool, one per source address.
		var pools []*client.Pool
		for _, a := range addrs {
			ip := net.ParseIP(a)
			if ip == nil {
				return "", nil, nil, fmt.Errorf("bad source address %q", a)
			}
			pools = append(pools, &client.Pool{MaxIdlePerHost: o.idleConns, LocalAddr: &net.TCPAddr{IP: ip},
				TLSConfig: &tls.Config{InsecureSkipVerify: o.insecure}})
		}
		if len(pools) == 0 {
			return "http/1.1 (client.Pool)", nil, []*client.Pool{{MaxIdlePerHost: o.idleConns,
				TLSConfig: &tls.Config{InsecureSkipVerify: o.insecure}}}, nil
		}
		return fmt.Sprintf("http/1.1 (client.Pool), %d source addresses", len(pools)), nil, pools, nil
	}
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	var hcs []*http.Client
	for _, a := range addrs {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		if a != "" {
			ip := net.ParseIP(a)
			if ip == nil {
				return "", nil, nil, fmt.Errorf("bad source address %q", a)
			}
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
		t := &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: o.idleConns,
			IdleConnTimeout:     90 * time.Second,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: o.insecure},
			DisableCompression:  true,
		}
		p := new(http.Protocols)
		p.SetHTTP2(true)
		t.Protocols = p
		t.ForceAttemptHTTP2 = true
		hcs = append(hcs, &http.Client{Transport: t})
	}
	name := "http/2 (net/http)"
	if o.sourceAddrs != "" {
		name += fmt.Sprintf(", %d source addresses", len(addrs))
	}
	return name, hcs, nil, nil
}

func (l *loader) run(ctx context.Context) (*Result, error) {
	o := l.o
	res := &Result{Label: o.label, URL: o.urls[0], URLs: o.urls, Processes: 1, N: o.n, Concurrency: o.concurrency, DurationS: o.duration.Seconds()}
	tname, hcs, pool, err := l.transport()
	if err != nil {
		return nil, err
	}
	res.Transport = tname
	nmsg := 0
	for _, r := range o.rates {
		nmsg += int(r*o.duration.Seconds()) + 1
	}
	l.sentAt = make([]atomic.Int64, nmsg)
	l.received = make([]atomic.Int32, nmsg)
	l.recvAt = make([]atomic.Int64, nmsg)
	l.sessions = make([]session, o.n)

	memBefore := readMem(l.pids)
	cpu0 := readCPU(l.pids)
	if err := l.barrier(ctx, "setup"); err != nil {
		return res, err
	}

	// Run's goroutines stop when runCtx ends (after close).
	runCtx, stopRuns := context.WithCancel(context.Background())
	defer func() {
		stopRuns()
		waitTimeout(&l.runWG, 10*time.Second)
	}()

	// Phase 1: setup.
	if err := l.setup(ctx, runCtx, res, hcs, pool); err != nil {
		res.Error = err.Error()
		l.closeAll(res)
		return res, err
	}
	cpu1 := readCPU(l.pids)

	// Phase 2: idle.
	if err := l.barrier(ctx, "idle"); err != nil {
		l.closeAll(res)
		return res, err
	}
	l.progress("idle: %d sessions logged in, settling %s", res.Setup.Ok, o.settle)
	if !sleepCtx(ctx, o.settle) {
		l.closeAll(res)
		return res, ctx.Err()
	}
	memAfter := readMem(l.pids)
	cpu2 := readCPU(l.pids)
	if o.profileURL != "" {
		// What is live per idle session, after the RSS was read (the
		// forced collection would lower it).
		if err := fetchProfile(ctx, o.profileURL+"/debug/pprof/heap?gc=1", o.profilePrefix+"-idle.heap.pprof", time.Minute); err != nil {
			fmt.Fprintln(l.stderr, "boshload:", err)
		}
	}
	for i, p := range l.pids {
		m := ProcMemory{Name: p.Name, PID: p.PID, RSSBeforeKB: memBefore[i], RSSAfterKB: memAfter[i], OpenFilesAfter: openFiles(p.PID)}
		if res.Setup.Ok > 0 {
			m.PerSessionKB = float64(memAfter[i]-memBefore[i]) / float64(res.Setup.Ok)
		}
		res.Memory = append(res.Memory, m)
	}

	for i, p := range l.pids {
		c := ProcCPU{Name: p.Name, PID: p.PID, SetupSeconds: cpu1[i] - cpu0[i], IdleSeconds: cpu2[i] - cpu1[i]}
		c.perSession(res.Setup.Ok)
		res.IdleCPU = append(res.IdleCPU, c)
	}

	// Phase 3: messages, once per rate.
	first := 0
	for _, rate := range o.rates {
		if rate <= 0 || o.duration <= 0 || ctx.Err() != nil {
			continue
		}
		n := int(rate*o.duration.Seconds()) + 1
		if err := l.barrier(ctx, fmt.Sprintf("messages-%g", rate)); err != nil {
			break
		}
		self := []namedPID{{"boshload", os.Getpid()}}
		var profiled func() error
		if o.profileURL != "" {
			profiled = startProfile(ctx, o.profileURL, fmt.Sprintf("%s-%g.pprof", o.profilePrefix, rate), o.duration)
		}
		c0, s0 := readCPU(l.pids), readCPU(self)
		ph := l.messages(ctx, rate, first, n)
		c1, s1 := readCPU(l.pids), readCPU(self)
		if profiled != nil {
			if err := profiled(); err != nil {
				fmt.Fprintln(l.stderr, "boshload:", err)
			}
		}
		ph.GeneratorCPUSeconds = s1[0] - s0[0]
		ph.LoadAvg1 = loadAvg1()
		for i, p := range l.pids {
			c := ProcCPU{Name: p.Name, PID: p.PID, Seconds: c1[i] - c0[i]}
			c.perMessage(ph.Delivered)
			ph.CPU = append(ph.CPU, c)
		}
		res.Phases = append(res.Phases, ph)
		first += n
	}
	res.SessionsEnded = l.runErrs.Load()
	if v, ok := l.firstErr.Load().(string); ok {
		res.FirstSessionErr = v
	}
	l.barrier(ctx, "close")

	// Phase 4: close.
	l.closeAll(res)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// setup creates and logs in the sessions.
func (l *loader) setup(ctx, runCtx context.Context, res *Result, hcs []*http.Client, pools []*client.Pool) error {
	o := l.o
	sctx, cancel := context.WithTimeout(ctx, o.setupTimeout)
	defer cancel()
	start := time.Now()
	var (
		mu       sync.Mutex
		logins   []float64
		ok, fail atomic.Int64
		kinds    = map[string]int{}
		first    string
		abort    atomic.Bool
	)
	failTo := func(err error) {
		fail.Add(1)
		mu.Lock()
		if first == "" {
			first = err.Error()
		}
		kinds[errKind(err)]++
		mu.Unlock()
	}
	next := atomic.Int64{}
	stopProgress := l.ticker(func() string {
		return fmt.Sprintf("setup: %d/%d logged in, %d failed, %.0f/s", ok.Load(), o.n, fail.Load(), float64(ok.Load())/time.Since(start).Seconds())
	})
	var wg sync.WaitGroup
	for range min(o.concurrency, o.n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.n || sctx.Err() != nil || abort.Load() {
					return
				}
				t0 := time.Now()
				user := strings.ReplaceAll(o.userPattern, "%d", strconv.Itoa(o.firstUser+i))
				url := o.urls[o.endpoint(i)]
				var s session
				var err error
				if strings.HasPrefix(url, "ws") {
					s, err = dialWS(sctx, url, o.domain, user, o.password, o.resource, l.onStanza)
				} else {
					cfg := client.Config{
						URL: url, Domain: o.domain, Route: o.route, Wait: 60, Hold: 1, Ver: "1.6",
						OnStanza: func(_ *client.Session, st []byte) { l.onStanza(st) }, Timeout: 0,
					}
					if hcs != nil {
						cfg.HTTPClient = hcs[i%len(hcs)]
					} else {
						cfg.Pool = pools[i%len(pools)]
					}
					var bs *client.Session
					bs, err = client.Connect(sctx, cfg)
					if err == nil {
						if err = bs.Login(sctx, user, o.password, "PLAIN", o.resource); err != nil {
							bs.Close(context.Background())
						} else {
							s = boshSession{bs}
						}
					}
				}
				if err == nil {
					l.sessions[i] = s
					l.runWG.Add(1)
					go func() {
						defer l.runWG.Done()
						err := s.Run(runCtx)
						if runCtx.Err() == nil && !errors.Is(err, client.ErrClosed) {
							l.runErrs.Add(1)
							l.firstErr.CompareAndSwap(nil, fmt.Sprintf("session %d: %v", i, err))
						}
					}()
					// Initial presence (RFC 6121 §4.2), sent with the poll held.
					err = s.Send(sctx, []byte("<presence xmlns='jabber:client'/>"))
				}
				if err != nil {
					failTo(fmt.Errorf("session %d: %w", i, err))
					if ok.Load() == 0 && fail.Load() >= int64(min(o.concurrency, o.n)) || fail.Load() > int64(o.maxSetupFailures) {
						abort.Store(true)
					}
					continue
				}
				d := time.Since(t0).Seconds() * 1000
				mu.Lock()
				logins = append(logins, d)
				mu.Unlock()
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	stopProgress()
	el := time.Since(start).Seconds()
	res.Setup.Ok, res.Setup.Failed, res.Setup.Seconds = int(ok.Load()), int(fail.Load()), el
	res.Setup.PerSecond = float64(ok.Load()) / el
	res.Setup.LoginP50Ms, res.Setup.LoginP99Ms = percentile(logins, 50), percentile(logins, 99)
	res.Setup.LoginHist = newHist(logins)
	res.Setup.FirstError = first
	if len(kinds) > 0 {
		res.Setup.FailuresByKind = kinds
	}
	res.Setup.AbortedEarly = abort.Load()
	res.Setup.TimedOut = sctx.Err() == context.DeadlineExceeded
	l.progressDone(fmt.Sprintf("setup: %d logged in, %d failed in %.1fs (%.0f/s), login p50 %.0f ms p99 %.0f ms",
		ok.Load(), fail.Load(), el, res.Setup.PerSecond, res.Setup.LoginP50Ms, res.Setup.LoginP99Ms))
	switch {
	case ok.Load() == 0:
		return fmt.Errorf("target %s refused every session: %s", strings.Join(o.urls, ","), first)
	case abort.Load():
		return fmt.Errorf("setup aborted after %d failures (first: %s)", fail.Load(), first)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return nil
}

// errKind names an error's class for the failure table.
func errKind(err error) string {
	var te *client.TerminateError
	var he *client.HTTPError
	var ne net.Error
	switch {
	case errors.As(err, &te):
		return "terminate:" + te.Condition
	case errors.As(err, &he):
		return "http:" + strconv.Itoa(he.Status)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port (EADDRNOTAVAIL)"
	case errors.Is(err, syscall.EMFILE):
		return "too many open files"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

// idAttr starts the id of a boshload message, in either quote: boshd and
// the servers relay single quotes, node-xmpp-bosh re-serialises with double.
var idAttr = [2][]byte{[]byte(" id='lm"), []byte(` id="lm`)}

// onStanza receives every stanza of every session; message stanzas with
// a boshload id are counted.
func (l *loader) onStanza(st []byte) {
	now := time.Now().UnixNano()
	if !bytes.HasPrefix(st, []byte("<message")) {
		return
	}
	q := 0
	i := bytes.Index(st, idAttr[0])
	if i < 0 {
		q = 1
		i = bytes.Index(st, idAttr[1])
	}
	if i < 0 {
		l.nStray.Add(1)
		return
	}
	rest := st[i+len(idAttr[q]):]
	j := bytes.IndexByte(rest, idAttr[q][4])
	if j < 0 {
		l.nStray.Add(1)
		return
	}
	seq, err := strconv.Atoi(string(rest[:j]))
	if err != nil || seq < 0 || seq >= len(l.received) {
		l.nStray.Add(1)
		return
	}
	if l.received[seq].Add(1) == 1 {
		l.recvAt[seq].Store(now)
		l.nRecv.Add(1)
	} else {
		l.nDup.Add(1)
	}
}

// messages sends chat messages at o.rate between session pairs for
// o.duration, then waits up to o.drain for the last ones.
func (l *loader) messages(ctx context.Context, rate float64, first, nmsg int) *MessagePhase {
	o := l.o
	m := &MessagePhase{Rate: rate}
	// Pairs whose both sessions are up.
	var pairs [][2]int
	for p := 0; p+1 < o.n; p += 2 {
		if l.sessions[p] != nil && l.sessions[p+1] != nil {
			pairs = append(pairs, [2]int{p, p + 1})
		}
	}
	if len(pairs) == 0 {
		return m
	}
	sent0, recv0, dup0, err0, stray0 := l.nSent.Load(), l.nRecv.Load(), l.nDup.Load(), l.nSendErr.Load(), l.nStray.Load()
	l.sendErrMu.Lock()
	l.sendErrKinds, l.firstSendErr = map[string]int{}, ""
	l.sendErrMu.Unlock()
	sem := make(chan struct{}, o.maxInflightSends)
	var wg sync.WaitGroup
	start := time.Now()
	phaseCtx, cancel := context.WithTimeout(ctx, o.duration+o.drain+30*time.Second)
	defer cancel()
	stopProgress := l.ticker(func() string {
		s, r := l.nSent.Load()-sent0, l.nRecv.Load()-recv0
		return fmt.Sprintf("messages at %.0f/s: %.0fs sent %d delivered %d in flight %d dup %d errors %d",
			rate, time.Since(start).Seconds(), s, r, s-r, l.nDup.Load()-dup0, l.nSendErr.Load()-err0)
	})
	seq := 0
loop:
	for seq < nmsg {
		due := int(rate*time.Since(start).Seconds()) + 1
		if time.Since(start) >= o.duration {
			break
		}
		for ; seq < due && seq < nmsg; seq++ {
			pr := pairs[seq%len(pairs)]
			from, to := pr[0], pr[1]
			if (seq/len(pairs))%2 == 1 {
				from, to = to, from
			}
			select {
			case sem <- struct{}{}:
			case <-phaseCtx.Done():
				break loop
			}
			g := first + seq
			st := fmt.Appendf(nil, "<message xmlns='jabber:client' type='chat' to='%s' id='lm%d'><body>%s</body></message>",
				l.sessions[to].boundJID(), g, o.messageBody)
			s := l.sessions[from]
			l.sentAt[g].Store(time.Now().UnixNano())
			l.nSent.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := s.Send(phaseCtx, st); err != nil {
					l.nSendErr.Add(1)
					kind := errKind(err)
					if errors.Is(err, context.Canceled) {
						kind = "canceled at the end of the phase"
					}
					l.sendErrMu.Lock()
					l.sendErrKinds[kind]++
					if l.firstSendErr == "" {
						l.firstSendErr = fmt.Sprintf("message %d: %v", g, err)
					}
					l.sendErrMu.Unlock()
				}
			}()
		}
		if !sleepCtx(phaseCtx, 2*time.Millisecond) {
			break
		}
	}
	sendEnd := time.Now()
	// Drain: wait until all are delivered or the drain time is over.
	deadline := time.Now().Add(o.drain)
	for time.Now().Before(deadline) && l.nRecv.Load() < l.nSent.Load() && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	waitTimeout(&wg, 10*time.Second)
	stopProgress()

	m.Sent, m.Delivered, m.Duplicated = l.nSent.Load()-sent0, l.nRecv.Load()-recv0, l.nDup.Load()-dup0
	m.SendErrors, m.Stray = l.nSendErr.Load()-err0, l.nStray.Load()-stray0
	m.Lost = m.Sent - m.Delivered
	l.sendErrMu.Lock()
	if len(l.sendErrKinds) > 0 {
		m.SendErrorKinds, m.FirstSendError = l.sendErrKinds, l.firstSendErr
	}
	l.sendErrMu.Unlock()
	m.PhaseSeconds = sendEnd.Sub(start).Seconds()
	m.AchievedRate = float64(m.Sent) / m.PhaseSeconds
	lat := make([]float64, 0, m.Delivered)
	for i := first; i < first+int(m.Sent); i++ {
		if l.received[i].Load() > 0 {
			lat = append(lat, float64(l.recvAt[i].Load()-l.sentAt[i].Load())/1e6)
		}
	}
	m.P50Ms, m.P90Ms, m.P99Ms, m.MaxMs = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), percentile(lat, 100)
	m.LatencyHist = newHist(lat)
	l.progressDone(fmt.Sprintf("messages at %.0f/s: sent %d delivered %d lost %d dup %d; latency p50 %.1f p90 %.1f p99 %.1f max %.1f ms",
		rate, m.Sent, m.Delivered, m.Lost, m.Duplicated, m.P50Ms, m.P90Ms, m.P99Ms, m.MaxMs))
	return m
}

// closeAll terminates every session (XEP-0124 §13) with an unavailable
// presence, at the setup concurrency.
func (l *loader) closeAll(res *Result) {
	o := l.o
	ctx, cancel := context.WithTimeout(context.Background(), o.closeTimeout)
	defer cancel()
	start := time.Now()
	var ok, fail, next atomic.Int64
	stopProgress := l.ticker(func() string {
		return fmt.Sprintf("close: %d closed, %d failed", ok.Load(), fail.Load())
	})
	var wg sync.WaitGroup
	for range min(o.concurrency*2, o.n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.n {
					return
				}
				s := l.sessions[i]
				if s == nil {
					continue
				}
				if ctx.Err() != nil {
					fail.Add(1)
					continue
				}
				if err := s.Close(ctx, []byte("<presence xmlns='jabber:client' type='unavailable'/>")); err != nil {
					fail.Add(1)
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	stopProgress()
	res.Close.Ok, res.Close.Failed, res.Close.Seconds = int(ok.Load()), int(fail.Load()), time.Since(start).Seconds()
	res.Close.TimedOut = ctx.Err() != nil
	l.progressDone(fmt.Sprintf("close: %d closed, %d failed in %.1fs", ok.Load(), fail.Load(), res.Close.Seconds))
}

// ticker redraws a progress line until the returned function is called.
func (l *loader) ticker(line func() string) func() {
	if !l.progressOn {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(l.o.progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(l.stderr, "\r\033[K%s", line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (l *loader) progress(format string, args ...any) {
	if l.progressOn {
		fmt.Fprintf(l.stderr, "\r\033[K"+format, args...)
	}
}

func (l *loader) progressDone(s string) {
	if l.progressOn {
		fmt.Fprintf(l.stderr, "\r\033[K%s\n", s)
	} else {
		fmt.Fprintln(l.stderr, s)
	}
}

// barrier, with -sync, tells the driver that the phase named is next
// ("boshload sync NAME" on stderr) and waits for a line on stdin; end of
// input lets it go on. Without -sync it returns at once.
func (l *loader) barrier(ctx context.Context, name string) error {
	if !l.o.sync {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.goLines == nil {
		// One reader for the process's life: it ends at the end of input.
		l.goLines = make(chan struct{})
		go func() {
			defer close(l.goLines)
			br := bufio.NewReader(l.stdin)
			for {
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
				l.goLines <- struct{}{}
			}
		}()
	}
	fmt.Fprintf(l.stderr, "boshload sync %s\n", name)
	select {
	case <-l.goLines:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
