package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// One process holds at most 20 000 open files here, and an HTTP/1.1
// session costs its client two connections (the held request and a send),
// so tens of thousands of sessions need several boshload processes run
// side by side (kept in step with -sync); -merge sums their results into
// the one aggregate a single process would have written.

// mergeFiles reads the JSON results in paths, merges them and writes the
// aggregate to jsonPath (or w).
func mergeFiles(paths []string, jsonPath string, w, stderr io.Writer) int {
	var rs []*Result
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(stderr, "boshload:", err)
			return 1
		}
		var r Result
		if err := json.Unmarshal(raw, &r); err != nil {
			fmt.Fprintf(stderr, "boshload: %s: %v\n", p, err)
			return 1
		}
		rs = append(rs, &r)
	}
	m, err := merge(rs)
	if err != nil {
		fmt.Fprintln(stderr, "boshload: merge:", err)
		return 1
	}
	m.Merged = paths
	if err := writeResult(m, jsonPath, w); err != nil {
		fmt.Fprintln(stderr, "boshload:", err)
		return 1
	}
	return 0
}

// merge sums the results of boshload processes that ran at the same time
// against the same fleet:
//
//   - counts (sessions, messages, losses, errors) are summed, and the
//     rates too (the processes ran concurrently); durations are the
//     longest;
//   - percentiles come from the summed histograms (within 1 %), maxima
//     are the largest;
//   - a process (PID) measured by several results counts once, with the
//     first result's reading, and its per-session and per-message figures
//     are recomputed over the merged totals: memory growth over all
//     sessions logged in, CPU over all messages delivered.
//
// The phases must match: the same number, in the same order.
func merge(rs []*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	m := &Result{Label: rs[0].Label, URL: rs[0].URL, Transport: rs[0].Transport, DurationS: rs[0].DurationS}
	seenURL := map[string]bool{}
	var loginH Hist
	var errs []string
	for i, r := range rs {
		if len(r.Phases) != len(rs[0].Phases) {
			return nil, fmt.Errorf("result %d has %d message phases, result 1 has %d", i+1, len(r.Phases), len(rs[0].Phases))
		}
		m.Processes += max(1, r.Processes)
		m.N += r.N
		m.Concurrency += r.Concurrency
		urls := r.URLs
		if len(urls) == 0 {
			urls = []string{r.URL}
		}
		for _, u := range urls {
			if !seenURL[u] {
				seenURL[u] = true
				m.URLs = append(m.URLs, u)
			}
		}
		s := &m.Setup
		s.Ok += r.Setup.Ok
		s.Failed += r.Setup.Failed
		s.Seconds = max(s.Seconds, r.Setup.Seconds)
		s.AbortedEarly = s.AbortedEarly || r.Setup.AbortedEarly
		s.TimedOut = s.TimedOut || r.Setup.TimedOut
		if s.FirstError == "" {
			s.FirstError = r.Setup.FirstError
		}
		s.FailuresByKind = addCounts(s.FailuresByKind, r.Setup.FailuresByKind)
		loginH.add(r.Setup.LoginHist)
		m.SessionsEnded += r.SessionsEnded
		if m.FirstSessionErr == "" {
			m.FirstSessionErr = r.FirstSessionErr
		}
		m.Close.Ok += r.Close.Ok
		m.Close.Failed += r.Close.Failed
		m.Close.Seconds = max(m.Close.Seconds, r.Close.Seconds)
		m.Close.TimedOut = m.Close.TimedOut || r.Close.TimedOut
		if r.Error != "" {
			errs = append(errs, r.Error)
		}
	}
	m.Error = strings.Join(errs, "; ")
	if m.Setup.Seconds > 0 {
		m.Setup.PerSecond = float64(m.Setup.Ok) / m.Setup.Seconds
	}
	m.Setup.LoginHist = &loginH
	m.Setup.LoginP50Ms, m.Setup.LoginP99Ms = loginH.percentile(50), loginH.percentile(99)

	// Memory and idle CPU: each process once.
	for _, r := range rs {
		for _, p := range r.Memory {
			if !slices.ContainsFunc(m.Memory, func(q ProcMemory) bool { return q.PID == p.PID }) {
				p.PerSessionKB = 0
				if m.Setup.Ok > 0 {
					p.PerSessionKB = float64(p.RSSAfterKB-p.RSSBeforeKB) / float64(m.Setup.Ok)
				}
				m.Memory = append(m.Memory, p)
			}
		}
		for _, c := range r.IdleCPU {
			if !slices.ContainsFunc(m.IdleCPU, func(q ProcCPU) bool { return q.PID == c.PID }) {
				c.perSession(m.Setup.Ok)
				m.IdleCPU = append(m.IdleCPU, c)
			}
		}
	}

	for k := range rs[0].Phases {
		ph := &MessagePhase{}
		var h Hist
		for _, r := range rs {
			p := r.Phases[k]
			ph.Rate += p.Rate
			ph.Sent += p.Sent
			ph.Delivered += p.Delivered
			ph.Lost += p.Lost
			ph.Duplicated += p.Duplicated
			ph.SendErrors += p.SendErrors
			ph.Stray += p.Stray
			ph.AchievedRate += p.AchievedRate
			ph.PhaseSeconds = max(ph.PhaseSeconds, p.PhaseSeconds)
			ph.GeneratorCPUSeconds += p.GeneratorCPUSeconds
			ph.LoadAvg1 = max(ph.LoadAvg1, p.LoadAvg1)
			ph.MaxMs = max(ph.MaxMs, p.MaxMs)
			ph.SendErrorKinds = addCounts(ph.SendErrorKinds, p.SendErrorKinds)
			if ph.FirstSendError == "" {
				ph.FirstSendError = p.FirstSendError
			}
			h.add(p.LatencyHist)
		}
		ph.LatencyHist = &h
		ph.P50Ms, ph.P90Ms, ph.P99Ms = h.percentile(50), h.percentile(90), h.percentile(99)
		for _, r := range rs {
			for _, c := range r.Phases[k].CPU {
				if !slices.ContainsFunc(ph.CPU, func(q ProcCPU) bool { return q.PID == c.PID }) {
					c.perMessage(ph.Delivered)
					ph.CPU = append(ph.CPU, c)
				}
			}
		}
		m.Phases = append(m.Phases, ph)
	}
	return m, nil
}

// addCounts adds b's counts into a (made if nil) and returns it.
func addCounts(a, b map[string]int) map[string]int {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[string]int{}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		a[k] += b[k]
	}
	return a
}

// perSession sets the per-session CPU figures for ok sessions.
func (c *ProcCPU) perSession(ok int) {
	c.SetupMsPerSession, c.IdleMsPerSession = 0, 0
	if ok > 0 {
		c.SetupMsPerSession = c.SetupSeconds * 1000 / float64(ok)
		c.IdleMsPerSession = c.IdleSeconds * 1000 / float64(ok)
	}
}

// perMessage sets the CPU per delivered message.
func (c *ProcCPU) perMessage(delivered int64) {
	c.MsPerDelivered = 0
	if delivered > 0 {
		c.MsPerDelivered = c.Seconds * 1000 / float64(delivered)
	}
}
