// Command compare runs boshload against BOSH targets on this machine in
// one run and writes the tables of docs/benchmarks.md. The targets (see
// allTargets) are
//
//   - boshd in front of Prosody's or ejabberd's c2s, over HTTP/1.1, with
//     STARTTLS upstream (boshd-tls), over HTTP/2 (boshd-h2) or over RFC 7395
//     WebSocket (boshd-ws),
//   - Prosody's own mod_bosh,
//   - ejabberd's own mod_bosh,
//   - node-xmpp-bosh (npm, installed into the user's cache directory) in
//     front of Prosody's c2s.
//
// The report checks issue 12's targets (targets.go), and with -pprof it
// keeps boshd's CPU and heap profiles and says where its time and memory
// went (profile.go).
//
// It starts Prosody and ejabberd from the Debian packages with
// configurations it writes (integration/servers: listen backlog 1024,
// traffic shapers off, logs at warning level), registers the accounts,
// starts a fresh boshd process per run (so that its RSS and CPU are its
// own, read from /proc by boshload), raises the open-file limit to 20 000
// for everything it starts, and quotes the median of the runs.
//
//	go run ./bench/compare -n 1000,5000 -rates 200,1000 -runs 3 -duration 60s
//
// The tables replace what lies between the markers
// "<!-- results:begin -->" and "<!-- results:end -->" of -out; the prose
// around them is left alone.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"boshd/bench/internal/proc"
	"boshd/bench/internal/report"
	"boshd/integration/servers"
)

const (
	password = "secret"
)

// Targets, in table order.
// The "boshd-h2" targets serve HTTPS and boshload speaks HTTP/2 to them,
// so that held requests share connections (for the per-process ceiling).
// The "boshd-ws" targets are boshd's RFC 7395 WebSocket endpoint, which
// boshload speaks when given a ws:// URL.
// The "boshd-tls" targets are boshd with STARTTLS (RFC 6120 §5) to a
// server that offers it, so that the tables show what TLS upstream costs.
var allTargets = []string{"boshd+prosody", "boshd+ejabberd", "boshd-tls+prosody", "boshd-tls+ejabberd", "boshd-h2+prosody", "boshd-h2+ejabberd", "boshd-ws+prosody", "boshd-ws+ejabberd", "prosody-bosh", "ejabberd-bosh", nxbTarget}

// isBoshd reports whether target t runs boshd (the rows the tables
// compare with the peers).
func isBoshd(t string) bool { return strings.HasPrefix(t, "boshd") }

// upstreamTLS reports whether target t runs boshd with STARTTLS upstream.
func upstreamTLS(t string) bool { return strings.HasPrefix(t, "boshd-tls+") }

type config struct {
	ns       []int
	rates    string
	runs     int
	duration time.Duration
	targets  []string
	out      string
	jsonDir  string
	conc     int
	settle   time.Duration
	extra    string
	pprof    string
	boshdBin string
	boshdEnv string
	// nxbScript is node-xmpp-bosh's run-server.js, once installed.
	nxbScript string
}

func main() {
	var c config
	nList := flag.String("n", "1000,5000", "session counts")
	flag.StringVar(&c.rates, "rates", "200,1000", "message rates (one message phase each, on the same sessions)")
	flag.IntVar(&c.runs, "runs", 3, "runs per target and N; the tables quote the median")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "length of each message phase")
	tList := flag.String("targets", "boshd+prosody,boshd+ejabberd,prosody-bosh,ejabberd-bosh,"+nxbTarget, "targets to run, of: "+strings.Join(allTargets, ","))
	flag.StringVar(&c.out, "out", "docs/benchmarks.md", "markdown file whose results section is rewritten")
	flag.StringVar(&c.jsonDir, "json-dir", "", "keep every boshload JSON result here (default: a temporary directory)")
	flag.IntVar(&c.conc, "c", 100, "setup concurrency")
	flag.DurationVar(&c.settle, "settle", 5*time.Second, "idle time before memory is read")
	flag.StringVar(&c.extra, "boshload-args", "", "extra boshload arguments, space separated")
	flag.StringVar(&c.pprof, "pprof", "", "serve boshd's profiles on this loopback host:port ([debug] pprof_listen) and keep, beside the results, a heap profile of the idle sessions (TARGET-nN-runR-idle.heap.pprof) and a CPU profile of each message phase (TARGET-nN-runR-RATE.pprof), to profile a run")
	flag.StringVar(&c.boshdBin, "boshd", "", "use this boshd binary instead of building ./cmd/boshd (to compare builds)")
	flag.StringVar(&c.boshdEnv, "boshd-env", "", "extra environment of boshd, space separated (e.g. GOMAXPROCS=1 GOGC=50), for tuning experiments")
	reportOnly := flag.Bool("report-only", false, "run nothing: rewrite -out from the JSON results kept in -json-dir")
	flag.Parse()
	for _, f := range strings.Split(*nList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			fatalf("bad -n %q", f)
		}
		c.ns = append(c.ns, n)
	}
	c.targets = strings.Split(*tList, ",")
	if *reportOnly {
		if err := reportFromDir(c); err != nil {
			fatalf("%v", err)
		}
		return
	}
	proc.Logf = logf
	proc.StopOnSignal()
	if err := runAll(c); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s compare: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// result is the part of boshload's JSON the tables use.
