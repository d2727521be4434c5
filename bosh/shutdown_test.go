package bosh

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// silentServer accepts connections over in-memory pipes and never answers
// (an XMPP server that hangs before its stream header).
type silentServer struct {
	mu    sync.Mutex
	conns []net.Conn
	dials chan struct{}
}

func (s *silentServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, srv := net.Pipe()
	s.mu.Lock()
	s.conns = append(s.conns, srv)
	s.mu.Unlock()
	s.dials <- struct{}{}
	return c, nil
}

func (s *silentServer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// TestShutdownAnswersCreationStillDialing: a session creation whose
// upstream has not answered yet gets system-shutdown at once when boshd
// stops, instead of a dropped connection after the dial timeout.
func TestShutdownAnswersCreationStillDialing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &silentServer{dials: make(chan struct{}, 1)}
		defer up.close()
		h := New(Config{FrontEnd: relay.FrontEnd{Domains: &relay.Domains{
			Dialer: &xmppconn.Dialer{Routes: map[string][]string{"localhost": {"pipe:5222"}}, DialContext: up.dial},
			Served: []string{"localhost"},
		}}})
		f := &fakeClock{t: t, h: h}
		start := time.Now()
		creation := f.start(`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6' wait='10' hold='1'/>`)
		<-up.dials
		synctest.Wait()
		if err := h.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		root := creation()
		if got := time.Since(start); got != 0 {
			t.Errorf("creation answered %v after Shutdown, want at once", got)
		}
		if root.SelectAttrValue("type", "") != "terminate" || root.SelectAttrValue("condition", "") != "system-shutdown" {
			t.Fatalf("creation answered %v, want terminate system-shutdown", root.Attr)
		}
	})
}

// TestRequestAheadOfTurnAnsweredWithinWait: a request whose predecessor
// never comes is answered (item-not-found) when its wait is over, within
// the HTTP server's write timeout, not after two waits.
func TestRequestAheadOfTurnAnsweredWithinWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, nil)
		sid := f.create("wait='20' hold='1'")
		start := time.Now()
		root := f.do(body(3, sid, "", "")) // rid 2 never comes
		if got := time.Since(start); got != 20*time.Second {
			t.Errorf("answered after %v, want the wait of 20s", got)
		}
		if c := root.SelectAttrValue("condition", ""); c != "item-not-found" {
			t.Fatalf("answered %v, want item-not-found", root.Attr)
		}
	})
}

// panicHook makes the logger panic on a message, standing in for a bug in
// code that runs on a goroutine no request owns.
type panicHook struct{ msg string }

func (panicHook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire panics on a line whose message, or error field, contains msg.
func (p panicHook) Fire(e *logrus.Entry) error {
	err, _ := e.Data[logrus.ErrorKey].(error)
	if strings.Contains(e.Message, p.msg) || err != nil && strings.Contains(err.Error(), p.msg) {
		panic("test: panic while logging " + p.msg)
	}
	return nil
}

func panickyLog(msg string) func(*Config) {
	return func(c *Config) {
		l := logrus.New()
		l.SetOutput(io.Discard)
		l.SetLevel(logrus.DebugLevel)
		l.AddHook(panicHook{msg})
		c.Log = l
	}
}

// TestPanicInCallbacksEndsOneSession: a panic in the relay's wake or in the
// inactivity timer ends that session only; the process and other sessions
// go on.
func TestPanicInCallbacksEndsOneSession(t *testing.T) {
	tests := []struct {
		name    string
		panicOn string
		trigger func(f *fakeClock, sid string)
	}{
		{"wake", "upstream ended with no request held", func(f *fakeClock, sid string) {
			up := f.up.NextConn(f.t)
			up.Push(f.t, "</stream:stream>")
		}},
		{"inactivity timer", "session ended: client inactive", func(f *fakeClock, sid string) {
			time.Sleep(31 * time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeClock(t, panickyLog(tt.panicOn))
				sid := f.create("wait='10' hold='1'")
				tt.trigger(f, sid)
				synctest.Wait()
				if n := f.h.Sessions(); n != 0 {
					t.Fatalf("%d sessions left after the panic", n)
				}
				if c := f.do(body(2, sid, "", "")).SelectAttrValue("condition", ""); c != "item-not-found" {
					t.Fatalf("the session answered %q after the panic, want item-not-found", c)
				}
				other := f.create("wait='10' hold='1'")
				if c := f.do(body(2, other, " type='terminate'", "")).SelectAttrValue("condition", ""); c != "" {
					t.Fatalf("another session answered %q", c)
				}
			})
		})
	}
}
