package httppoll

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boshd/bosh/internal/frontendtest"
	"boshd/bosh/metrics"
)

// TestMetricsFollowSession: the hooks in this package move the series as
// a polling session lives: started once its upstream is open, a stanza to
// the server, a held poll, and the end with its condition.
func TestMetricsFollowSession(t *testing.T) {
	tests := []struct {
		name      string
		end       func(p *harness, id string)
		condition string
	}{
		{"client closes its stream", func(p *harness, id string) { p.post(id + ",</stream:stream>") }, "terminate"},
		{"session timeout", func(p *harness, id string) { time.Sleep(2 * time.Hour); synctest.Wait() }, "inactivity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := prometheus.NewRegistry()
				m := metrics.New(reg)
				p := newHarness(t, func(c *Config) { c.Metrics, c.SessionTimeout = m, time.Hour })
				id, f := p.open()
				frontendtest.Series(t, reg, "boshd_sessions", `boshd_sessions{transport="poll"} 1`)

				msg := "<message xmlns='jabber:client' to='b@example.com' id='m1'/>"
				p.post(id + "," + msg)
				if f.sentText() != msg {
					t.Fatal("message not forwarded")
				}
				frontendtest.Series(t, reg, "boshd_stanzas_total", `boshd_stanzas_total{direction="to_server"} 1`)
				frontendtest.Series(t, reg, "boshd_stanza_bytes_total", `boshd_stanza_bytes_total{direction="to_server"} 59`)

				time.Sleep(10 * time.Minute)
				p.post(id + ",")
				got := make(chan reply, 1)
				go func() { got <- p.post(id + ",") }()
				synctest.Wait()
				frontendtest.Series(t, reg, "boshd_held_requests", `boshd_held_requests 1`)
				f.stanza("<message/>")
				<-got
				frontendtest.Series(t, reg, "boshd_held_requests", `boshd_held_requests 0`)

				tt.end(p, id)
				frontendtest.Series(t, reg, "boshd_sessions", `boshd_sessions{transport="poll"} 0`)
				frontendtest.Series(t, reg, "boshd_session_ends_total", `boshd_session_ends_total{condition="`+tt.condition+`",transport="poll"} 1`)
			})
		})
	}
}

// TestReload: a session limit given to Reload applies to the next
// session; the session from before goes on.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.MaxSessions = 1 })
		id, f := p.open()
		if r := p.post("0," + clientHeader); !strings.Contains(r.body, "policy-violation") {
			t.Fatalf("second session under max_sessions=1: %s", r.body)
		}
		cfg := *p.h.config()
		cfg.MaxSessions = 2
		p.h.Reload(cfg)
		p.open()
		p.post(id + ",<presence/>")
		if f.sentText() != "<presence/>" {
			t.Fatal("the session from before the reload stopped relaying")
		}
	})
}
