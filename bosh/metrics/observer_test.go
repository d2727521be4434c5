package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestObserver: as the core's relay.Observer, Metrics counts every session
// series from the events alone: sessions by transport (the core's names
// mapped to the label's) and domain, their ends with the condition, and
// stanzas both ways; connects are Domains' to count.
func TestObserver(t *testing.T) {
	m := New(prometheus.NewRegistry())
	o := Observer(m)
	o.SessionCreated("bosh", "a.example")
	o.SessionCreated("xep-0025", "a.example")
	o.SessionCreated("websocket", "b.example")
	o.SessionCreated("websocket", "b.example")
	o.SessionEnded("websocket", "b.example", "remote-stream-error")
	o.UpstreamConnected("bosh", time.Millisecond)
	o.Stanzas("xep-0025", true, 3, 100)
	o.Stanzas("websocket", false, 1, 40)
	o.Stanzas("bosh", false, 1, 2)
	o.Held("bosh", +1)
	o.Held("xep-0025", +1)
	o.Held("bosh", -1)
	tests := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"bosh sessions", m.sessions[BOSH], 1},
		{"poll sessions", m.sessions[Poll], 1},
		{"websocket sessions", m.sessions[WebSocket], 1},
		{"websocket ends", m.ends.WithLabelValues("websocket", "remote-stream-error"), 1},
		{"stanzas to the client", m.stanzas[ToClient], 2},
		{"their bytes", m.stanzaBytes[ToClient], 42},
		{"stanzas to the server", m.stanzas[ToServer], 3},
		{"their bytes", m.stanzaBytes[ToServer], 100},
		{"held requests", m.held, 1},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(tt.c); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	want := []DomainSessions{{"bosh", "a.example", 1}, {"poll", "a.example", 1}, {"websocket", "b.example", 1}}
	if got := m.Sessions(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Sessions() = %v, want %v", got, want)
	}
	Observer(nil).Stanzas("bosh", false, 1, 1) // a nil Metrics counts nothing
	Observer(nil).SessionCreated("bosh", "a.example")
}
