package browser

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// stropheInfo mirrors H.info() in web/strophe-harness.js.
type stropheInfo struct {
	JID           string `json:"jid"`
	SID           string `json:"sid"`
	Wait          int    `json:"wait"`
	RID           int64  `json:"rid"`
	Connected     bool   `json:"connected"`
	Authenticated bool   `json:"authenticated"`
}

type stropheStatus struct {
	T      int    `json:"t"`
	Status string `json:"status"`
	Cond   string `json:"cond"`
}

type rosterItem struct {
	JID          string `json:"jid"`
	Subscription string `json:"subscription"`
	Ask          string `json:"ask"`
}

const stropheReady = "window.H && H.ready === true"

func (e *env) strophe(t *testing.T, name string, deadline time.Time) *tab {
	t.Helper()
	return e.openTab(t, name, "/strophe.html", stropheReady, deadline)
}

// stropheUsers registers alice and bob for a scenario and opens a Strophe
// tab for each.
func (e *env) stropheUsers(t *testing.T, scenario string, deadline time.Time) (alice, bob user, a, b *tab) {
	t.Helper()
	us := e.users(t, scenario, "alice", "bob")
	return us[0], us[1], e.strophe(t, "alice", deadline), e.strophe(t, "bob", deadline)
}

// connect logs u in through the BOSH endpoint under test and sends initial
// presence.
func (tb *tab) connect(e *env, u user, opts map[string]any) stropheInfo {
	tb.t.Helper()
	if opts == nil {
		opts = map[string]any{}
	}
	info := evalJS[stropheInfo](tb, fmt.Sprintf("H.connect(%s, %s, %s, %s)", js(e.boshURL), js(u.jid), js(u.pass), js(opts)))
	if info.SID == "" || !info.Connected || !info.Authenticated {
		tb.t.Fatalf("%s: logged in but the connection says %+v", tb.name, info)
	}
	if !strings.HasPrefix(info.JID, u.jid+"/") {
		tb.t.Fatalf("%s: bound JID %q, want %s/<resource>", tb.name, info.JID, u.jid)
	}
	return info
}

func (tb *tab) info() stropheInfo {
	tb.t.Helper()
	return evalJS[stropheInfo](tb, "H.info()")
}

// bodies returns the bodies of the chat messages received from bare JID
// from, in arrival order.
func (tb *tab) bodies(from string) []string {
	tb.t.Helper()
	return evalJS[[]string](tb, fmt.Sprintf("H.messages.filter(m => (m.from || '').split('/')[0] === %s).map(m => m.body)", js(from)))
}

// waitBodies waits until n messages from from have arrived, then a little
// longer so that a duplicate would show, and returns them.
func (tb *tab) waitBodies(from string, n int, timeout time.Duration) []string {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("H.messages.filter(m => (m.from || '').split('/')[0] === %s).length >= %d", js(from), n), timeout,
		fmt.Sprintf("%d messages from %s", n, from))
	time.Sleep(500 * time.Millisecond)
	return tb.bodies(from)
}

func (tb *tab) statuses() []stropheStatus {
	tb.t.Helper()
	return evalJS[[]stropheStatus](tb, "H.statuses")
}

// send sends a chat message to the full JID to (full, so that delivery does
// not depend on presence or offline storage).
func (tb *tab) send(to, body string) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("H.send(%s, %s, %s)", js(to), js(body), js(body)))
}

func seq(prefix string, n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("%s%d", prefix, i))
	}
	return s
}

// wantBodies fails unless got is exactly want: every message once, in order.
func wantBodies(t *testing.T, who string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s received %d messages %q; want exactly %d in order %q", who, len(got), got, len(want), want)
	}
}

// noReconnect fails if the tab's connection went anywhere after its first
// CONNECTED (or ATTACHED): the session must have carried on as it was.
func noReconnect(t *testing.T, tb *tab) {
	t.Helper()
	sts := tb.statuses()
	var after []string
	seen := false
	for _, s := range sts {
		if seen {
			after = append(after, s.Status+" "+s.Cond)
		}
		if s.Status == "CONNECTED" || s.Status == "ATTACHED" {
			seen = true
		}
	}
	if !seen || len(after) > 0 {
		t.Fatalf("%s: connection status changes %+v; want one CONNECTED/ATTACHED and nothing after it", tb.name, sts)
	}
}