type result struct {
	Setup struct {
		Ok, Failed int
		PerSecond  float64 `json:"per_second"`
		LoginP50Ms float64 `json:"login_p50_ms"`
		LoginP99Ms float64 `json:"login_p99_ms"`
		FirstError string  `json:"first_error"`
	} `json:"setup"`
	Memory []struct {
		Name         string  `json:"name"`
		PerSessionKB float64 `json:"per_session_kb"`
		RSSAfterKB   int64   `json:"rss_after_kb"`
	} `json:"memory"`
	Phases []struct {
		Rate                       float64 `json:"rate"`
		Sent, Delivered, Lost      int64
		Duplicated, SendErrors     int64
		P50Ms, P90Ms, P99Ms, MaxMs float64
		AchievedRate               float64 `json:"achieved_rate"`
		GeneratorCPUSeconds        float64 `json:"generator_cpu_s"`
		LoadAvg1                   float64 `json:"loadavg1"`
		CPU                        []struct {
			Name           string  `json:"name"`
			MsPerDelivered float64 `json:"ms_per_delivered"`
		} `json:"cpu"`
	} `json:"phases"`
	SessionsEnded int64  `json:"sessions_ended_early"`
	Error         string `json:"error"`
}

type key struct {
	target string
	n      int
}

func runAll(c config) error {
	proc.RaiseFileLimit(20000)
	tmp, err := os.MkdirTemp("", "bench-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.jsonDir == "" {
		c.jsonDir = filepath.Join(tmp, "json")
	}
	if err := os.MkdirAll(c.jsonDir, 0o755); err != nil {
		return err
	}
	// The commit the binaries are built from, kept beside the results:
	// the tables name it, even when rebuilt later by -report-only.
	built := report.GitHead()
	if c.boshdBin != "" {
		built = c.boshdBin
	}
	if err := os.WriteFile(filepath.Join(c.jsonDir, "machine.txt"), []byte(report.Machine()+"\n"), 0o644); err != nil {
		return err
	}
	if err := appendLine(filepath.Join(c.jsonDir, "commits.txt"), fmt.Sprintf("-n %s -targets %s: boshd %s", joinInts(c.ns), strings.Join(c.targets, ","), built)); err != nil {
		return err
	}
	boshd, boshload, err := proc.Build(tmp, c.boshdBin)
	if err != nil {
		return err
	}
	results := map[key][]*result{}
	versions := map[string]string{}
	if slices.Contains(c.targets, nxbTarget) {
		if c.nxbScript, err = installNXB(); err != nil {
			return err
		}
		versions[nxbName] = nxbVersion + " (npm)"
	}
	// Every run gets fresh processes (server and boshd), so that each
	// process's RSS growth is its own and not what its allocator kept from
	// an earlier target. Runs are interleaved (run 1 of every target, then
	// run 2, ...) so that a change in the machine's background load falls
	// on every target alike.
	for _, n := range c.ns {
		users := make(map[string]string, n)
		for i := range n {
			users["load"+strconv.Itoa(i)] = password
		}
		for run := 1; run <= c.runs; run++ {
			for _, t := range c.targets {
				kind := servers.KindEjabberd
				if strings.Contains(t, servers.KindProsody) {
					kind = servers.KindProsody
				}
				if _, ok := versions[kind]; !ok {
					versions[kind] = pkgVersion(kind)
				}
				if err := withServer(kind, upstreamTLS(t), users, func(srv *servers.Server) error {
					r, err := runOne(c, srv, t, n, run, boshd, boshload)
					if err != nil {
						logf("%s N=%d run %d: %v", t, n, run, err)
					}
					if r != nil {
						results[key{t, n}] = append(results[key{t, n}], r)
					}
					return nil
				}); err != nil {
					return err
				}
			}
		}
	}
	return writeDoc(c, results, versions)
}

// reportFromDir rebuilds the tables from the files runOne wrote
// (TARGET-nN-runR.json), for the N values of -n.
func reportFromDir(c config) error {
	results := map[key][]*result{}
	runs := 0
	for _, t := range allTargets {
		for _, n := range c.ns {
			for run := 1; ; run++ {
				raw, err := os.ReadFile(filepath.Join(c.jsonDir, fmt.Sprintf("%s-n%d-run%d.json", t, n, run)))
				if err != nil {
					break
				}
				var r result
				if err := json.Unmarshal(raw, &r); err != nil {
					return err
				}
				results[key{t, n}] = append(results[key{t, n}], &r)
				runs = max(runs, run)
			}
		}
	}
	if len(results) == 0 {
		return fmt.Errorf("no results in %s", c.jsonDir)
	}
	c.runs = runs
	versions := map[string]string{"prosody": pkgVersion("prosody"), "ejabberd": pkgVersion("ejabberd")}
	return writeDoc(c, results, versions)
}

