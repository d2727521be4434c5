package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"boshd/bench/internal/proc"
	"boshd/bench/internal/report"
)

// stepMeta is what a step ran, kept beside its merged result as
// step-nN.meta.json so that -report-only can redraw the report.
type stepMeta struct {
	N         int     `json:"n"`
	Nodes     int     `json:"nodes"`
	Servers   int     `json:"servers"`
	Upstream  string  `json:"upstream"`
	LBs       int     `json:"haproxy"`
	Loaders   int     `json:"loaders"`
	Rate      float64 `json:"rate"`
	DurationS float64 `json:"duration_s"`
	SettleS   float64 `json:"settle_s"`
	Commit    string  `json:"commit"`
	Machine   string  `json:"machine"`
	Started   string  `json:"started"`
	StepError string  `json:"step_error,omitempty"`
}

// runSteps builds the binaries, runs every step and writes the report.
func runSteps(c config) error {
	proc.RaiseFileLimit(20000)
	tmp, err := os.MkdirTemp("", "bench-scale-")
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
	boshd, boshload, err := proc.Build(tmp, c.boshdBin)
	if err != nil {
		return err
	}
	commit := report.GitHead()
	if c.boshdBin != "" {
		commit = c.boshdBin
	}
	for _, n := range c.steps {
		meta := stepMeta{N: n, Nodes: c.nodes, Servers: c.servers, Upstream: c.upstream, LBs: c.lbs,
			Loaders: len(loaderShares(n, c.perLoader)), Rate: c.rate, DurationS: c.duration.Seconds(), SettleS: c.settle.Seconds(),
			Commit: commit, Machine: report.Machine(), Started: time.Now().UTC().Format(time.RFC3339)}
		logf("step N=%d: %d boshd, %d %s, %d HAProxy, %d boshload processes", n, c.nodes, c.servers, c.upstream, c.lbs, meta.Loaders)
		r, err := runStep(c, n, boshd, boshload)
		if err != nil {
			meta.StepError = err.Error()
			logf("step N=%d: %v", n, err)
		}
		if err := writeJSON(filepath.Join(c.jsonDir, fmt.Sprintf("step-n%d.meta.json", n)), meta); err != nil {
			return err
		}
		if r == nil {
			break
		}
		ok, why := r.clean(n)
		logf("step N=%d: %d logged in, %.0f/s, login p99 %.0f ms; %s", n, r.Setup.Ok, r.Setup.PerSecond, r.Setup.LoginP99Ms, why)
		if !ok && !c.keepGoing {
			logf("stopping: step N=%d was not clean", n)
			break
		}
	}
	return reportFromDir(c)
}

// runStep runs one step with fresh processes and returns the merged
// result (kept as step-nN.json).
func runStep(c config, n int, boshdBin, boshloadBin string) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.stepBound(n))
	defer cancel()
	users := make(map[string]string, n)
	for i := range n {
		users["load"+strconv.Itoa(i)] = password
	}
	startCtx, startCancel := context.WithTimeout(ctx, 5*time.Minute)
	f, err := startFleet(startCtx, c, boshdBin, users)
	startCancel()
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	removeF := proc.AtExit(f.stop)
	defer func() { removeF(); f.stop() }()

	shares := loaderShares(n, c.perLoader)
	var files []string
	var ls []*loader
	first := 0
	for p, share := range shares {
		path := filepath.Join(c.jsonDir, fmt.Sprintf("step-n%d-loader%d.json", n, p+1))
		files = append(files, path)
		args := []string{"-url", strings.Join(f.urls, ","), "-domain", f.domain, "-n", strconv.Itoa(share),
			"-first-user", strconv.Itoa(first), "-user", "load%d", "-password", password, "-c", strconv.Itoa(c.conc),
			"-rate", strconv.FormatFloat(c.rate*float64(share)/float64(n), 'f', -1, 64),
			"-duration", c.duration.String(), "-settle", c.settle.String(), "-sync", "-spread", "pair",
			"-source-addrs", fmt.Sprintf("127.0.1.%d", p+1), "-json", path, "-label", fmt.Sprintf("N=%d loader %d", n, p+1),
			"-setup-timeout", (c.stepBound(n) / 2).String()}
		if p == 0 {
			// One process reads the fleet's RSS and CPU; -merge counts it once.
			args = append(args, "-pids", strings.Join(f.pids, ","))
		}
		first += share
		l, err := startLoader(boshloadBin, p+1, args)
		if err != nil {
			for _, l := range ls {
				l.stop()
			}
			return nil, err
		}
		ls = append(ls, l)
	}
	drive(ctx, ls)
	var have []string
	for _, p := range files {
		if _, err := os.Stat(p); err == nil {
			have = append(have, p)
		}
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("no boshload result")
	}
	merged := filepath.Join(c.jsonDir, fmt.Sprintf("step-n%d.json", n))
	out, err := exec.Command(boshloadBin, "-merge", strings.Join(have, ","), "-json", merged).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("boshload -merge: %v\n%s", err, out)
	}
	r, err := readResult(merged)
	if err != nil {
		return nil, err
	}
	if len(have) < len(files) {
		return r, fmt.Errorf("%d of %d boshload processes left no result", len(files)-len(have), len(files))
	}
	return r, nil
}

