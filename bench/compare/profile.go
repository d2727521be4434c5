package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	whereBoshd     = "code under boshd's frames (boshd, and the runtime and library work it calls)"
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
		case has("runtime.netpoll", "internal/runtime/syscall/linux.EpollWait", "syscall.EpollWait", "golang.org/x/sys/unix.EpollWait"):
			return whereEpollWait
		case has("syscall.EpollCtl", "golang.org/x/sys/unix.EpollCtl", "internal/runtime/syscall/linux.EpollCtl", "runtime.netpollopen", "runtime.netpollclose"):
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
	byWhere, total, err := sumByStack(path, "cpu", classify)
	if err != nil {
		return nil, 0, err
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

// sumByStack reads the profile at path and sums the values of its
// sampleType ("cpu", "inuse_space") by what key makes of each sample's
// stack (function names, leaf first), and in all. Samples of value 0 (a
// heap profile's objects freed since) are left out, so that no key holds
// nothing.
func sumByStack(path, sampleType string, key func(stack []string) string) (map[string]int64, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	idx := slices.IndexFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == sampleType })
	if idx < 0 {
		return nil, 0, fmt.Errorf("%s: no %s samples: not that kind of profile", path, sampleType)
	}
	by := map[string]int64{}
	var total int64
	var stack []string
	for _, s := range p.Sample {
		v := s.Value[idx]
		if v == 0 {
			continue
		}
		stack = stack[:0]
		for _, loc := range s.Location {
			// Lines of one location run from the innermost inlined call.
			for _, l := range loc.Line {
				if l.Function != nil {
					stack = append(stack, l.Function.Name)
				}
			}
		}
		by[key(stack)] += v
		total += v
	}
	return by, total, nil
}

