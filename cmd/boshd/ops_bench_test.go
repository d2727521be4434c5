package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"boshd/bosh/metrics"
)

// BenchmarkCountRequests is what counting a request by status code costs
// around a front end: off (no wrapper) and on (codeWriter and the
// counter). docs/benchmarks.md quotes it.
func BenchmarkCountRequests(b *testing.B) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	req := httptest.NewRequest("POST", "/http-bind", nil)
	for _, tt := range []struct {
		name string
		m    *metrics.Metrics
	}{{"off", nil}, {"on", metrics.New(metrics.NewRegistry())}} {
		b.Run(tt.name, func(b *testing.B) {
			h := countRequests(metrics.BOSH, tt.m, inner)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
