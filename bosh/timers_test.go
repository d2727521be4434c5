package bosh

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/beevik/etree"

	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// The timers of XEP-0124 (wait, inactivity, pause, polling) and the
// adaptive poll interval run on synctest's fake clock, over an in-memory
// upstream: the tests take no real time and cannot be flaky.

// fakeClock is a Handler whose upstream is an in-memory xmpptest server.
type fakeClock struct {
	t  *testing.T
	h  *Handler
	up *xmpptest.Server
}

func newFakeClock(t *testing.T, mod func(*Config)) *fakeClock {
	up := xmpptest.NewPipe()
	cfg := Config{
		FrontEnd: relay.FrontEnd{Domains: &relay.Domains{
			Dialer: &xmppconn.Dialer{Routes: map[string][]string{"localhost": {up.Addr}}, DialContext: up.Dial},
			Served: []string{"localhost"},
		}},
		MaxWait:    60 * time.Second,
		Inactivity: 30 * time.Second,
		Polling:    5 * time.Second,
		MaxPause:   120 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	f := &fakeClock{t: t, h: New(cfg), up: up}
	t.Cleanup(func() {
		f.h.Shutdown(context.Background())
		up.Close()
	})
	return f
}

// do sends one request and returns the answer's root element; it blocks
// (in fake time) until the handler answers.
func (f *fakeClock) do(body string) *etree.Element {
	f.t.Helper()
	done := f.start(body)
	return done()
}

// start sends a request in the background; the function returned waits for
// and parses its answer.
func (f *fakeClock) start(body string) func() *etree.Element {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/http-bind", strings.NewReader(body))
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		f.h.ServeHTTP(rec, req)
	}()
	return func() *etree.Element {
		f.t.Helper()
		<-ch
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(rec.Body.Bytes()); err != nil {
			f.t.Fatalf("answer %q: %v", rec.Body.String(), err)
		}
		return doc.Root()
	}
}

func (f *fakeClock) create(attrs string) string {
	f.t.Helper()
	root := f.do(`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6' ` + attrs + `/>`)
	sid := root.SelectAttrValue("sid", "")
	if sid == "" {
		f.t.Fatalf("no session")
	}
	return sid
}

func TestWaitTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, nil)
		sid := f.create("wait='20' hold='1'")
		start := time.Now()
		root := f.do(body(2, sid, "", ""))
		if got := time.Since(start); got != 20*time.Second {
			t.Fatalf("held for %v, want the session's wait of 20s", got)
		}
		if root.SelectAttrValue("type", "") != "" || len(root.ChildElements()) != 0 {
			t.Fatalf("expired request answered with %v", root.Attr)
		}
	})
}

func TestInactivityTimer(t *testing.T) {
	tests := []struct {
		name  string
		quiet time.Duration
		alive bool
	}{
		{"request just inside inactivity", 29 * time.Second, true},
		{"request after inactivity", 31 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeClock(t, nil)
				sid := f.create("wait='10' hold='1'")
				time.Sleep(tt.quiet)
				root := f.do(body(2, sid, " type='terminate'", ""))
				alive := root.SelectAttrValue("condition", "") == ""
				if alive != tt.alive {
					t.Fatalf("after %v of silence: answer %v, want alive=%v", tt.quiet, root.Attr, tt.alive)
				}
			})
		})
	}
}

// TestInactivityDoesNotRunWhileHeld: a session with a request held longer
// than 'inactivity' is not reaped (XEP-0124 §10 counts only time with no
// request pending).
func TestInactivityDoesNotRunWhileHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, nil)
		sid := f.create("wait='50' hold='1'")
		f.do(body(2, sid, "", "")) // held 50s, beyond inactivity (30s)
		time.Sleep(20 * time.Second)
		if root := f.do(body(3, sid, " type='terminate'", "")); root.SelectAttrValue("condition", "") != "" {
			t.Fatalf("session reaped while a request was held: %v", root.Attr)
		}
	})
}