// profileFiles lists, sorted, the profiles whose names end in suffix kept
// in jsonDir or one directory below it (bench/compare -pprof keeps them
// beside the run's result; profiled runs may live apart, so that the
// profiler's cost stays out of the measured runs).
func profileFiles(jsonDir, suffix string) ([]string, error) {
	var files []string
	for _, pattern := range []string{"*" + suffix, "*/*" + suffix} {
		fs, err := filepath.Glob(filepath.Join(jsonDir, pattern))
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	slices.Sort(files)
	return files, nil
}

// parseRunName splits the name bench/compare gives a run's files,
// TARGET-nN-runR, or TARGET-nN-runR-RATE for a phase's CPU profile: rate
// is "" without one.
func parseRunName(base string) (target string, n, run int, rate string, ok bool) {
	i := strings.LastIndex(base, "-n")
	if i < 0 {
		return "", 0, 0, "", false
	}
	parts := strings.Split(base[i+1:], "-")
	if len(parts) < 2 || len(parts) > 3 {
		return "", 0, 0, "", false
	}
	n, errN := strconv.Atoi(strings.TrimPrefix(parts[0], "n"))
	run, errR := strconv.Atoi(strings.TrimPrefix(parts[1], "run"))
	if errN != nil || errR != nil || n <= 0 || !strings.HasPrefix(parts[0], "n") || !strings.HasPrefix(parts[1], "run") {
		return "", 0, 0, "", false
	}
	if len(parts) == 3 {
		rate = parts[2]
	}
	return base[:i], n, run, rate, true
}

// writeProfiles writes, for each CPU profile kept with the results
// (bench/compare -pprof, in the results directory or one directory below
// it, so that profiled runs need not count among the measured ones),
// where boshd's time went in that message phase: each row's share, and
// the part of that run's CPU per delivered message it stands for (from the
// run's JSON result beside the profile).
func writeProfiles(p func(string, ...any), jsonDir string) error {
	files, err := profileFiles(jsonDir, ".pprof")
	if err != nil {
		return err
	}
	for _, path := range files {
		if strings.HasSuffix(path, heapSuffix) {
			continue
		}
		// TARGET-nN-runR-RATE.pprof beside TARGET-nN-runR.json.
		t, n, run, rateName, ok := parseRunName(strings.TrimSuffix(filepath.Base(path), ".pprof"))
		rate, err := strconv.ParseFloat(rateName, 64)
		if !ok || err != nil {
			continue
		}
		shares, secs, err := cpuShares(path)
		if err != nil {
			p("\n_A profile was left out: %v._\n", err)
			continue
		}
		perMsg, perMsgOK := 0.0, false
		if raw, err := os.ReadFile(filepath.Join(filepath.Dir(path), fmt.Sprintf("%s-n%d-run%d.json", t, n, run))); err == nil {
			var r result
			if json.Unmarshal(raw, &r) == nil {
				perMsg, perMsgOK = cpu(rate, "boshd")(&r)
			}
		}
		rel, _ := filepath.Rel(jsonDir, path)
		p("\n### Where boshd's CPU went: %s, N = %d, %g messages/s\n\n", t, n, rate)
		p("From boshd's CPU profile over the sending part of the message phase of a run of its own (`%s`, %.1f CPU seconds sampled, the profiler on), each sample counted once by the rules of `bench/compare/profile.go`.", rel, secs)
		if perMsgOK {
			p(" The last column is the row's part of that run's %.3f ms per delivered message (measured over the whole phase, its drain included).", perMsg)
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

// heapSuffix ends the name of the heap profile boshload takes of boshd
// when its sessions are idle (TARGET-nN-runR-idle.heap.pprof).
const heapSuffix = "-idle.heap.pprof"

// heapOwner names who allocated what a heap sample holds, from its
// allocation stack (leaf first): the nearest frame of crypto/tls,
// net/http, encoding/xml, logrus or a boshd package.
func heapOwner(stack []string) string {
	for _, f := range stack {
		switch {
		case strings.HasPrefix(f, "crypto/tls."):
			return "crypto/tls (the upstream's TLS state and buffers)"
		case strings.HasPrefix(f, "net/http."), strings.HasPrefix(f, "net/textproto."):
			return "net/http"
		case strings.HasPrefix(f, "encoding/xml."):
			return "encoding/xml"
		case strings.HasPrefix(f, "github.com/sirupsen/logrus."):
			return "logrus"
		case strings.HasPrefix(f, "boshd/"):
			// boshd/bosh/relay.(*Relay).read: the package is the path up
			// to the first dot after the last slash.
			slash := strings.LastIndex(f, "/")
			if dot := strings.Index(f[slash:], "."); dot > 0 {
				return f[:slash+dot]
			}
			return f
		}
	}
	return "runtime and other"
}

// heapShares reads a heap profile and returns the bytes in use by owner
// (heapOwner) and in all.
func heapShares(path string) (map[string]int64, int64, error) {
	return sumByStack(path, "inuse_space", heapOwner)
}

// writeHeapProfiles writes, for each idle heap profile kept with the
// results (where writeProfiles looks), what is live in boshd's heap per
// idle session and who allocated it.
func writeHeapProfiles(p func(string, ...any), jsonDir string) error {
	files, err := profileFiles(jsonDir, heapSuffix)
	if err != nil {
		return err
	}
	for _, path := range files {
		t, n, _, rate, ok := parseRunName(strings.TrimSuffix(filepath.Base(path), heapSuffix))
		if !ok || rate != "" {
			continue
		}
		by, total, err := heapShares(path)
		if err != nil || total <= 0 {
			p("\n_A heap profile was left out: %v._\n", cmp.Or(err, fmt.Errorf("%s: nothing in use", path)))
			continue
		}
		owners := make([]string, 0, len(by))
		for o := range by {
			owners = append(owners, o)
		}
		slices.SortFunc(owners, func(a, b string) int {
			return cmp.Or(cmp.Compare(by[b], by[a]), strings.Compare(a, b))
		})
		rel, _ := filepath.Rel(jsonDir, path)
		p("\n### What boshd's heap holds per idle session: %s, N = %d\n\n", t, n)
		p("From boshd's heap profile after a forced collection, taken when the sessions were idle, after their memory was read (`%s`): %.1f KiB live per session in all, by the package that allocated it (goroutine stacks, runtime overhead and the collector's headroom are not in it).\n\n", rel, float64(total)/float64(n)/1024)
		p("| allocated by | KiB per session | share |\n|---|---|---|\n")
		for _, o := range owners {
			p("| %s | %.2f | %.1f %% |\n", o, float64(by[o])/float64(n)/1024, 100*float64(by[o])/float64(total))
		}
	}
	return nil
}
