package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestObserver: as the core's relay.Observer, Metrics counts each stanza
// from the server and nothing else, so that what the front ends count
// (sessions with their domain, writes to the server, connects) is not
// counted twice.
func TestObserver(t *testing.T) {
	m := New(prometheus.NewRegistry())
	o := Observer(m)
	o.SessionCreated("bosh")
	o.UpstreamConnected("bosh", time.Millisecond)
	o.Stanza("xep-0025", true, 100)
	o.Stanza("websocket", false, 40)
	o.Stanza("bosh", false, 2)
	o.SessionEnded("bosh", "")
	tests := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"sessions", m.sessions[BOSH], 0},
		{"stanzas to the client", m.stanzas[ToClient], 2},
		{"their bytes", m.stanzaBytes[ToClient], 42},
		{"stanzas to the server", m.stanzas[ToServer], 0},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(tt.c); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	Observer(nil).Stanza("bosh", false, 1) // a nil Metrics counts nothing
}