// loader is one boshload process run with -sync.
type loader struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// events carries the phases it reached ("boshload sync PHASE" on its
	// stderr; a few per run, so the buffer never fills) and is closed when
	// its stderr ends; done is closed once it has exited.
	events chan string
	done   chan struct{}
}

// startLoader starts boshload; its stderr lines are shown prefixed, and
// its sync lines become events.
func startLoader(bin string, id int, args []string) (*loader, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &loader{cmd: cmd, stdin: stdin, events: make(chan string, 64), done: make(chan struct{})}
	remove := proc.AtExit(l.stop)
	// The reader owns the process's end: it reads stderr to its end, then
	// waits for the process (Wait must follow the last read).
	go func() {
		defer close(l.done)
		defer remove()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if phase, ok := strings.CutPrefix(line, "boshload sync "); ok {
				l.events <- phase
				continue
			}
			logf("boshload %d: %s", id, line)
		}
		close(l.events)
		cmd.Wait()
	}()
	return l, nil
}

// stop asks boshload to close its sessions and exit (SIGTERM), and kills
// it after 2 minutes.
func (l *loader) stop() {
	l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.done:
	case <-time.After(2 * time.Minute):
		l.cmd.Process.Kill()
		<-l.done
	}
}

// drive keeps the loaders in step: each phase starts when every loader
// still running has reached it. At ctx's end every loader is stopped.
func drive(ctx context.Context, ls []*loader) {
	cases := make([]chan string, len(ls))
	for i, l := range ls {
		cases[i] = l.events
	}
	b := barrier{n: len(ls)}
	for !b.over() {
		i, phase, ok := recvAny(ctx, cases)
		if i < 0 {
			logf("step bound reached: stopping the load generators")
			for _, l := range ls {
				l.stop()
			}
			return
		}
		if !ok {
			cases[i] = nil // a nil channel is never ready
		}
		if release := b.event(i, phase, ok); release != nil {
			for _, j := range release {
				io.WriteString(ls[j].stdin, "go\n")
			}
			logf("all %d boshload processes reached %s", len(release), phase)
		}
	}
	for _, l := range ls {
		<-l.done
	}
}

// recvAny receives from whichever channel is ready first: its index, the
// value and whether the channel is still open; -1 when ctx ends.
func recvAny(ctx context.Context, chs []chan string) (int, string, bool) {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	for _, ch := range chs {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	i, v, ok := reflect.Select(cases)
	if i == 0 {
		return -1, "", false
	}
	if !ok {
		return i - 1, "", false
	}
	return i - 1, v.String(), true
}

// barrier is the bookkeeping of drive: which processes wait at a phase
// and which have ended.
type barrier struct {
	n       int
	ended   map[int]bool
	waiting map[int]bool
}

// event records that process i reached a phase (alive) or ended (!alive);
// it returns the processes to release when every live one waits.
func (b *barrier) event(i int, phase string, alive bool) []int {
	if b.ended == nil {
		b.ended, b.waiting = map[int]bool{}, map[int]bool{}
	}
	if alive {
		b.waiting[i] = true
	} else {
		b.ended[i] = true
		delete(b.waiting, i)
	}
	if len(b.waiting) == 0 || len(b.waiting) != b.n-len(b.ended) {
		return nil
	}
	var out []int
	for j := range b.n {
		if b.waiting[j] {
			out = append(out, j)
		}
	}
	clear(b.waiting)
	return out
}

// over says whether every process has ended.
func (b *barrier) over() bool { return len(b.ended) == b.n }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