func TestPauseTimer(t *testing.T) {
	tests := []struct {
		name  string
		quiet time.Duration
		alive bool
	}{
		{"back within the pause, past inactivity", 100 * time.Second, true},
		{"silent past the pause", 101 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeClock(t, nil)
				sid := f.create("wait='10' hold='1'")
				if root := f.do(body(2, sid, " pause='100'", "")); root.SelectAttrValue("type", "") != "" {
					t.Fatalf("pause answered %v", root.Attr)
				}
				time.Sleep(tt.quiet - time.Millisecond/2)
				root := f.do(body(3, sid, " type='terminate'", ""))
				if alive := root.SelectAttrValue("condition", "") == ""; alive != tt.alive {
					t.Fatalf("after %v paused: %v, want alive=%v", tt.quiet, root.Attr, tt.alive)
				}
			})
		})
	}
}

func TestPauseIsCappedAtMaxPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, func(c *Config) { c.MaxPause = 40 * time.Second })
		sid := f.create("wait='10' hold='1'")
		f.do(body(2, sid, " pause='600'", ""))
		time.Sleep(41 * time.Second)
		if root := f.do(body(3, sid, "", "")); root.SelectAttrValue("condition", "") != "item-not-found" {
			t.Fatalf("a pause over maxpause kept the session: %v", root.Attr)
		}
	})
}

func TestPollingInterval(t *testing.T) {
	tests := []struct {
		name string
		gap  time.Duration
		ok   bool
	}{
		{"polls just too close", 5*time.Second - time.Millisecond, false},
		{"polls at the polling interval", 5 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeClock(t, nil)
				sid := f.create("wait='10' hold='0'")
				time.Sleep(5 * time.Second)
				f.do(body(2, sid, "", ""))
				time.Sleep(tt.gap)
				root := f.do(body(3, sid, "", ""))
				if ok := root.SelectAttrValue("condition", "") == ""; ok != tt.ok {
					t.Fatalf("polls %v apart answered %v, want ok=%v", tt.gap, root.Attr, tt.ok)
				}
			})
		})
	}
}

// TestPollingSessionAdvice: a BOSH polling session is told the adaptive
// interval in every answer, it grows while idle, drops back on a stanza,
// and the inactivity allowance grows with it so a client following the
// advice is never reaped.
func TestPollingSessionAdvice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, func(c *Config) {
			c.PollInterval = func(idle time.Duration) time.Duration {
				return relay.PollInterval(idle, 2*time.Second, 60*time.Second)
			}
		})
		sid := f.create("wait='10' hold='0'")
		up := <-f.up.Conns
		interval := func(root *etree.Element) time.Duration {
			v := root.SelectAttrValue("boshd:poll-interval", "")
			var secs int
			fmt.Sscan(v, &secs)
			return time.Duration(secs) * time.Second
		}
		rid := uint64(2)
		var last time.Duration
		// Follow the advice for ten idle minutes.
		for elapsed := time.Duration(0); elapsed < 10*time.Minute; {
			root := f.do(body(rid, sid, "", ""))
			rid++
			if c := root.SelectAttrValue("condition", ""); c != "" {
				t.Fatalf("following the advice after %v idle: %s", elapsed, c)
			}
			iv := interval(root)
			// Never below the session's polling (5s), never above poll_max.
			if iv < last || iv < 5*time.Second || iv > 60*time.Second {
				t.Fatalf("advice %v after %v (previous %v)", iv, elapsed, last)
			}
			last = iv
			time.Sleep(iv)
			elapsed += iv
		}
		if last != 60*time.Second {
			t.Fatalf("after ten idle minutes the advice is %v, want poll_max", last)
		}
		// A stanza brings the advice back to its floor: the session's polling.
		up.Push(t, `<message id='m'/>`)
		synctest.Wait()
		root := f.do(body(rid, sid, "", ""))
		if root.FindElement("./message") == nil || interval(root) != 5*time.Second {
			t.Fatalf("after a stanza: interval %v, answer %v", interval(root), root)
		}
	})
}

