// Package chart draws the benchmark charts of docs/ as standalone SVG
// files (SVG 1.1, no script, no font or style sheet fetched), so that a
// reader sees the curves in any browser or on GitHub with no network at
// view time. It knows two kinds, all the benchmarks need:
//
//   - [Line]: one or more series of (x, y) points, e.g. memory per session
//     against the number of sessions, one line per target;
//   - [Bars]: grouped bars, e.g. the latency percentiles of each target.
//
// Either axis may be logarithmic (latencies span four decades). Call
// SVG to get the document; the output is deterministic for equal input.
package chart

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size of every chart in SVG user units (pixels), and its margins.
const (
	width        = 760
	height       = 420
	marginLeft   = 78
	marginRight  = 190 // the legend
	marginTop    = 40
	marginBottom = 56
)

// palette is the colours of the series in order (Okabe–Ito, readable by
// colour-blind readers), repeated when there are more series.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// Series is one named line of a Line chart: Y[i] at X[i].
type Series struct {
	Name string
	X, Y []float64
}

// Line is a line chart with markers at the points.
type Line struct {
	Title, XLabel, YLabel string
	// LogX, LogY make an axis logarithmic; points ≤ 0 are then left out.
	LogX, LogY bool
	Series     []Series
}

// Bars is a grouped bar chart: for each group (e.g. a target) one bar per
// series (e.g. p50, p90, p99, max), Series[j].Values[i] for Groups[i].
type Bars struct {
	Title, YLabel string
	LogY          bool
	Groups        []string
	Series        []BarSeries
}

// BarSeries is one bar of every group.
type BarSeries struct {
	Name   string
	Values []float64
}

// axis maps data values to pixels on [p0, p1].
type axis struct {
	lo, hi float64
	log    bool
	p0, p1 float64
}

func (a axis) pos(v float64) float64 {
	lo, hi := a.lo, a.hi
	if a.log {
		v, lo, hi = math.Log10(v), math.Log10(lo), math.Log10(hi)
	}
	if hi == lo {
		return (a.p0 + a.p1) / 2
	}
	return a.p0 + (v-lo)/(hi-lo)*(a.p1-a.p0)
}

// newAxis fits an axis around the values vs (already filtered for log).
func newAxis(vs []float64, log, fromZero bool, p0, p1 float64) axis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		lo, hi = min(lo, v), max(hi, v)
	}
	if len(vs) == 0 {
		lo, hi = 0, 1
		if log {
			lo, hi = 1, 10
		}
	}
	if log {
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		if hi <= lo {
			hi = lo * 10
		}
		return axis{lo, hi, true, p0, p1}
	}
	if fromZero && lo > 0 {
		lo = 0
	}
	if hi == lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	return axis{lo, hi, false, p0, p1}
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// ticks are the values labelled on the axis.
func (a axis) ticks() []float64 {
	var ts []float64
	if a.log {
		for d := a.lo; d <= a.hi*1.0001; d *= 10 {
			ts = append(ts, d)
		}
		return ts
	}
	step := niceStep((a.hi - a.lo) / 5)
	for v := a.lo; v <= a.hi+step/1000; v += step {
		ts = append(ts, math.Round(v/step)*step)
	}
	return ts
}

