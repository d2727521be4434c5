package bosh

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/beevik/etree"
)

// An upstream that stops reading (a server's read shaper throttling a
// client's large uploads) must not stop delivery to the client, nor delay
// shutdown: no session lock is held while writing upstream. The pipe to the
// fake server has no buffer, so once the server stops reading, every write
// to it blocks until the write timeout (30s).

// bigPayload is a message of n bytes of text.
func bigPayload(n int) string {
	return `<message xmlns='jabber:client' to='b@localhost' type='chat'><body>` + strings.Repeat("x", n) + `</body></message>`
}

func TestStalledUpstreamStillDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, nil)
		sid := f.create("wait='20' hold='1'")
		up := f.up.NextConn(t)
		up.Next(t) // the header
		resume := up.Stall()
		defer resume()

		start := time.Now()
		first := f.start(body(2, sid, "", bigPayload(500<<10)))
		synctest.Wait()
		second := f.start(body(3, sid, "", bigPayload(500<<10)))
		synctest.Wait()
		// The second request pushed the first out of the hold (hold='1').
		if root := first(); root.SelectAttrValue("type", "") != "" {
			t.Fatalf("first request answered %v", root.Attr)
		}
		up.Push(t, `<message from='a@localhost' type='chat'><body>while you upload</body></message>`)
		synctest.Wait()
		root := second()
		if got := time.Since(start); got != 0 {
			t.Errorf("server's stanza delivered after %v, want at once", got)
		}
		if len(root.ChildElements()) != 1 || !strings.Contains(root.ChildElements()[0].FindElement("body").Text(), "while you upload") {
			t.Fatalf("held request answered %v with %d children, want the server's message", root.Attr, len(root.ChildElements()))
		}
	})
}

func TestShutdownDuringStalledUpstream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, func(c *Config) { c.MaxHold = 2 })
		sid := f.create("wait='20' hold='2'")
		up := f.up.NextConn(t)
		up.Next(t)
		resume := up.Stall()
		defer resume()

		start := time.Now()
		held := []func() *etree.Element{
			f.start(body(2, sid, "", bigPayload(500<<10))),
			f.start(body(3, sid, "", bigPayload(500<<10))),
		}
		synctest.Wait()
		shut := make(chan error, 1)
		go func() { shut <- f.h.Shutdown(context.Background()) }()
		synctest.Wait()
		for i, done := range held {
			root := done()
			if c := root.SelectAttrValue("condition", ""); c != "system-shutdown" {
				t.Errorf("held request %d answered %v, want system-shutdown", i, root.Attr)
			}
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("held requests answered %v after Shutdown, want at once", got)
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		// Closing the stalled stream waits for the close timeout twice at
		// most (the queued writes, then the server's closing tag), never
		// for the 30s write timeout.
		if got := time.Since(start); got > 2*time.Second {
			t.Errorf("Shutdown took %v with a stalled upstream", got)
		}
	})
}