// TestInactivityAfterAnswerWithData: a held request answered because the
// server sent something (not because its wait ran out) starts the
// inactivity clock too, so a client that then leaves is reaped.
func TestInactivityAfterAnswerWithData(t *testing.T) {
	tests := []struct {
		name  string
		quiet time.Duration
		alive bool
	}{
		{"back just inside inactivity", 29 * time.Second, true},
		{"silent past inactivity", 31 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeClock(t, nil)
				sid := f.create("wait='50' hold='1'")
				up := <-f.up.Conns
				held := f.start(body(2, sid, "", ""))
				synctest.Wait()
				up.Push(t, `<message id='m'/>`)
				if root := held(); root.FindElement("./message") == nil {
					t.Fatalf("held request answered %v", root)
				}
				time.Sleep(tt.quiet)
				root := f.do(body(3, sid, " type='terminate'", ""))
				if alive := root.SelectAttrValue("condition", "") == ""; alive != tt.alive {
					t.Fatalf("after %v of silence: %v, want alive=%v", tt.quiet, root.Attr, tt.alive)
				}
			})
		})
	}
}

// TestOutOfOrderInNoWaitSession: in a session with wait='0' (a polling
// session, §12) a request that arrives ahead of its turn waits for the
// missing rid instead of ending the session at once (§14.2).
func TestOutOfOrderInNoWaitSession(t *testing.T) {
	tests := []struct {
		name  string
		gap   time.Duration // before the missing rid comes
		alive bool
	}{
		{"missing rid a second later", time.Second, true},
		{"missing rid never comes", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeClock(t, nil)
				sid := f.create("wait='0' hold='1'")
				// rid 3 carries a stanza, so the two requests are no
				// pair of empty polls (§12).
				later := f.start(body(3, sid, "", `<presence xmlns='jabber:client'/>`))
				if tt.gap == 0 {
					if c := later().SelectAttrValue("condition", ""); c != "item-not-found" {
						t.Fatalf("request whose predecessor never came answered %q", c)
					}
					return
				}
				time.Sleep(tt.gap)
				if c := f.do(body(2, sid, "", "")).SelectAttrValue("condition", ""); c != "" {
					t.Fatalf("rid 2 answered %s", c)
				}
				if c := later().SelectAttrValue("condition", ""); c != "" {
					t.Fatalf("rid 3, sent %v ahead of rid 2, answered %s", tt.gap, c)
				}
			})
		})
	}
}

// TestPollingSessionAdviceLatency is the figure of docs/polling.md for
// BOSH polling sessions (XEP-0124 §12: hold='0', nothing is held): what
// following the advice costs in latency. A client sleeps the advised
// boshd:poll-interval between empty polls; a message that the server sends
// while it sleeps waits for its next poll, so its delay is the rest of the
// sleep: at most the advised interval at that idle level, never more.
func TestPollingSessionAdviceLatency(t *testing.T) {
	for _, at := range []time.Duration{
		5 * time.Second, 20*time.Second + 500*time.Millisecond, 90 * time.Second,
		3*time.Minute + 700*time.Millisecond, 7*time.Minute + 13*time.Second,
	} {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeClock(t, func(c *Config) {
				c.Polling = 2 * time.Second
				c.PollInterval = func(idle time.Duration) time.Duration {
					return relay.PollInterval(idle, 2*time.Second, 30*time.Second)
				}
			})
			sid := f.create("wait='10' hold='0'")
			up := <-f.up.Conns
			start := time.Now()
			sent := make(chan time.Time, 1)
			go func() {
				time.Sleep(at)
				up.Push(t, `<message id='late'/>`)
				sent <- time.Now()
			}()
			var advised time.Duration
			for rid := uint64(2); ; rid++ {
				root := f.do(body(rid, sid, "", ""))
				if root.FindElement("./message") != nil {
					delay := time.Since(<-sent)
					t.Logf("message after %v idle: delay %v, advice before it %v, %d polls", at, delay, advised, rid-1)
					if delay > advised {
						t.Fatalf("delay %v beyond the advised interval %v", delay, advised)
					}
					return
				}
				if time.Since(start) > at+time.Minute {
					t.Fatal("the message never came")
				}
				var secs int
				fmt.Sscan(root.SelectAttrValue("boshd:poll-interval", ""), &secs)
				advised = time.Duration(secs) * time.Second
				time.Sleep(advised)
			}
		})
	}
}