// testStropheChat: two users log in and exchange a burst of messages both
// ways at once; each side gets every message exactly once and in order.
func testStropheChat(t *testing.T, e *env, deadline time.Time) {
	alice, bob, a, b := e.stropheUsers(t, "chat", deadline)
	ai := a.connect(e, alice, nil)
	bi := b.connect(e, bob, nil)
	if ai.SID == bi.SID {
		t.Fatalf("two logins share the sid %q", ai.SID)
	}

	const n = 25
	a.do(fmt.Sprintf("H.sendMany(%s, 'a2b-', %d)", js(bi.JID), n))
	b.do(fmt.Sprintf("H.sendMany(%s, 'b2a-', %d)", js(ai.JID), n))
	wantBodies(t, "bob", b.waitBodies(alice.jid, n, 20*time.Second), seq("a2b-", n))
	wantBodies(t, "alice", a.waitBodies(bob.jid, n, 20*time.Second), seq("b2a-", n))

	// A second round one message at a time, each answered before the next.
	for i := range 5 {
		a.send(bi.JID, fmt.Sprintf("ping-%d", i))
		b.waitFor(fmt.Sprintf("H.messages.some(m => m.body === %s)", js(fmt.Sprintf("ping-%d", i))), 10*time.Second, "ping")
		b.send(ai.JID, fmt.Sprintf("pong-%d", i))
		a.waitFor(fmt.Sprintf("H.messages.some(m => m.body === %s)", js(fmt.Sprintf("pong-%d", i))), 10*time.Second, "pong")
	}
	wantBodies(t, "bob", b.bodies(alice.jid), append(seq("a2b-", n), seq("ping-", 5)...))
	wantBodies(t, "alice", a.bodies(bob.jid), append(seq("b2a-", n), seq("pong-", 5)...))
	noReconnect(t, a)
	noReconnect(t, b)
}