// label formats a tick value briefly: 20000 → "20k", 0.5 → "0.5".
func label(v float64) string {
	switch av := math.Abs(v); {
	case av >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case av >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// svg collects the document.
type svg struct{ b strings.Builder }

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, extra, t string) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`+"\n", x, y, anchor, extra, esc(t))
}

// esc escapes text for XML character data and attribute values.
func esc(t string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(t)
}

// frame writes the header, title, axes with grid and labels, and legend.
func frame(s *svg, title, xLabel, yLabel string, y axis, names []string) {
	s.f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	s.f(`<title>%s</title>`+"\n", esc(title))
	s.f(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	s.text(width/2, 22, "middle", ` font-size="15" font-weight="bold"`, title)
	x0, x1 := float64(marginLeft), float64(width-marginRight)
	for _, t := range y.ticks() {
		py := y.pos(t)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", x0, py, x1, py)
		s.text(x0-6, py+4, "end", "", label(t))
	}
	s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", x0, y.p0, x1, y.p0)
	s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", x0, y.p0, x0, y.p1)
	s.text((x0+x1)/2, height-12, "middle", "", xLabel)
	cy := (y.p0 + y.p1) / 2
	s.text(18, cy, "middle", fmt.Sprintf(` transform="rotate(-90 18 %.1f)"`, cy), yLabel)
	for i, n := range names {
		ly := float64(marginTop + 10 + 20*i)
		s.f(`<rect x="%.1f" y="%.1f" width="14" height="10" fill="%s"/>`+"\n", x1+16, ly-9, palette[i%len(palette)])
		s.text(x1+36, ly, "start", "", n)
	}
}

// SVG renders the line chart.
func (c *Line) SVG() []byte {
	var xs, ys []float64
	for _, sr := range c.Series {
		for i := range min(len(sr.X), len(sr.Y)) {
			if c.ok(sr.X[i], sr.Y[i]) {
				xs, ys = append(xs, sr.X[i]), append(ys, sr.Y[i])
			}
		}
	}
	x := newAxis(xs, c.LogX, false, marginLeft, width-marginRight)
	y := newAxis(ys, c.LogY, true, height-marginBottom, marginTop)
	var s svg
	names := make([]string, len(c.Series))
	for i, sr := range c.Series {
		names[i] = sr.Name
	}
	frame(&s, c.Title, c.XLabel, c.YLabel, y, names)
	for _, t := range x.ticks() {
		px := x.pos(t)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", px, y.p0, px, y.p0+5)
		s.text(px, y.p0+19, "middle", "", label(t))
	}
	for i, sr := range c.Series {
		col := palette[i%len(palette)]
		var pts []string
		for k := range min(len(sr.X), len(sr.Y)) {
			if c.ok(sr.X[k], sr.Y[k]) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x.pos(sr.X[k]), y.pos(sr.Y[k])))
			}
		}
		s.f(`<g class="series"><title>%s</title>`+"\n", esc(sr.Name))
		if len(pts) > 1 {
			s.f(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", col, strings.Join(pts, " "))
		}
		for _, p := range pts {
			px, py, _ := strings.Cut(p, ",")
			s.f(`<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", px, py, col)
		}
		s.f("</g>\n")
	}
	s.f("</svg>\n")
	return []byte(s.b.String())
}

// ok says whether a point can be drawn on the chart's axes.
func (c *Line) ok(x, y float64) bool {
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return false
	}
	return (!c.LogX || x > 0) && (!c.LogY || y > 0)
}

// SVG renders the bar chart.
func (c *Bars) SVG() []byte {
	var vs []float64
	for _, sr := range c.Series {
		for _, v := range sr.Values {
			if c.ok(v) {
				vs = append(vs, v)
			}
		}
	}
	y := newAxis(vs, c.LogY, true, height-marginBottom, marginTop)
	var s svg
	names := make([]string, len(c.Series))
	for i, sr := range c.Series {
		names[i] = sr.Name
	}
	frame(&s, c.Title, "", c.YLabel, y, names)
	x0, x1 := float64(marginLeft), float64(width-marginRight)
	gw := (x1 - x0) / float64(max(1, len(c.Groups)))
	bw := gw * 0.8 / float64(max(1, len(c.Series)))
	for g, name := range c.Groups {
		gx := x0 + gw*float64(g)
		s.text(gx+gw/2, y.p0+19, "middle", "", name)
	}
	for j, sr := range c.Series {
		col := palette[j%len(palette)]
		s.f(`<g class="series"><title>%s</title>`+"\n", esc(sr.Name))
		for g := range min(len(sr.Values), len(c.Groups)) {
			v := sr.Values[g]
			if !c.ok(v) {
				continue
			}
			top := y.pos(v)
			bx := x0 + gw*float64(g) + gw*0.1 + bw*float64(j)
			s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				bx, top, bw*0.92, max(0, y.p0-top), col, esc(c.Groups[g]), esc(sr.Name), label(v))
		}
		s.f("</g>\n")
	}
	s.f("</svg>\n")
	return []byte(s.b.String())
}

func (c *Bars) ok(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && (!c.LogY || v > 0)
}
