package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteCharts draws the report's charts from two targets' results
// into img/ beside the report: one memory chart with both targets, one
// latency chart per rate and N, each a well-formed SVG file that the
// links name.
func TestWriteCharts(t *testing.T) {
	mk := func(memKB float64, p99 float64) *result {
		r := &result{}
		r.Memory = append(r.Memory, struct {
			Name         string  `json:"name"`
			PerSessionKB float64 `json:"per_session_kb"`
			RSSAfterKB   int64   `json:"rss_after_kb"`
		}{"boshd", memKB, 0})
		r.Phases = make([]struct {
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
		}, 1)
		ph := &r.Phases[0]
		ph.Rate, ph.Delivered, ph.P50Ms, ph.P90Ms, ph.P99Ms, ph.MaxMs = 200, 10, 1, 2, p99, p99*2
		return r
	}
	results := map[key][]*result{
		{"boshd+prosody", 1000}: {mk(50, 9)},
		{"boshd+prosody", 5000}: {mk(48, 12)},
		{"prosody-bosh", 1000}:  {mk(38, 70)},
	}
	dir := t.TempDir()
	c := config{ns: []int{1000, 5000}, out: filepath.Join(dir, "benchmarks.md")}
	charts, err := writeCharts(c, results, []float64{200})
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for _, ch := range charts {
		links = append(links, ch.link)
	}
	want := "img/benchmarks-memory.svg img/benchmarks-latency-200-n1000.svg img/benchmarks-latency-200-n5000.svg"
	if got := strings.Join(links, " "); got != want {
		t.Fatalf("charts %q, want %q", got, want)
	}
	for _, l := range links {
		raw, err := os.ReadFile(filepath.Join(dir, l))
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(strings.NewReader(string(raw)))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
		}
		if l == links[0] && (!strings.Contains(string(raw), "<title>boshd+prosody</title>") || !strings.Contains(string(raw), "<title>prosody-bosh</title>")) {
			t.Errorf("memory chart lacks a target:\n%s", raw)
		}
	}
}
