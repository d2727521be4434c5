package browser

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// exchange is one BOSH request/response pair the browser made, as the
// DevTools Fetch domain saw it at the response stage: the request reached
// the BOSH endpoint, which answered; dropped says the answer was then
// thrown away as if the network had failed on the way back.
type exchange struct {
	at      time.Time
	rid     string
	status  int64
	dropped bool
	req     string
	resp    string
}

// responseDropper intercepts one tab's BOSH responses; while dropping is
// on, each response is failed with ERR_CONNECTION_RESET after the BOSH
// endpoint has processed the request, so the client's retransmission of the
// same rid must be answered from the endpoint's response cache (XEP-0124
// §14.3).
type responseDropper struct {
	mu        sync.Mutex
	dropping  bool
	exchanges []exchange
}

func (d *responseDropper) setDropping(on bool) {
	d.mu.Lock()
	d.dropping = on
	d.mu.Unlock()
}

func (d *responseDropper) log() []exchange {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]exchange(nil), d.exchanges...)
}

var ridAttr = regexp.MustCompile(`\srid=["'](\d+)["']`)

// interceptBOSH starts intercepting tb's requests to boshURL; it stops when
// t ends.
func interceptBOSH(t *testing.T, tb *tab, boshURL string) *responseDropper {
	t.Helper()
	d := &responseDropper{}
	ctx, cancel := context.WithCancel(tb.ctx)
	events := chromedp.Events(ctx, fetch.RequestPaused) // subscribed now: no event is lost
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: boshURL + "*", RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		cancel()
		t.Fatalf("Fetch.enable: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range events {
			if err != nil {
				return
			}
			d.handle(ctx, ev)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			for _, x := range d.log() {
				t.Logf("intercepted rid=%s status=%d dropped=%v at %s\n  request:  %s\n  response: %s",
					x.rid, x.status, x.dropped, x.at.Format("15:04:05.000"), shorten(x.req), shorten(x.resp))
			}
		}
	})
	return d
}

func (d *responseDropper) handle(ctx context.Context, ev fetch.EventRequestPaused) {
	if ev.Request.Method != "POST" {
		chromedp.Call(ctx, fetch.ContinueResponse, fetch.ContinueResponseParams{RequestID: ev.RequestID})
		return
	}
	var req strings.Builder
	for _, e := range ev.Request.PostDataEntries {
		req.Write(e.Bytes)
	}
	x := exchange{at: time.Now(), req: req.String(), status: ev.ResponseStatusCode}
	if m := ridAttr.FindStringSubmatch(x.req); m != nil {
		x.rid = m[1]
	}
	if body, err := chromedp.Call(ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: ev.RequestID}); err == nil {
		x.resp = string(body.Body)
	} else {
		x.resp = fmt.Sprintf("(body unavailable: %v)", err)
	}
	d.mu.Lock()
	x.dropped = d.dropping
	d.exchanges = append(d.exchanges, x)
	d.mu.Unlock()
	if x.dropped {
		chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
	} else {
		chromedp.Call(ctx, fetch.ContinueResponse, fetch.ContinueResponseParams{RequestID: ev.RequestID})
	}
}

// testStropheNetworkDrop: the network fails for a few seconds mid-session,
// losing responses the BOSH endpoint had already sent, some carrying
// messages. Strophe resends the same rids; the endpoint must answer them
// from its cache, so the session carries on (same sid, no reconnect) and
// every message arrives exactly once, in order, both ways.
func testStropheNetworkDrop(t *testing.T, e *env, deadline time.Time) {
	alice, bob, a, b := e.stropheUsers(t, "drop", deadline)
	ai := a.connect(e, alice, nil)
	bi := b.connect(e, bob, nil)
	drop := interceptBOSH(t, a, e.boshURL)

	b.send(ai.JID, "before-0")
	wantBodies(t, "alice", a.waitBodies(bob.jid, 1, 10*time.Second), []string{"before-0"})

	// Strophe gives up after its fifth consecutive failed request; a drop
	// of a few seconds costs at most four here: the held request's answer
	// and its immediate resend, and the same for alice's one message.
	start := time.Now()
	drop.setDropping(true)
	b.send(ai.JID, "during-0")
	time.Sleep(300 * time.Millisecond)
	a.send(bi.JID, "a-during-0")
	time.Sleep(300 * time.Millisecond)
	b.send(ai.JID, "during-1")
	time.Sleep(3500*time.Millisecond - time.Since(start))
	drop.setDropping(false)
	t.Logf("dropped BOSH responses to alice for %v", time.Since(start).Round(time.Millisecond))

	// Strophe's back-off before its third send of a rid is 8s.
	wantBodies(t, "alice", a.waitBodies(bob.jid, 3, 30*time.Second), []string{"before-0", "during-0", "during-1"})
	wantBodies(t, "bob", b.waitBodies(alice.jid, 1, 10*time.Second), []string{"a-during-0"})
	b.send(ai.JID, "after-0")
	wantBodies(t, "alice", a.waitBodies(bob.jid, 4, 10*time.Second), []string{"before-0", "during-0", "during-1", "after-0"})
	a.send(bi.JID, "a-after-0")
	wantBodies(t, "bob", b.waitBodies(alice.jid, 2, 10*time.Second), []string{"a-during-0", "a-after-0"})

	if got := a.info().SID; got != ai.SID {
		t.Fatalf("sid changed from %q to %q: Strophe reconnected", ai.SID, got)
	}
	noReconnect(t, a)

	// The drop must really have cost answered requests, and each rid whose
	// answer was lost must later have been answered with 200 (the resend).
	log := drop.log()
	droppedRIDs := map[string]bool{}
	for _, x := range log {
		if x.dropped {
			droppedRIDs[x.rid] = true
		}
	}
	if len(droppedRIDs) == 0 {
		t.Fatalf("no BOSH response was dropped during the outage; exchanges: %d", len(log))
	}
	// The resend is answered from the endpoint's cache: the very response
	// that was lost (XEP-0124 §14.3), not a new one (which would lose or
	// repeat what the first carried).
	for rid := range droppedRIDs {
		var first *exchange
		answered := false
		for i, x := range log {
			if x.rid != rid {
				continue
			}
			if first == nil {
				first = &log[i]
				continue
			}
			if x.resp != first.resp {
				t.Errorf("rid %s sent again; the answer differs from the lost one:\n  lost:   %s\n  resend: %s", rid, first.resp, x.resp)
			}
			if !x.dropped && x.status == 200 {
				answered = true
				t.Logf("rid %s: answer lost, the resend got the same answer: %s", rid, shorten(x.resp))
			}
		}
		if !answered {
			t.Errorf("rid %s: its answer was dropped and no resend of it was answered 200", rid)
		}
	}
}
