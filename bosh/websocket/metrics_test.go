package websocket

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"boshd/bosh/internal/frontendtest"
	"boshd/bosh/metrics"
)

// TestMetricsFollowSession: the hooks in this package move the series as
// a WebSocket session lives: started once its upstream is open, stanzas
// both ways (to the client through the relay), and the end with its
// condition.
func TestMetricsFollowSession(t *testing.T) {
	tests := []struct {
		name      string
		end       func(hs *harness, c *client)
		condition string
	}{
		{"client closes its stream", func(_ *harness, c *client) {
			c.send(closeMsg)
			c.expect(closeMsg)
			c.closed()
		}, "terminate"},
		{"stream error", func(_ *harness, c *client) {
			c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
			c.expect("<policy-violation ")
			c.expect(closeMsg)
			c.closed()
		}, "policy-violation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := metrics.New(reg)
			hs := newHarness(t, func(c *Config) { c.Metrics = m })
			c := hs.dial(t)
			up := c.open(hs)
			up.Next(t) // the header
			frontendtest.SeriesSoon(t, reg, "boshd_sessions", `boshd_sessions{transport="websocket"} 1`)

			c.send("<presence/>")
			up.Next(t)
			up.Push(t, "<message/>")
			c.next()
			frontendtest.SeriesSoon(t, reg, "boshd_stanzas_total",
				`boshd_stanzas_total{direction="to_server"} 1`, `boshd_stanzas_total{direction="to_client"} 1`)

			tt.end(hs, c)
			frontendtest.SeriesSoon(t, reg, "boshd_sessions", `boshd_sessions{transport="websocket"} 0`)
			frontendtest.SeriesSoon(t, reg, "boshd_session_ends_total", `boshd_session_ends_total{condition="`+tt.condition+`",transport="websocket"} 1`)
		})
	}
}
