package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNilIsNoop: a nil *Metrics accepts every call, so front ends and tests
// need no metrics.
func TestNilIsNoop(t *testing.T) {
	var m *Metrics
	m.SessionStarted(BOSH, "a")
	m.SessionEnded(BOSH, "a", EndTerminate)
	m.Request(Poll, 200)
	m.HeldInc()
	m.HeldDec()
	m.UpstreamConnect("a", "x:1", time.Second, nil)
	m.Stanza(ToServer, 10)
	if m.Sessions() != nil {
		t.Error("nil Metrics has sessions")
	}
	if _, ok := m.LastConnect("a"); ok {
		t.Error("nil Metrics has a connect result")
	}
}

// TestSeries: each method moves the series of the contract's name and
// labels, and the per-domain view /status shows.
func TestSeries(t *testing.T) {
	reg := NewRegistry()
	m := New(reg)
	m.SessionStarted(BOSH, "a.example")
	m.SessionStarted(BOSH, "a.example")
	m.SessionStarted(Poll, "b.example")
	m.SessionEnded(BOSH, "a.example", "remote-stream-error")
	m.Request(BOSH, 200)
	m.Request(BOSH, 200)
	m.Request(Poll, 413)
	m.Request(BOSH, 999)
	m.HeldInc()
	m.HeldInc()
	m.HeldDec()
	m.UpstreamConnect("a.example", "127.0.0.1:5222", 3*time.Millisecond, nil)
	m.UpstreamConnect("b.example", "", time.Second, errors.New("refused"))
	m.Stanza(ToServer, 100)
	m.Stanza(ToClient, 7)
	m.Stanza(ToClient, 8)

	want := `
# HELP boshd_held_requests HTTP requests held open waiting for data (BOSH long polls, held XEP-0025 polls).
# TYPE boshd_held_requests gauge
boshd_held_requests 1
# HELP boshd_http_requests_total HTTP requests answered by the client endpoints, by transport and status code.
# TYPE boshd_http_requests_total counter
boshd_http_requests_total{code="200",transport="bosh"} 2
boshd_http_requests_total{code="413",transport="poll"} 1
boshd_http_requests_total{code="999",transport="bosh"} 1
# HELP boshd_session_ends_total Sessions ended, by transport and condition (XEP-0124 §17.2 condition, terminate, inactivity).
# TYPE boshd_session_ends_total counter
boshd_session_ends_total{condition="remote-stream-error",transport="bosh"} 1
# HELP boshd_sessions Live client sessions, by transport (bosh, poll, websocket).
# TYPE boshd_sessions gauge
boshd_sessions{transport="bosh"} 1
boshd_sessions{transport="poll"} 1
boshd_sessions{transport="websocket"} 0
# HELP boshd_stanza_bytes_total Bytes of stanzas relayed, by direction (to_server, to_client).
# TYPE boshd_stanza_bytes_total counter
boshd_stanza_bytes_total{direction="to_client"} 15
boshd_stanza_bytes_total{direction="to_server"} 100
# HELP boshd_stanzas_total Stanzas relayed, by direction (to_server, to_client).
# TYPE boshd_stanzas_total counter
boshd_stanzas_total{direction="to_client"} 2
boshd_stanzas_total{direction="to_server"} 1
`
	names := []string{"boshd_held_requests", "boshd_http_requests_total", "boshd_session_ends_total", "boshd_sessions", "boshd_stanza_bytes_total", "boshd_stanzas_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.connect); n != 1 {
		t.Errorf("%d connect histograms", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
		if mf.GetName() == "boshd_upstream_connect_seconds" {
			if c := mf.GetMetric()[0].GetHistogram().GetSampleCount(); c != 2 {
				t.Errorf("connect histogram has %d samples, want 2", c)
			}
		}
	}
	for _, n := range []string{"go_goroutines", "process_resident_memory_bytes", "boshd_upstream_connect_seconds"} {
		if !seen[n] {
			t.Errorf("no %s", n)
		}
	}
	got := m.Sessions()
	if len(got) != 2 || got[0] != (DomainSessions{"bosh", "a.example", 1}) || got[1] != (DomainSessions{"poll", "b.example", 1}) {
		t.Errorf("sessions by domain %+v", got)
	}
	if c, ok := m.LastConnect("b.example"); !ok || c.Err != "refused" {
		t.Errorf("last connect of b.example %+v", c)
	}
	if c, ok := m.LastConnect("a.example"); !ok || c.Err != "" || c.Addr != "127.0.0.1:5222" {
		t.Errorf("last connect of a.example %+v", c)
	}
}

// BenchmarkHotPath is what one relayed message costs in metrics: one
// request counted, one held request, one stanza each way.
func BenchmarkHotPath(b *testing.B) {
	for _, tt := range []struct {
		name string
		m    *Metrics
	}{{"off", nil}, {"on", New(NewRegistry())}} {
		b.Run(tt.name, func(b *testing.B) {
			m := tt.m
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.Request(BOSH, 200)
					m.HeldInc()
					m.HeldDec()
					m.Stanza(ToServer, 120)
					m.Stanza(ToClient, 120)
				}
			})
		})
	}
}
