package httppoll

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
)

// TestOveractivePolicing: wasted polls (answered empty without a hold,
// sooner than half of poll_min after the previous answer) end the session
// after MaxOveractive in a row with IDBadRequest, a policy-violation stream
// error and a log line; clients that follow the advice, or poll back to
// back while polls are held, or send data, are never punished.
func TestOveractivePolicing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		holdCap time.Duration
		// client makes its n-th request and returns the answer.
		client func(p *harness, id string, n int) reply
		ended  bool
	}{
		{"back to back, holding off", -1, func(p *harness, id string, _ int) reply {
			return p.post(id + ",")
		}, true},
		{"follows the advice, holding off", -1, func(p *harness, id string, _ int) reply {
			r := p.post(id + ",")
			time.Sleep(time.Duration(r.interval) * time.Second)
			return r
		}, false},
		{"back to back, held", 20 * time.Second, func(p *harness, id string, _ int) reply {
			return p.post(id + ",")
		}, false},
		{"follows the advice, held", 20 * time.Second, func(p *harness, id string, _ int) reply {
			r := p.post(id + ",")
			time.Sleep(time.Duration(r.interval) * time.Second)
			return r
		}, false},
		{"sends data back to back, holding off", -1, func(p *harness, id string, _ int) reply {
			return p.post(id + ",<presence/>")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newHarness(t, func(c *Config) { c.HoldCap = tc.holdCap })
				id, f := p.open()
				var last reply
				n := 0
				for ; n < 3*MaxOveractive; n++ {
					last = tc.client(p, id, n)
					if last.id != id {
						break
					}
				}
				if !tc.ended {
					if last.id != id {
						t.Fatalf("request %d answered %s %q, want the session to go on", n+1, last.id, last.body)
					}
					return
				}
				if n+1 != MaxOveractive || last.id != IDBadRequest {
					t.Fatalf("request %d answered %s, want %s at request %d", n+1, last.id, IDBadRequest, MaxOveractive)
				}
				if !strings.Contains(last.body, "policy-violation") || !strings.HasSuffix(last.body, "</stream:stream>") {
					t.Fatalf("ending answer %q", last.body)
				}
				synctest.Wait()
				if !f.isClosed() {
					t.Fatal("upstream stream not closed")
				}
				if !p.logged(logrus.WarnLevel, "session ended: polling too often") {
					t.Fatal("no log line")
				}
				if r := p.post(id + ","); r.id != IDUnknown {
					t.Fatalf("after the end: %s", r.id)
				}
			})
		})
	}
}

// TestOveractiveReleases: a client that keeps two polls open at once, each
// releasing the held one at once, wastes every released answer; after
// MaxOveractive releases in a row the session ends with IDBadRequest.
func TestOveractiveReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, _ := p.open()
		answers := make(chan reply, 4*MaxOveractive)
		for n := 1; n <= 3*MaxOveractive; n++ {
			go func() { answers <- p.post(id + ",") }()
			synctest.Wait()
			for len(answers) > 0 {
				if r := <-answers; r.id != id {
					if r.id != IDBadRequest || n != MaxOveractive+1 || !strings.Contains(r.body, "policy-violation") {
						t.Fatalf("request %d answered %s %q, want %s at request %d (the %d-th release)",
							n, r.id, r.body, IDBadRequest, MaxOveractive+1, MaxOveractive)
					}
					return
				}
			}
		}
		t.Fatal("the session went on")
	})
}
