package main

import (
	"math"
	"slices"
)

// Hist is a latency histogram in milliseconds with logarithmic buckets
// (each 2 % wider than the one before, from 10 µs), written into the JSON
// result so that the results of several boshload processes can be merged
// (-merge) into exact counts and percentiles within 1 % of the samples'.
// Buckets maps a bucket number to its count; bucket 0 holds everything
// below 10 µs.
type Hist struct {
	Buckets map[int]int64 `json:"buckets"`
	Count   int64         `json:"count"`
	MaxMs   float64       `json:"max_ms"`
}

const (
	histMin    = 0.01 // ms, the lower edge of bucket 1
	histGrowth = 1.02 // each bucket's upper edge over its lower edge
)

// histBucket is the bucket of a value in ms.
func histBucket(ms float64) int {
	if ms < histMin {
		return 0
	}
	return 1 + int(math.Floor(math.Log(ms/histMin)/math.Log(histGrowth)))
}

// histValue is a bucket's representative value: its geometric middle.
func histValue(b int) float64 {
	if b <= 0 {
		return histMin / 2
	}
	return histMin * math.Pow(histGrowth, float64(b-1)+0.5)
}

// newHist counts the samples xs (ms).
func newHist(xs []float64) *Hist {
	h := &Hist{Buckets: map[int]int64{}}
	for _, x := range xs {
		h.Buckets[histBucket(x)]++
		h.Count++
		h.MaxMs = max(h.MaxMs, x)
	}
	return h
}

// add counts o's samples into h.
func (h *Hist) add(o *Hist) {
	if o == nil {
		return
	}
	if h.Buckets == nil {
		h.Buckets = map[int]int64{}
	}
	for b, c := range o.Buckets {
		h.Buckets[b] += c
	}
	h.Count += o.Count
	h.MaxMs = max(h.MaxMs, o.MaxMs)
}

// percentile is the p-th percentile by nearest rank, as percentile() of
// the samples, but from the buckets; p = 100 gives the exact maximum.
func (h *Hist) percentile(p float64) float64 {
	if h == nil || h.Count == 0 {
		return 0
	}
	if p >= 100 {
		return h.MaxMs
	}
	k := int64(p/100*float64(h.Count)+0.5) - 1
	k = max(0, min(k, h.Count-1))
	bs := make([]int, 0, len(h.Buckets))
	for b := range h.Buckets {
		bs = append(bs, b)
	}
	slices.Sort(bs)
	var seen int64
	for _, b := range bs {
		seen += h.Buckets[b]
		if seen > k {
			return min(histValue(b), h.MaxMs)
		}
	}
	return h.MaxMs
}
