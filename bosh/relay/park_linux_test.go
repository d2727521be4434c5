package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"boshd/bosh/internal/xmpptest"
	"boshd/xmppconn"
)

// Readers parked in the poller, over real loopback TCP (the poller
// watches sockets, which synctest's in-memory pipes are not).

// openTCPRelays opens n relays to srv; wakes counts every relay's wakes.
func openTCPRelays(t *testing.T, srv *xmpptest.Server, n int, wakes *atomic.Int32) ([]*Relay, []*xmpptest.Conn) {
	t.Helper()
	d := &xmppconn.Dialer{Routes: map[string][]string{"localhost": {srv.Addr}}, CloseTimeout: time.Second}
	rs := make([]*Relay, n)
	cs := make([]*xmpptest.Conn, n)
	for i := range rs {
		stream, err := d.Open(context.Background(), xmppconn.StreamParams{To: "localhost", Version: "1.0"})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		rs[i] = NewRelay(stream, 0, func() { wakes.Add(1) })
		t.Cleanup(rs[i].Close)
		cs[i] = srv.NextConn(t)
		cs[i].Next(t) // the header
	}
	return rs, cs
}

// readerGoroutines counts the goroutines running a relay's reader.
func readerGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "relay.(*Relay).read(")
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *Relay) isParked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parked
}

// TestIdleRelaysHaveNoReader: idle relays on plain TCP upstreams park
// their readers (no goroutine each); what the server sends later reaches
// each relay's queue byte-exact and in order, and wakes it.
func TestIdleRelaysHaveNoReader(t *testing.T) {
	srv := xmpptest.Start(t)
	var wakes atomic.Int32
	rs, cs := openTCPRelays(t, srv, 20, &wakes)
	eventually(t, "every reader parked", func() bool {
		for _, r := range rs {
			if !r.isParked() {
				return false
			}
		}
		return true
	})
	if n := readerGoroutines(); n != 0 {
		t.Fatalf("%d reader goroutines for 20 idle relays, want 0", n)
	}
	for i, c := range cs {
		c.Push(t, fmt.Sprintf("<message id='%d'>a</message><message id='%d'>b</message>", i, i))
	}
	for i, r := range rs {
		var got []string
		eventually(t, fmt.Sprintf("relay %d got both messages", i), func() bool {
			els, err := r.Take()
			if err != nil {
				t.Fatalf("relay %d ended: %v", i, err)
			}
			for _, el := range els {
				got = append(got, string(el.Raw))
			}
			return len(got) >= 2
		})
		want := fmt.Sprintf("<message id='%d'>a</message>|<message id='%d'>b</message>", i, i)
		if strings.Join(got, "|") != want {
			t.Errorf("relay %d: got %q, want %s", i, got, want)
		}
	}
	if wakes.Load() < 20 {
		t.Errorf("%d wakes for 20 relays that each got stanzas", wakes.Load())
	}
	eventually(t, "the readers parked again", func() bool { return readerGoroutines() == 0 })
}

// TestParkedRelayEnds: a server that ends the stream, sends a stream
// error or hangs up while the reader is parked ends the relay with the
// same reason as a reader waiting in Next, after the stanzas before it.
func TestParkedRelayEnds(t *testing.T) {
	tests := []struct {
		name string
		push string
		hang bool // close the connection after push
		want func(error) bool
	}{
		{"stream end", "<message id='last'/></stream:stream>", false,
			func(err error) bool { return errors.Is(err, io.EOF) }},
		{"stream error", "<message id='last'/><stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", false,
			func(err error) bool {
				var se *xmppconn.StreamError
				return errors.As(err, &se) && se.Condition == "system-shutdown"
			}},
		{"hang up", "<message id='last'/>", true,
			func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"not well-formed", "<message id='last'/><a></b>", false,
			func(err error) bool { return errors.Is(err, xmppconn.ErrNotWellFormed) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := xmpptest.Start(t)
			var wakes atomic.Int32
			rs, cs := openTCPRelays(t, srv, 1, &wakes)
			r, c := rs[0], cs[0]
			eventually(t, "the reader parked", r.isParked)
			c.Push(t, tt.push)
			if tt.hang {
				c.Close()
			}
			eventually(t, "the relay ended", func() bool { return r.Err() != nil })
			els, err := r.Take()
			if len(els) == 0 || string(els[0].Raw) != "<message id='last'/>" {
				t.Errorf("queue %v, want the last message first", els)
			}
			if !tt.want(err) {
				t.Errorf("relay ended with %v", err)
			}
			eventually(t, "the reader exited", func() bool { return readerGoroutines() == 0 })
		})
	}
}

// TestCloseParkedRelay: closing a relay whose reader is parked ends the
// stream politely and returns without a reader to wait for; the poller's
// goroutine is gone once the last relay is closed.
func TestCloseParkedRelay(t *testing.T) {
	srv := xmpptest.Start(t)
	var wakes atomic.Int32
	rs, cs := openTCPRelays(t, srv, 2, &wakes)
	for _, r := range rs {
		eventually(t, "the reader parked", r.isParked)
	}
	for i, r := range rs {
		r.Close()
		if el := cs[i].Next(t); el.Kind != xmppconn.KindEnd {
			t.Fatalf("server got %v %q, want the stream's end", el.Kind, el.Raw)
		}
	}
	buf := make([]byte, 1<<20)
	if s := string(buf[:runtime.Stack(buf, true)]); strings.Contains(s, "xmppconn.(*epoll).run") {
		t.Fatal("the poller's goroutine outlives the last relay")
	}
}
