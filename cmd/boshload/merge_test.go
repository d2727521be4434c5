package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestHistPercentile holds the histogram's percentiles within 2 % of the
// exact ones of the samples, and its maximum exact.
func TestHistPercentile(t *testing.T) {
	var xs []float64
	for i := 1; i <= 10000; i++ {
		xs = append(xs, float64(i)*0.37) // 0.37 ms … 3.7 s
	}
	xs = append(xs, 0.001) // below the first bucket
	h := newHist(xs)
	if h.Count != int64(len(xs)) {
		t.Fatalf("count %d, want %d", h.Count, len(xs))
	}
	for _, p := range []float64{1, 50, 90, 99, 99.9} {
		want, got := percentile(xs, p), h.percentile(p)
		if math.Abs(got-want)/want > 0.02 {
			t.Errorf("p%v = %v, exact %v", p, got, want)
		}
	}
	if got := h.percentile(100); got != 3700 {
		t.Errorf("p100 = %v, want the maximum 3700", got)
	}
	var empty *Hist
	if empty.percentile(50) != 0 || newHist(nil).percentile(99) != 0 {
		t.Error("percentile of no samples is not 0")
	}
}

// TestHistAddEqualsWhole: a histogram of two halves added equals the
// histogram of the whole.
func TestHistAddEqualsWhole(t *testing.T) {
	a := []float64{1, 2, 3, 50, 700}
	b := []float64{0.5, 2, 9000}
	h := newHist(a)
	h.add(newHist(b))
	whole := newHist(append(append([]float64{}, a...), b...))
	if h.Count != whole.Count || h.MaxMs != whole.MaxMs || len(h.Buckets) != len(whole.Buckets) {
		t.Fatalf("added %+v, whole %+v", h, whole)
	}
	for k, v := range whole.Buckets {
		if h.Buckets[k] != v {
			t.Errorf("bucket %d: %d, want %d", k, h.Buckets[k], v)
		}
	}
}

func twoResults() []*Result {
	mk := func(ok int, lat []float64, sent, delivered int64, procs bool) *Result {
		r := &Result{URL: "http://a/", URLs: []string{"http://a/", "http://b/"}, Processes: 1, N: ok, Concurrency: 10}
		r.Setup.Ok, r.Setup.Seconds = ok, 10
		r.Setup.LoginHist = newHist([]float64{100, 200})
		r.Setup.FailuresByKind = map[string]int{"timeout": 1}
		ph := &MessagePhase{Rate: 50, Sent: sent, Delivered: delivered, Lost: sent - delivered, AchievedRate: 50, PhaseSeconds: 30,
			LatencyHist: newHist(lat), MaxMs: lat[len(lat)-1]}
		if procs {
			r.Memory = []ProcMemory{{Name: "boshd", PID: 7, RSSBeforeKB: 1000, RSSAfterKB: 1000 + 40*int64(ok) + 40*1000}}
			r.IdleCPU = []ProcCPU{{Name: "boshd", PID: 7, SetupSeconds: 3}}
			ph.CPU = []ProcCPU{{Name: "boshd", PID: 7, Seconds: 6}}
		}
		r.Phases = []*MessagePhase{ph}
		return r
	}
	return []*Result{
		mk(1000, []float64{1, 2, 3}, 1500, 1500, true),
		mk(2000, []float64{4, 5, 600}, 1500, 1499, true), // the same PID read again: counted once
	}
}

func TestMerge(t *testing.T) {
	m, err := merge(twoResults())
	if err != nil {
		t.Fatal(err)
	}
	if m.Processes != 2 || m.N != 3000 || m.Setup.Ok != 3000 || m.Concurrency != 20 {
		t.Errorf("processes %d n %d ok %d c %d", m.Processes, m.N, m.Setup.Ok, m.Concurrency)
	}
	if m.Setup.PerSecond != 300 {
		t.Errorf("login rate %v, want 300/s (3000 in the longest 10 s)", m.Setup.PerSecond)
	}
	if len(m.URLs) != 2 {
		t.Errorf("urls %v, want the two distinct ones", m.URLs)
	}
	if m.Setup.FailuresByKind["timeout"] != 2 || m.Setup.LoginHist.Count != 4 {
		t.Errorf("failures %v, login samples %d", m.Setup.FailuresByKind, m.Setup.LoginHist.Count)
	}
	ph := m.Phases[0]
	if ph.Rate != 100 || ph.Sent != 3000 || ph.Delivered != 2999 || ph.Lost != 1 || ph.AchievedRate != 100 {
		t.Errorf("phase %+v", ph)
	}
	if ph.MaxMs != 600 || ph.LatencyHist.Count != 6 {
		t.Errorf("max %v, samples %d", ph.MaxMs, ph.LatencyHist.Count)
	}
	if len(m.Memory) != 1 {
		t.Fatalf("memory %+v, want PID 7 once", m.Memory)
	}
	// The first reading: 1000 + 40*1000 + 40 000 KB over 3000 sessions.
	if got := m.Memory[0].PerSessionKB; math.Abs(got-80000.0/3000) > 1e-9 {
		t.Errorf("per session %v KB", got)
	}
	if len(ph.CPU) != 1 || math.Abs(ph.CPU[0].MsPerDelivered-6000.0/2999) > 1e-9 {
		t.Errorf("cpu %+v, want 6 s once over 2999 messages", ph.CPU)
	}
	if len(m.IdleCPU) != 1 || m.IdleCPU[0].SetupMsPerSession != 1 {
		t.Errorf("idle cpu %+v, want 3 s over 3000 logins = 1 ms", m.IdleCPU)
	}
}

func TestMergeRefusesUnequalPhases(t *testing.T) {
	rs := twoResults()
	rs[1].Phases = append(rs[1].Phases, &MessagePhase{})
	if _, err := merge(rs); err == nil {
		t.Error("results with 1 and 2 phases merged")
	}
	if _, err := merge(nil); err == nil {
		t.Error("nothing merged without an error")
	}
}

// TestMergeFiles runs the -merge command line on two files.
func TestMergeFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, r := range twoResults() {
		p := filepath.Join(dir, string(rune('a'+i))+".json")
		b, _ := json.Marshal(r)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-merge", paths[0] + "," + paths[1]}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var m Result
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Setup.Ok != 3000 || m.Processes != 2 || len(m.Merged) != 2 {
		t.Errorf("merged %+v", m)
	}
}