// withServer starts a fresh server of kind (offering STARTTLS with
// offerTLS), registers users and runs f with it.
func withServer(kind string, offerTLS bool, users map[string]string, f func(*servers.Server) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := servers.Options{OwnBOSH: true, Backlog: 1024, LoadTest: true, TLS: offerTLS}
	var srv *servers.Server
	var err error
	if kind == servers.KindProsody {
		srv, err = servers.StartProsody(ctx, opts)
	} else {
		srv, err = servers.StartEjabberd(ctx, opts)
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", kind, err)
	}
	defer srv.Stop()
	defer proc.AtExit(func() { srv.Stop() })()
	logf("%s up: c2s %s, BOSH %s, pid %d; registering %d accounts", kind, srv.Addr, srv.BOSHURL, srv.PID, len(users))
	if err := srv.RegisterMany(ctx, users); err != nil {
		return err
	}
	return f(srv)
}

// runOne runs boshload once against target t with n sessions.
func runOne(c config, srv *servers.Server, t string, n, run int, boshdBin, boshloadBin string) (*result, error) {
	url := srv.BOSHURL
	pids := fmt.Sprintf("%s=%d", srv.Kind, srv.PID)
	var extra []string
	if isBoshd(t) {
		h2 := strings.HasPrefix(t, "boshd-h2+")
		b, err := startBoshd(boshdBin, srv, h2, upstreamTLS(t), c.pprof, strings.Fields(c.boshdEnv))
		if err != nil {
			return nil, err
		}
		defer b.Stop()
		defer proc.AtExit(b.Stop)()
		url = b.URL
		if strings.HasPrefix(t, "boshd-ws+") {
			url = "ws" + strings.TrimPrefix(strings.TrimSuffix(b.URL, "/http-bind"), "http") + "/xmpp-websocket"
		}
		pids = fmt.Sprintf("boshd=%d,%s", b.Cmd.Process.Pid, pids)
		if h2 {
			extra = []string{"-h2", "-insecure"}
		}
		if c.pprof != "" {
			// A CPU profile of boshd in each message phase, kept beside
			// the run's result.
			extra = append(extra, "-profile-url", "http://"+c.pprof,
				"-profile-prefix", filepath.Join(c.jsonDir, fmt.Sprintf("%s-n%d-run%d", t, n, run)))
		}
	}
	if t == nxbTarget {
		p, err := startNXB(c.nxbScript, srv)
		if err != nil {
			return nil, err
		}
		defer p.stop()
		defer proc.AtExit(p.stop)()
		url = p.url
		pids = fmt.Sprintf("%s=%d,%s", nxbName, p.cmd.Process.Pid, pids)
	}
	jsonPath := filepath.Join(c.jsonDir, fmt.Sprintf("%s-n%d-run%d.json", t, n, run))
	args := []string{"-url", url, "-domain", srv.Domain, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c.conc),
		"-user", "load%d", "-password", password, "-rate", c.rates, "-duration", c.duration.String(),
		"-settle", c.settle.String(), "-pids", pids, "-json", jsonPath, "-label", t}
	args = append(args, extra...)
	args = append(args, strings.Fields(c.extra)...)
	logf("%s N=%d run %d: boshload %s", t, n, run, strings.Join(args, " "))
	// Every phase of boshload is bounded; this bounds the whole.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute+time.Duration(len(strings.Split(c.rates, ",")))*(c.duration+time.Minute))
	defer cancel()
	cmd := exec.CommandContext(ctx, boshloadBin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// boshload closes its sessions on SIGTERM before exiting.
	remove := proc.AtExit(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	runErr := cmd.Wait()
	remove()
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, fmt.Errorf("boshload: %v (no result: %v)", runErr, err)
	}
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return &r, runErr
}

// startBoshd starts boshd in front of srv for one run (over HTTPS with
// tlsOn, with STARTTLS to srv with starttls), with its profiles on
// pprofAddr and env added to its environment.
func startBoshd(bin string, srv *servers.Server, tlsOn, starttls bool, pprofAddr string, env []string) (*proc.Boshd, error) {
	upstream := "tls = \"off\"\n"
	if starttls {
		upstream = fmt.Sprintf("tls = \"required\"\nca_file = %q\n", srv.CAFile)
	}
	return proc.StartBoshd(bin, proc.BoshdOptions{TLS: tlsOn, Env: env, Config: func(listen, tlsKeys string) string {
		return fmt.Sprintf(`[http]
listen = %q
%s[bosh]
max_sessions = 30000
max_sessions_per_address = 0
[upstream]
%s[[domain]]
name = %q
routes = [%q]
[log]
level = "warn"
[debug]
pprof_listen = %q
`, listen, tlsKeys, upstream, srv.Domain, srv.Addr, pprofAddr)
	}})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func pkgVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil {
		return "unknown"
	}
	return string(out)
}

// median of the values f extracts; NaN-free inputs assumed.
func median(rs []*result, f func(*result) (float64, bool)) (float64, int) {
	var xs []float64
	for _, r := range rs {
		if v, ok := f(r); ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return m, len(xs)
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}

func joinInts(xs []int) string {
	var ss []string
	for _, x := range xs {
		ss = append(ss, strconv.Itoa(x))
	}
	return strings.Join(ss, ",")
}
