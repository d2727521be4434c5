package bosh

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"boshd/bosh/internal/frontendtest"
	"boshd/bosh/metrics"
)

// TestMetricsFollowSession: the hooks in this package move the series as
// a session lives: started, a request held, a stanza each way, and the
// end with its condition.
func TestMetricsFollowSession(t *testing.T) {
	tests := []struct {
		name      string
		end       func(f *fakeClock, sid string)
		condition string
	}{
		{"client terminates", func(f *fakeClock, sid string) { f.do(body(3, sid, " type='terminate'", "")) }, "terminate"},
		{"inactivity", func(f *fakeClock, sid string) { time.Sleep(31 * time.Second); synctest.Wait() }, "inactivity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := prometheus.NewRegistry()
				m := metrics.New(reg)
				f := newFakeClock(t, func(c *Config) { c.Metrics, c.Domains.Metrics = m, m })
				sid := f.create("wait='10' hold='1'")
				conn := f.up.NextConn(t)
				frontendtest.Series(t, reg, "boshd_sessions", `boshd_sessions{transport="bosh"} 1`)
				if c, ok := m.LastConnect("localhost"); !ok || c.Err != "" {
					t.Errorf("last connect %+v", c)
				}

				answered := f.start(body(2, sid, "", "<message xmlns='jabber:client' to='b@localhost' id='m1'/>"))
				conn.Next(t) // the header
				conn.Next(t) // the message
				synctest.Wait()
				frontendtest.Series(t, reg, "boshd_held_requests", `boshd_held_requests 1`)
				conn.Push(t, "<message from='b@localhost' id='m2'/>")
				answered()
				frontendtest.Series(t, reg, "boshd_held_requests", `boshd_held_requests 0`)
				frontendtest.Series(t, reg, "boshd_stanzas_total", `boshd_stanzas_total{direction="to_client"} 1`, `boshd_stanzas_total{direction="to_server"} 1`)

				tt.end(f, sid)
				frontendtest.Series(t, reg, "boshd_sessions", `boshd_sessions{transport="bosh"} 0`)
				frontendtest.Series(t, reg, "boshd_session_ends_total", `boshd_session_ends_total{condition="`+tt.condition+`",transport="bosh"} 1`)
			})
		})
	}
}
