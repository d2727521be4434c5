package chart

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// parse checks that doc is well-formed XML with an <svg> root in the SVG
// namespace, and returns the series titles and the count of each element.
func parse(t *testing.T, doc []byte) (series []string, count map[string]int) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	count = map[string]int{}
	var stack []string
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Space + " " + e.Name.Local
			}
			count[e.Name.Local]++
			stack = append(stack, e.Name.Local)
			if e.Name.Local == "title" && len(stack) >= 2 && stack[len(stack)-2] == "g" {
				var s string
				if err := d.DecodeElement(&s, &e); err != nil {
					t.Fatal(err)
				}
				series = append(series, s)
				stack = stack[:len(stack)-1]
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Fatalf("root element %q, want svg in the SVG namespace", root)
	}
	return series, count
}

func TestLine(t *testing.T) {
	for _, c := range []struct {
		name        string
		chart       Line
		wantSeries  []string
		wantCircles int
		wantLines   int
	}{
		{"two series", Line{Title: "Memory per session", XLabel: "sessions", YLabel: "KiB",
			Series: []Series{
				{Name: "boshd+prosody", X: []float64{1000, 5000, 9000}, Y: []float64{90.6, 84.8, 83.2}},
				{Name: "prosody-bosh", X: []float64{1000, 5000}, Y: []float64{38.1, 33.3}},
			}}, []string{"boshd+prosody", "prosody-bosh"}, 5, 2},
		{"log axes leave out what is not positive", Line{LogX: true, LogY: true,
			Series: []Series{{Name: "a<b & 'c'", X: []float64{0, 10, 100, 1000}, Y: []float64{1, 0.5, -1, 20}}}},
			[]string{"a<b & 'c'"}, 2, 1},
		{"one point, no line", Line{Series: []Series{{Name: "only", X: []float64{3}, Y: []float64{4}}}}, []string{"only"}, 1, 0},
		{"NaN left out", Line{Series: []Series{{Name: "n", X: []float64{1, 2}, Y: []float64{math.NaN(), 2}}}}, []string{"n"}, 1, 0},
		{"empty", Line{Title: "nothing"}, nil, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := c.chart.SVG()
			series, count := parse(t, doc)
			if strings.Join(series, "|") != strings.Join(c.wantSeries, "|") {
				t.Errorf("series %q, want %q", series, c.wantSeries)
			}
			if count["circle"] != c.wantCircles || count["polyline"] != c.wantLines {
				t.Errorf("%d points and %d lines, want %d and %d", count["circle"], count["polyline"], c.wantCircles, c.wantLines)
			}
			if !bytes.Equal(doc, c.chart.SVG()) {
				t.Error("two renderings differ")
			}
		})
	}
}

func TestBars(t *testing.T) {
	b := Bars{Title: "Latency at 1000/s", YLabel: "ms", LogY: true,
		Groups: []string{"boshd+ejabberd", "ejabberd-bosh"},
		Series: []BarSeries{{"p50", []float64{1.3, 1.4}}, {"p99", []float64{46.3, 1327.7}}, {"max", []float64{128.1, 0}}}}
	series, count := parse(t, b.SVG())
	if strings.Join(series, "|") != "p50|p99|max" {
		t.Errorf("series %q", series)
	}
	// One legend swatch and background per chart plus one bar per
	// positive value: 5 bars (the 0 cannot be drawn on a log axis).
	if got := count["rect"] - 1 - len(b.Series); got != 5 {
		t.Errorf("%d bars, want 5", got)
	}
	if doc := string(b.SVG()); !strings.Contains(doc, ">boshd+ejabberd<") || !strings.Contains(doc, ">1k<") {
		t.Errorf("group label or a 1000 ms tick missing:\n%s", doc)
	}
}

func TestTicks(t *testing.T) {
	for _, c := range []struct {
		vs        []float64
		log       bool
		wantFirst float64
		wantLast  float64
	}{
		{[]float64{3, 47}, false, 0, 50},
		{[]float64{0.7, 1300}, true, 0.1, 10000},
		{[]float64{5, 5}, false, 0, 5},
	} {
		ts := newAxis(c.vs, c.log, true, 0, 100).ticks()
		if len(ts) < 2 || math.Abs(ts[0]-c.wantFirst) > 1e-9 || math.Abs(ts[len(ts)-1]-c.wantLast) > 1e-9 {
			t.Errorf("ticks of %v (log %v) = %v, want %v … %v", c.vs, c.log, ts, c.wantFirst, c.wantLast)
		}
	}
	for v, want := range map[float64]string{20000: "20k", 2500: "2.5k", 0.5: "0.5", 1e6: "1M", 350: "350"} {
		if got := label(v); got != want {
			t.Errorf("label(%v) = %q, want %q", v, got, want)
		}
	}
}
