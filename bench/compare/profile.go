package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// Where a CPU sample's time went, by the rules of classify, in the order
// the table lists them.
const (
	whereWrite     = "system calls: write (HTTP answers, upstream stanzas)"
	whereRead      = "system calls: read"
	whereEpollWait = "system calls: epoll_wait (the network poller)"
	whereEpollCtl  = "system calls: epoll_ctl"
	whereSyscall   = "system calls: other"
	whereFutex     = "futex (waking and parking threads)"
	whereSched     = "Go scheduler (finding work, switching goroutines)"
	whereGC        = "garbage collector (background marking)"
	whereMalloc    = "memory allocation (with its GC assists)"
	whereHTTP      = "net/http (parsing requests, writing headers, connection state)"
	whereXML       = "encoding/xml (parsing the `<body/>` wrapper)"
	whereBoshd     = "boshd's own code"
	whereTLS       = "crypto (TLS)"
	whereOther     = "other runtime and library code"
)

var whereOrder = []string{whereWrite, whereRead, whereEpollWait, whereEpollCtl, whereSyscall, whereFutex, whereSched,
	whereGC, whereMalloc, whereHTTP, whereXML, whereBoshd, whereTLS, whereOther}

// classify says where a sample's time went, from its stack (function
// names, leaf first). A system call is named by the wrapper that made it;
// the collector's background work and allocation are their own rows
// whoever caused them; everything else belongs to the nearest frame of
// net/http, encoding/xml, crypto or boshd above the leaf.
func classify(stack []string) string {
	has := func(names ...string) bool {
		for _, f := range stack {
			if slices.Contains(names, f) {
				return true
			}
		}
		return false
	}
	if len(stack) == 0 {
		return whereOther
	}
	switch leaf := stack[0]; {
	case leaf == "runtime.futex":
		return whereFutex
	case leaf == "internal/runtime/syscall/linux.Syscall6" || strings.HasPrefix(leaf, "syscall.") || strings.HasPrefix(leaf, "internal/runtime/syscall"):
		switch {
		case has("syscall.write", "syscall.Write", "syscall.writev"):
			return whereWrite
		case has("syscall.read", "syscall.Read", "syscall.readv"):
			return whereRead
		case has("runtime.netpoll", "internal/runtime/syscall/linux.EpollWait"):
			return whereEpollWait
		case has("syscall.EpollCtl", "internal/runtime/syscall/linux.EpollCtl", "runtime.netpollopen", "runtime.netpollclose"):
			return whereEpollCtl
		}
		return whereSyscall
	}
	switch {
	case has("runtime.gcBgMarkWorker"):
		return whereGC
	case has("runtime.mallocgc"):
		return whereMalloc
	case has("runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.goexit0"):
		return whereSched
	}
	for _, f := range stack {
		switch {
		case strings.HasPrefix(f, "net/http."), strings.HasPrefix(f, "net/textproto."):
			return whereHTTP
		case strings.HasPrefix(f, "encoding/xml."):
			return whereXML
		case strings.HasPrefix(f, "crypto/"):
			return whereTLS
		case strings.HasPrefix(f, "boshd/"):
			return whereBoshd
		}
	}
	return whereOther
}

// cpuShares reads a CPU profile and returns each row's share of the CPU
// time it sampled (0..1), and that time in seconds.
func cpuShares(path string) (map[string]float64, float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	cpuIdx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			cpuIdx = i
		}
	}
	if cpuIdx < 0 {
		return nil, 0, fmt.Errorf("%s: not a CPU profile", path)
	}
	byWhere := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		var stack []string
		for _, loc := range s.Location {
			// Lines of one location run from the innermost inlined call.
			for _, l := range loc.Line {
				if l.Function != nil {
					stack = append(stack, l.Function.Name)
				}
			}
		}
		v := s.Value[cpuIdx]
		byWhere[classify(stack)] += v
		total += v
	}
	if total == 0 {
		return nil, 0, fmt.Errorf("%s: no samples", path)
	}
	shares := make(map[string]float64, len(byWhere))
	for w, v := range byWhere {
		shares[w] = float64(v) / float64(total)
	}
	return shares, float64(total) / 1e9, nil
}

// writeProfiles writes, for each CPU profile kept with the results
// (bench/compare -pprof, in the results directory or one directory below
// it, so that profiled runs need not count among the measured ones),
// where boshd's time went in that message phase: each row's share, and
// the part of that run's CPU per delivered message it stands for (from the
// run's JSON result beside the profile).
func writeProfiles(p func(string, ...any), jsonDir string) error {
	var files []string
	for _, pattern := range []string{"*.pprof", "*/*.pprof"} {
		fs, err := filepath.Glob(filepath.Join(jsonDir, pattern))
		if err != nil {
			return err
		}
		files = append(files, fs...)
	}
	slices.Sort(files)
	for _, path := range files {
		// TARGET-nN-runR-RATE.pprof beside TARGET-nN-runR.json, as
		// bench/compare names them.
		base := strings.TrimSuffix(filepath.Base(path), ".pprof")
		i := strings.LastIndex(base, "-n")
		j := strings.LastIndex(base, "-")
		if i < 0 || j <= i {
			continue
		}
		t := base[:i]
		var n, run int
		var rate float64
		if _, err := fmt.Sscanf(strings.ReplaceAll(base[i+1:], "-", " "), "n%d run%d %g", &n, &run, &rate); err != nil {
			continue
		}
		shares, secs, err := cpuShares(path)
		if err != nil {
			return err
		}
		perMsg, perMsgOK := 0.0, false
		if raw, err := os.ReadFile(filepath.Join(filepath.Dir(path), base[:j]+".json")); err == nil {
			var r result
			if json.Unmarshal(raw, &r) == nil {
				perMsg, perMsgOK = cpu(rate, "boshd")(&r)
			}
		}
		rel, _ := filepath.Rel(jsonDir, path)
		p("\n### Where boshd's CPU went: %s, N = %d, %g messages/s\n\n", t, n, rate)
		p("From boshd's CPU profile over the message phase of a run of its own (`%s`, %.1f CPU seconds sampled, the profiler on), each sample counted once by the rules of `bench/compare/profile.go`.", rel, secs)
		if perMsgOK {
			p(" The last column is the row's part of that run's %.3f ms per delivered message.", perMsg)
		}
		p("\n\n| where | share | ms per message |\n|---|---|---|\n")
		for _, w := range whereOrder {
			s, ok := shares[w]
			if !ok {
				continue
			}
			ms := "–"
			if perMsgOK {
				ms = fmt.Sprintf("%.3f", s*perMsg)
			}
			p("| %s | %.1f %% | %s |\n", w, 100*s, ms)
		}
	}
	return nil
}
