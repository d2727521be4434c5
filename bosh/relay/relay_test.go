package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"boshd/bosh/internal/xmpptest"
	"boshd/xmppconn"
)

// The relay's goroutines run on synctest's fake clock over an in-memory,
// unbuffered pipe: a server that stops reading blocks every write at once.

// openRelay opens a stream to a fresh in-memory server and starts a relay
// on it; wakes counts the relay's wake calls.
func openRelay(t *testing.T, maxQueue int, opts ...RelayOption) (*Relay, *xmpptest.Conn, *atomic.Int32) {
	t.Helper()
	up := xmpptest.NewPipe()
	t.Cleanup(up.Close)
	d := &xmppconn.Dialer{Routes: map[string][]string{"localhost": {up.Addr}}, DialContext: up.Dial}
	stream, err := d.Open(context.Background(), xmppconn.StreamParams{To: "localhost", Version: "1.0"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	wakes := new(atomic.Int32)
	r := NewRelay(stream, maxQueue, func() { wakes.Add(1) }, opts...)
	t.Cleanup(r.Close)
	c := up.NextConn(t)
	c.Next(t) // the header
	return r, c, wakes
}

func TestRelayWritesInCallOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c, _ := openRelay(t, 0)
		if err := r.Send([]byte(`<presence/>`), 1); err != nil {
			t.Fatal(err)
		}
		if err := r.Restart(); err != nil {
			t.Fatal(err)
		}
		if err := r.Send([]byte(`<iq type='get' id='1'/>`), 1); err != nil {
			t.Fatal(err)
		}
		want := []xmppconn.Kind{xmppconn.KindStanza, xmppconn.KindHeader, xmppconn.KindStanza}
		for i, k := range want {
			if el := c.Next(t); el.Kind != k {
				t.Fatalf("element %d: %v %q, want kind %v", i, el.Kind, el.Raw, k)
			}
		}
	})
}

// TestRelayObserved: the Observer hears the stanzas of each write to the
// server (one write of a request's payloads, with their count), and each
// stanza from it, with their bytes; a restart is no stanza.
func TestRelayObserved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		r, c, _ := openRelay(t, 0, Observed(ev, "ws"))
		two := []byte(`<presence/><message to='b'/>`)
		if err := r.Send(two, 2); err != nil {
			t.Fatal(err)
		}
		r.Restart()
		c.Next(t)
		c.Next(t)
		c.Next(t)
		c.Push(t, `<message from='b'/>`)
		synctest.Wait()
		want := []string{fmt.Sprintf("stanzas ws out=true 2 %d", len(two)), "stanzas ws out=false 1 19"}
		if got := ev.log; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("events %q, want %q", got, want)
		}
	})
}

// TestRelaySendNeverWaitsForTheServer: with the server not reading, Send
// returns at once, elements from the server still reach the queue, and
// Close cuts the stalled write short.
func TestRelaySendNeverWaitsForTheServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c, wakes := openRelay(t, 0)
		resume := c.Stall()
		defer resume()
		start := time.Now()
		big := []byte(`<message>` + strings.Repeat("x", 200<<10) + `</message>`)
		for i := range 3 {
			if err := r.Send(big, 1); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("Send took %v with a stalled server", got)
		}
		c.Push(t, `<message from='a@localhost'/>`)
		synctest.Wait()
		if wakes.Load() == 0 || !r.Pending() {
			t.Fatal("the server's stanza was not queued while writes were stalled")
		}
		r.Close()
		if got := time.Since(start); got > 2*xmppconn.DefaultCloseTimeout {
			t.Fatalf("Close took %v with a stalled server, want at most two close timeouts", got)
		}
	})
}

// TestRelayOutgoingBound: a server that does not read ends the relay once
// more than the outgoing bound waits for it.
func TestRelayOutgoingBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c, wakes := openRelay(t, 1024) // outgoing bound 4096
		resume := c.Stall()
		defer resume()
		chunk := []byte(`<message>` + strings.Repeat("x", 1000) + `</message>`)
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			err = r.Send(chunk, 1)
		}
		if !errors.Is(err, ErrSendQueueFull) || !errors.Is(r.Err(), ErrSendQueueFull) {
			t.Fatalf("Send: %v, Err: %v; want ErrSendQueueFull", err, r.Err())
		}
		synctest.Wait()
		if wakes.Load() == 0 {
			t.Fatal("the owner was not woken when the relay ended")
		}
		if err := r.Send(chunk, 1); err == nil {
			t.Fatal("Send after the end succeeded")
		}
	})
}

// TestRelayCloseWritesWhatIsQueued: a terminating client's last stanza
// (unavailable presence) reaches the server before the stream closes.
func TestRelayCloseWritesWhatIsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, c, _ := openRelay(t, 0)
		r.Send([]byte(`<presence type='unavailable'/>`), 1)
		r.Close()
		if el := c.Next(t); el.Kind != xmppconn.KindStanza || !strings.Contains(string(el.Raw), "unavailable") {
			t.Fatalf("server got %v %q first, want the queued presence", el.Kind, el.Raw)
		}
		if el := c.Next(t); el.Kind != xmppconn.KindEnd {
			t.Fatalf("server got %v %q, want the stream's end", el.Kind, el.Raw)
		}
	})
}
