package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"boshd/bench/chart"
)

// A chart written beside the report: its title and its path relative to
// the report, for the link.
type chartFile struct{ title, link string }

// writeCharts draws the charts of the report into the img directory beside
// c.out: memory per session against N for every target, and for each rate
// and N the latency percentiles of every target. Values are the medians the
// tables quote.
func writeCharts(c config, results map[key][]*result, rates []float64) ([]chartFile, error) {
	dir := filepath.Join(filepath.Dir(c.out), "img")
	base := strings.TrimSuffix(filepath.Base(c.out), filepath.Ext(c.out))
	var out []chartFile
	write := func(name, title string, svg []byte) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), svg, 0o644); err != nil {
			return err
		}
		out = append(out, chartFile{title, "img/" + name})
		return nil
	}

	mem := chart.Line{Title: "Memory per idle logged-in session (target's processes together)",
		XLabel: "logged-in sessions (N)", YLabel: "KiB per session (median)"}
	for _, t := range allTargets {
		s := chart.Series{Name: t}
		for _, n := range c.ns {
			if v, k := median(results[key{t, n}], memTotal); k > 0 {
				s.X, s.Y = append(s.X, float64(n)), append(s.Y, v)
			}
		}
		if len(s.X) > 0 {
			mem.Series = append(mem.Series, s)
		}
	}
	if len(mem.Series) > 0 {
		if err := write(base+"-memory.svg", mem.Title, mem.SVG()); err != nil {
			return nil, err
		}
	}

	for _, rate := range rates {
		for _, n := range c.ns {
			b := chart.Bars{Title: fmt.Sprintf("Message latency at %.0f messages/s, N = %d", rate, n),
				YLabel: "ms (median of runs, log scale)", LogY: true}
			which := []string{"p50", "p90", "p99", "max"}
			vals := make([][]float64, len(which))
			for _, t := range allTargets {
				rs := results[key{t, n}]
				if _, k := median(rs, lat(rate, "p50")); k == 0 {
					continue
				}
				b.Groups = append(b.Groups, t)
				for i, w := range which {
					v, _ := median(rs, lat(rate, w))
					vals[i] = append(vals[i], v)
				}
			}
			if len(b.Groups) == 0 {
				continue
			}
			for i, w := range which {
				b.Series = append(b.Series, chart.BarSeries{Name: w, Values: vals[i]})
			}
			if err := write(fmt.Sprintf("%s-latency-%.0f-n%d.svg", base, rate, n), b.Title, b.SVG()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