// subscribeBoth makes a and b subscribe to each other's presence (RFC 6121
// §3), each approving the other's request, and waits until both rosters
// show subscription 'both'.
func subscribeBoth(t *testing.T, a, b *tab, alice, bob user) {
	t.Helper()
	a.do("H.autoApprove = true")
	b.do("H.autoApprove = true")
	a.do(fmt.Sprintf("H.presence({to: %s, type: 'subscribe'})", js(bob.jid)))
	b.waitFor(fmt.Sprintf("H.subscribeRequests.includes(%s)", js(alice.jid)), 10*time.Second, "alice's subscription request")
	b.do(fmt.Sprintf("H.presence({to: %s, type: 'subscribe'})", js(alice.jid)))
	a.waitFor(fmt.Sprintf("H.subscribeRequests.includes(%s)", js(bob.jid)), 10*time.Second, "bob's subscription request")
	for _, c := range []struct {
		tb      *tab
		contact string
	}{{a, bob.jid}, {b, alice.jid}} {
		var items []rosterItem
		deadline := time.Now().Add(10 * time.Second)
		for {
			items = evalJS[[]rosterItem](c.tb, "H.roster()")
			if slices.ContainsFunc(items, func(it rosterItem) bool { return it.JID == c.contact && it.Subscription == "both" }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: roster %+v; want %s with subscription 'both'", c.tb.name, items, c.contact)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// testStropheRosterPresence: mutual presence subscription through the
// roster, and each user then sees the other's available presence.
func testStropheRosterPresence(t *testing.T, e *env, deadline time.Time) {
	alice, bob, a, b := e.stropheUsers(t, "roster", deadline)
	ai := a.connect(e, alice, nil)
	bi := b.connect(e, bob, nil)
	subscribeBoth(t, a, b, alice, bob)
	// Once subscribed, each server sends the contact's current presence
	// (RFC 6121 §3.1.5/§4.4.2): both must see the other available.
	a.waitFor(fmt.Sprintf("H.presences.some(p => p.from === %s && p.type === 'available')", js(bi.JID)), 10*time.Second, "bob available")
	b.waitFor(fmt.Sprintf("H.presences.some(p => p.from === %s && p.type === 'available')", js(ai.JID)), 10*time.Second, "alice available")
	// A presence change is broadcast to the subscribed contact.
	b.do("H.presenceShow('away', 'lunch')")
	a.waitFor(fmt.Sprintf("H.presences.some(p => p.from === %s && p.show === 'away' && p.status === 'lunch')", js(bi.JID)), 10*time.Second, "bob's away presence")
	noReconnect(t, a)
	noReconnect(t, b)
}

// testStropheIdle: a session left idle longer than 'wait' has its held
// request answered empty, and still receives a message afterwards.
func testStropheIdle(t *testing.T, e *env, deadline time.Time) {
	alice, bob, a, b := e.stropheUsers(t, "idle", deadline)
	// boshd must cap Strophe's wait=60 to its max_wait; the servers' own
	// BOSH (BROWSER_BOSH=own) grants 60, so there Strophe asks for less.
	var opts map[string]any
	if boshMode() == "own" {
		opts = map[string]any{"wait": boshWait}
	}
	ai := a.connect(e, alice, opts)
	bi := b.connect(e, bob, nil)
	if boshMode() == "boshd" && ai.Wait != boshWait {
		t.Fatalf("Strophe asked for wait=60 and boshd (max_wait %ds) granted wait=%d; want %d", boshWait, ai.Wait, boshWait)
	}
	if ai.Wait <= 0 || ai.Wait > 20 {
		t.Fatalf("granted wait=%d; this test needs a server wait of at most 20s", ai.Wait)
	}
	a.do("H.mark = H.traffic.length ? H.traffic[H.traffic.length - 1].t : 0")
	idle := time.Duration(ai.Wait)*time.Second + 3*time.Second
	t.Logf("idle for %v (wait=%d)", idle, ai.Wait)
	time.Sleep(idle)

	// The held request must have been answered without payload when
	// 'wait' ran out (XEP-0124 §8), and Strophe must have sent a new one.
	empties := evalJS[int](a, `H.traffic.filter(x => x.t > H.mark && x.dir === 'in' && !/<(message|presence|iq)[\s>]/.test(x.data)).length`)
	if empties < 1 {
		t.Fatalf("no empty response while idle for %v with wait=%d", idle, ai.Wait)
	}
	b.send(ai.JID, "after-idle")
	wantBodies(t, "alice", a.waitBodies(bob.jid, 1, 10*time.Second), []string{"after-idle"})
	a.send(bi.JID, "reply-after-idle")
	wantBodies(t, "bob", b.waitBodies(alice.jid, 1, 10*time.Second), []string{"reply-after-idle"})
	if got := a.info().SID; got != ai.SID {
		t.Fatalf("sid changed from %q to %q while idle", ai.SID, got)
	}
	noReconnect(t, a)
	noReconnect(t, b)
}

// testStropheDisconnect: a clean disconnect (XEP-0124 §13 terminate with
// unavailable presence) is seen by the subscribed contact.
func testStropheDisconnect(t *testing.T, e *env, deadline time.Time) {
	alice, bob, a, b := e.stropheUsers(t, "bye", deadline)
	a.connect(e, alice, nil)
	bi := b.connect(e, bob, nil)
	subscribeBoth(t, a, b, alice, bob)

	sts := evalJS[[]stropheStatus](b, "H.disconnect()")
	for _, s := range sts {
		if s.Status == "CONNFAIL" || s.Status == "ERROR" {
			t.Fatalf("bob's disconnect went through %+v", sts)
		}
	}
	if last := sts[len(sts)-1]; last.Status != "DISCONNECTED" {
		t.Fatalf("bob's statuses end with %+v; want DISCONNECTED", last)
	}
	// The terminate request carried an unavailable presence, which the
	// server broadcasts to alice (RFC 6121 §4.5.2).
	a.waitFor(fmt.Sprintf("H.presences.some(p => p.from === %s && p.type === 'unavailable')", js(bi.JID)), 10*time.Second, "bob's unavailable presence")
	// The terminate request itself was answered 200 (Strophe would have
	// reported an error status otherwise) with a terminate body.
	term := evalJS[int](b, `H.traffic.filter(x => x.dir === 'in' && /type=["']terminate["']/.test(x.data)).length`)
	if term < 1 {
		t.Fatalf("bob saw no type='terminate' response to his terminate request")
	}
	noReconnect(t, a)
}

// testStropheReload: with keepalive, Strophe caches {jid, sid, rid} in
// sessionStorage; after a page reload restore() attaches to the same BOSH
// session, which still delivers what arrived meanwhile and carries on.
func testStropheReload(t *testing.T, e *env, deadline time.Time) {
	alice, bob, a, b := e.stropheUsers(t, "reload", deadline)
	ai := a.connect(e, alice, map[string]any{"keepalive": true})
	bi := b.connect(e, bob, nil)
	b.send(ai.JID, "before-reload")
	wantBodies(t, "alice", a.waitBodies(bob.jid, 1, 10*time.Second), []string{"before-reload"})

	type cached struct {
		JID string `json:"jid"`
		SID string `json:"sid"`
		RID int64  `json:"rid"`
	}
	c := evalJS[cached](a, "H.cachedSession()")
	if c.SID != ai.SID || c.JID != ai.JID || c.RID == 0 {
		t.Fatalf("sessionStorage holds %+v; want the live session sid %q jid %q", c, ai.SID, ai.JID)
	}

	a.reload(stropheReady)
	// The reload aborted the held request. A message sent now waits at the
	// BOSH endpoint for the restored session.
	time.Sleep(time.Second)
	b.send(ai.JID, "during-reload")
	time.Sleep(500 * time.Millisecond)

	ri := evalJS[stropheInfo](a, fmt.Sprintf("H.restore(%s, %s)", js(e.boshURL), js(alice.jid)))
	if ri.SID != ai.SID || ri.JID != ai.JID {
		t.Fatalf("restored %+v; want the same session sid %q jid %q", ri, ai.SID, ai.JID)
	}
	wantBodies(t, "alice after reload", a.waitBodies(bob.jid, 1, 15*time.Second), []string{"during-reload"})
	b.send(ai.JID, "after-reload")
	wantBodies(t, "alice after reload", a.waitBodies(bob.jid, 2, 10*time.Second), []string{"during-reload", "after-reload"})
	a.send(bi.JID, "reply-after-reload")
	wantBodies(t, "bob", b.waitBodies(alice.jid, 1, 10*time.Second), []string{"reply-after-reload"})
	noReconnect(t, a)
	if got := a.info().SID; got != ai.SID {
		t.Fatalf("sid changed from %q to %q after the reload", ai.SID, got)
	}
}
