package bosh

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// harness is a Handler behind an httptest.Server in front of a scripted
// upstream.
type harness struct {
	t   testing.TB
	up  *xmpptest.Server
	h   *Handler
	srv *httptest.Server
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	return newHarnessServing(t, mod, true)
}

// newHarnessServing is newHarness with the listener of HeldConns served
// (held requests parked on taken-over connections) or not (held in await).
func newHarnessServing(t testing.TB, mod func(*Config), serveHeld bool) *harness {
	t.Helper()
	up := xmpptest.Start(t)
	cfg := Config{
		FrontEnd: relay.FrontEnd{Domains: &relay.Domains{
			Dialer: &xmppconn.Dialer{Routes: map[string][]string{"localhost": {up.Addr}}, Timeout: 5 * time.Second},
			Served: []string{"localhost"},
		}},
		MaxWait:     10 * time.Second,
		CORSOrigins: []string{"https://chat.example"},
	}
	if mod != nil {
		mod(&cfg)
	}
	h := New(cfg)
	srv := httptest.NewServer(h)
	// Held requests are answered on taken-over connections, as cmd/boshd
	// serves them (hold.go).
	heldDone := make(chan struct{})
	if serveHeld {
		go func() { defer close(heldDone); srv.Config.Serve(h.HeldConns()) }()
	} else {
		close(heldDone)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		srv.Close()
		<-heldDone
	})
	return &harness{t: t, up: up, h: h, srv: srv}
}

// reply is a parsed answer.
type reply struct {
	status int
	header http.Header
	raw    string
	root   *etree.Element
}

func (r reply) attr(name string) string {
	if r.root == nil {
		return ""
	}
	return r.root.SelectAttrValue(name, "")
}

func (h *harness) post(body string) reply {
	h.t.Helper()
	return postTo(h.t, h.srv.URL, body)
}

func postTo(t testing.TB, url, body string) reply {
	t.Helper()
	resp, err := http.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err == nil {
		r.root = doc.Root()
	}
	return r
}

// async posts in the background; the returned function waits for the reply.
func (h *harness) async(body string) func() reply {
	var r reply
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r = postTo(h.t, h.srv.URL, body)
	}()
	return func() reply { wg.Wait(); return r }
}

const creation = `<body rid='%d' xmlns='http://jabber.org/protocol/httpbind' to='localhost' xml:lang='en' wait='%d' hold='1' content='text/xml; charset=utf-8' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'%s/>`

// open creates a session and returns its sid and the upstream connection.
func (h *harness) open(rid uint64, wait int, extra string) (string, *xmpptest.Conn, reply) {
	h.t.Helper()
	r := h.post(fmt.Sprintf(creation, rid, wait, extra))
	sid := r.attr("sid")
	if sid == "" {
		h.t.Fatalf("no session: %s", r.raw)
	}
	c := h.up.NextConn(h.t)
	c.Next(h.t) // the header
	return sid, c, r
}

func body(rid uint64, sid, attrs, payload string) string {
	return fmt.Sprintf(`<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'%s>%s</body>`, rid, sid, attrs, payload)
}

func TestCreationResponse(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxWait = 30 * time.Second })
	sid, _, r := h.open(1000, 120, "")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	want := map[string]string{
		"wait": "30", "hold": "1", "requests": "2", "ver": "1.6", "from": "localhost",
		"polling": "2", "inactivity": "60", "maxpause": "120", "authid": "stream-1",
		"xmpp:version": "1.0", "xmpp:restartlogic": "true",
	}
	for k, v := range want {
		if got := r.attr(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(sid) < 20 {
		t.Errorf("sid %q is too short to be unguessable", sid)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if r.header.Get("Content-Length") == "" || r.header.Get("Cache-Control") == "" {
		t.Errorf("missing Content-Length or Cache-Control: %v", r.header)
	}
	f := r.root.FindElement("./stream:features")
	if f == nil || f.NamespaceURI() != NSStream {
		t.Fatalf("features missing or without the stream namespace: %s", r.raw)
	}
}

func TestCreationRefusals(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name, body string
		status     int
		condition  string
	}{
		{"unknown domain", `<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='elsewhere.example' ver='1.6'/>`, 200, "host-unknown"},
		{"missing to", `<body rid='1' xmlns='http://jabber.org/protocol/httpbind' ver='1.6'/>`, 200, "improper-addressing"},
		{"route not configured", `<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' route='xmpp:10.0.0.1:5222' ver='1.6'/>`, 200, "host-unknown"},
		{"route not xmpp", `<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' route='http:` + h.up.Addr + `' ver='1.6'/>`, 200, "host-unknown"},
		{"missing rid", `<body xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6'/>`, 200, "bad-request"},
		{"rid too large", `<body rid='9007199254740992' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6'/>`, 200, "bad-request"},
		{"bad wait", `<body rid='1' wait='soon' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6'/>`, 200, "bad-request"},
		{"malformed xml", `<body rid='1' xmlns='http://jabber.org/protocol/httpbind'`, 200, "bad-request"},
		{"legacy client, missing rid", `<body xmlns='http://jabber.org/protocol/httpbind' to='localhost'/>`, 400, "bad-request"},
		{"unknown sid", `<body rid='5' sid='nope' xmlns='http://jabber.org/protocol/httpbind'/>`, 200, "item-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(tt.body)
			if r.status != tt.status || r.attr("type") != "terminate" || r.attr("condition") != tt.condition {
				t.Fatalf("got %d %s, want %d terminate %s", r.status, r.raw, tt.status, tt.condition)
			}
		})
	}
	if n := h.h.Sessions(); n != 0 {
		t.Fatalf("%d sessions left after refusals", n)
	}
}

func TestRouteAttributeNamingAConfiguredRoute(t *testing.T) {
	h := newHarness(t, nil)
	_, _, r := h.open(1, 10, " route='xmpp:"+h.up.Addr+"'")
	if r.attr("type") != "" {
		t.Fatalf("session refused: %s", r.raw)
	}
}

func TestHeldRequestGetsUpstreamStanza(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(100, 10, "")
	wait := h.async(body(101, sid, "", ""))
	h.waitOpen(sid, 101)
	up.Push(t, `<message from='a@localhost' type='chat'><body>hi &amp; bye</body></message>`)
	r := wait()
	want := `<message xmlns='jabber:client' from='a@localhost' type='chat'><body>hi &amp; bye</body></message>`
	if !strings.Contains(r.raw, want) {
		t.Fatalf("answer %s does not carry %s", r.raw, want)
	}
	if m := r.root.FindElement("./message"); m == nil || m.NamespaceURI() != NSClient {
		t.Fatalf("stanza not in jabber:client: %s", r.raw)
	}
}

func TestPayloadsForwardedInRIDOrder(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	// 12 arrives before 11: it must wait for 11, and 11's payload goes first.
	second := h.async(body(12, sid, "", `<message xmlns='jabber:client' id='second'/>`))
	h.waitOpen(sid, 12)
	first := h.async(body(11, sid, "", `<message xmlns='jabber:client' id='first'/>`))
	if el := up.Next(t); !strings.Contains(string(el.Raw), "first") {
		t.Fatalf("first forwarded %s", el.Raw)
	}
	if el := up.Next(t); !strings.Contains(string(el.Raw), "second") {
		t.Fatalf("second forwarded %s", el.Raw)
	}
	if r := first(); r.status != 200 || r.attr("type") != "" {
		t.Fatalf("rid 11: %s", r.raw)
	}
	up.Push(t, `<message id='reply'/>`)
	if r := second(); !strings.Contains(r.raw, "reply") {
		t.Fatalf("rid 12 did not get the reply: %s", r.raw)
	}
}

// TestPayloadUsingWrapperPrefix: a stanza written with a prefix the
// client declared on the <body/> wrapper reaches the server with that
// declaration in its own start tag; without it the server would see an
// undeclared prefix and end the stream.
func TestPayloadUsingWrapperPrefix(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 1, "")
	r := h.post(body(11, sid, " xmlns:c='jabber:client'", `<c:message to='b@localhost' id='p'><c:body>hi</c:body></c:message>`))
	if r.attr("type") != "" {
		t.Fatalf("answered %s", r.raw)
	}
	want := `<c:message xmlns:c='jabber:client' to='b@localhost' id='p'><c:body>hi</c:body></c:message>`
	if el := up.Next(t); string(el.Raw) != want {
		t.Fatalf("server got %s, want %s", el.Raw, want)
	}
}

func TestRetransmissionAnsweredFromCache(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	wait := h.async(body(11, sid, "", ""))
	h.waitOpen(sid, 11)
	up.Push(t, `<message id='m1'/>`)
	r1 := wait()
	r2 := h.post(body(11, sid, "", ""))
	if r1.raw != r2.raw || !strings.Contains(r2.raw, "m1") {
		t.Fatalf("retransmission answered %q, first answer %q", r2.raw, r1.raw)
	}
	// The session goes on.
	wait = h.async(body(12, sid, "", ""))
	up.Push(t, `<message id='m2'/>`)
	if r := wait(); !strings.Contains(r.raw, "m2") {
		t.Fatalf("after retransmission: %s", r.raw)
	}
}

func TestRetransmissionOfHeldRequest(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	older := h.async(body(11, sid, "", ""))
	h.waitOpen(sid, 11)
	newer := h.async(body(11, sid, "", ""))
	if r := older(); r.attr("type") != "error" {
		t.Fatalf("older copy answered %s, want type='error'", r.raw)
	}
	up.Push(t, `<message id='m'/>`)
	if r := newer(); !strings.Contains(r.raw, "id='m'") {
		t.Fatalf("newer copy answered %s", r.raw)
	}
}

func TestRIDErrors(t *testing.T) {
	tests := []struct {
		name string
		rid  uint64
	}{
		{"beyond the window", 13},
		{"far beyond", 1 << 40},
		{"old and no longer cached", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			sid, _, _ := h.open(10, 10, "")
			r := h.post(body(tt.rid, sid, "", ""))
			if r.attr("condition") != "item-not-found" {
				t.Fatalf("rid %d answered %s", tt.rid, r.raw)
			}
			if r := h.post(body(11, sid, "", "")); r.attr("condition") != "item-not-found" {
				t.Fatalf("session survived: %s", r.raw)
			}
		})
	}
}

func TestUpstreamStreamError(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	wait := h.async(body(11, sid, "", ""))
	h.waitOpen(sid, 11)
	up.Push(t, `<message id='before'/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`)
	r := wait()
	if r.attr("type") != "terminate" || r.attr("condition") != "remote-stream-error" {
		t.Fatalf("got %s", r.raw)
	}
	msg := strings.Index(r.raw, "before")
	serr := strings.Index(r.raw, "<stream:error>")
	if msg < 0 || serr < msg || r.root.FindElement("./stream:error/conflict") == nil {
		t.Fatalf("stanza then full stream error expected: %s", r.raw)
	}
}

func TestUpstreamDies(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	wait := h.async(body(11, sid, "", ""))
	h.waitOpen(sid, 11)
	start := time.Now()
	up.Close()
	r := wait()
	if r.attr("condition") != "remote-connection-failed" {
		t.Fatalf("got %s", r.raw)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("held request answered after %v, not at once", d)
	}
}

func TestTerminateForwardsPayloadThenCloses(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	r := h.post(body(11, sid, " type='terminate'", `<presence type='unavailable' xmlns='jabber:client'/>`))
	if r.attr("type") != "terminate" {
		t.Fatalf("terminate answered %s", r.raw)
	}
	if el := up.Next(t); !strings.Contains(string(el.Raw), "unavailable") {
		t.Fatalf("first upstream element %s", el.Raw)
	}
	if el := up.Next(t); el.Kind != xmppconn.KindEnd {
		t.Fatalf("stream not closed after the payload: %v %s", el.Kind, el.Raw)
	}
	if r := h.post(body(12, sid, "", "")); r.attr("condition") != "item-not-found" {
		t.Fatalf("session survived terminate: %s", r.raw)
	}
}

// TestTerminateAnswersEveryOpenRequest: a terminate request is answered
// <body type='terminate'/> (§13), and so is every other open request: the
// ones held before it and one that came ahead of its turn after it, which
// would otherwise never be answered.
func TestTerminateAnswersEveryOpenRequest(t *testing.T) {
	tests := []struct {
		name  string
		other uint64 // rid of the other open request; the terminate is 12
	}{
		{"held before the terminate", 11},
		{"ahead of its turn after the terminate", 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			sid, _, _ := h.open(10, 5, "")
			if tt.other > 12 {
				held := h.async(body(11, sid, "", ""))
				defer func() {
					if r := held(); r.attr("type") != "terminate" {
						t.Errorf("held rid 11 answered %s", r.raw)
					}
				}()
				h.waitOpen(sid, 11)
			}
			other := h.async(body(tt.other, sid, "", ""))
			h.waitOpen(sid, tt.other)
			start := time.Now()
			if r := h.post(body(12, sid, " type='terminate'", "")); r.attr("type") != "terminate" || r.attr("condition") != "" {
				t.Fatalf("terminate request answered %s", r.raw)
			}
			r := other()
			if r.attr("type") != "terminate" || r.attr("condition") != "" {
				t.Fatalf("rid %d answered %s", tt.other, r.raw)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("rid %d answered %v after the terminate", tt.other, d)
			}
		})
	}
}

func TestKeySequencing(t *testing.T) {
	k := []string{"seed"}
	for i := 0; i < 4; i++ {
		k = append(k, sha1Hex(k[len(k)-1]))
	}
	// k[4] is sent first as newkey; then k[3], k[2], ...
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 1, " newkey='"+k[4]+"'")
	if r := h.post(body(11, sid, " key='"+k[3]+"'", `<message xmlns='jabber:client' id='ok'/>`)); r.attr("type") != "" {
		t.Fatalf("good key refused: %s", r.raw)
	}
	up.Next(t)
	r := h.post(body(12, sid, " key='"+k[3]+"'", `<message xmlns='jabber:client' id='bad'/>`))
	if r.attr("condition") != "item-not-found" {
		t.Fatalf("bad key answered %s", r.raw)
	}
	select {
	case el := <-up.Received:
		if strings.Contains(string(el.Raw), "bad") {
			t.Fatal("payload of a request with a bad key was forwarded")
		}
	case <-time.After(200 * time.Millisecond):
	}
}

// TestRepeatedRIDNeedsTheOriginalKey: in a key-sequenced session (§15) a
// resent rid is served (from the cache, or in place of the held copy)
// only when it carries the original's key; otherwise it is an injection,
// answered item-not-found, and the session ends.
func TestRepeatedRIDNeedsTheOriginalKey(t *testing.T) {
	k := []string{"seed"}
	for i := 0; i < 3; i++ {
		k = append(k, sha1Hex(k[len(k)-1]))
	}
	tests := []struct {
		name   string
		held   bool   // repeat while rid 11 is held, else after its answer
		key    string // attributes of the repeat
		served bool
	}{
		{"held, copy with the key", true, " key='" + k[2] + "'", true},
		{"held, no key", true, "", false},
		{"held, other key", true, " key='" + k[1] + "'", false},
		{"cached, copy with the key", false, " key='" + k[2] + "'", true},
		{"cached, no key", false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			sid, up, _ := h.open(10, 2, " newkey='"+k[3]+"'")
			orig := h.async(body(11, sid, " key='"+k[2]+"'", ""))
			h.waitOpen(sid, 11)
			if !tt.held {
				up.Push(t, `<message id='secret'/>`)
				if r := orig(); !strings.Contains(r.raw, "secret") {
					t.Fatalf("rid 11 answered %s", r.raw)
				}
			}
			repeat := h.async(body(11, sid, tt.key, ""))
			if tt.held && tt.served {
				orig() // answered once the copy has taken its place
				up.Push(t, `<message id='secret'/>`)
			}
			r := repeat()
			if got := strings.Contains(r.raw, "secret"); got != tt.served {
				t.Fatalf("repeat answered %s, want served=%v", r.raw, tt.served)
			}
			if !tt.served && r.attr("condition") != "item-not-found" {
				t.Fatalf("refused repeat answered %s, want item-not-found", r.raw)
			}
			if tt.held {
				o := orig()
				if want := map[bool]string{true: "error", false: "terminate"}[tt.served]; o.attr("type") != want {
					t.Fatalf("held original answered %s, want type %q", o.raw, want)
				}
			}
		})
	}
}

// TestReportKeepsRIDOrder: a request whose 'ack' shows a lost answer is
// answered at once with 'report' and 'time' (§9.2), but not before the
// requests held ahead of it: answers go out in rid order (§8).
func TestReportKeepsRIDOrder(t *testing.T) {
	// An answer is overdue a nanosecond after it was sent, instead of
	// defaultReportGrace: no real sleep.
	h := newHarness(t, func(c *Config) { c.MaxHold = 2; c.reportGrace = time.Nanosecond })
	cr := h.post(`<body rid='10' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='10' hold='2' ack='1' ver='1.6'/>`)
	sid := cr.attr("sid")
	if cr.attr("hold") != "2" || cr.attr("ack") != "10" {
		t.Fatalf("session: %s", cr.raw)
	}
	up := h.up.NextConn(t)
	up.Next(t) // the header
	first := h.async(body(11, sid, "", ""))
	h.waitOpen(sid, 11)
	up.Push(t, `<message id='lost'/>`)
	if r := first(); !strings.Contains(r.raw, "lost") {
		t.Fatalf("rid 11 answered %s", r.raw)
	}
	held := []func() reply{h.async(body(12, sid, " ack='11'", ""))}
	h.waitOpen(sid, 12)
	held = append(held, h.async(body(13, sid, " ack='11'", "")))
	h.waitOpen(sid, 13)
	// rid 11's answer is overdue already (reportGrace is 1ns).
	// The client says it has seen nothing after rid 10.
	start := time.Now()
	r := h.post(body(14, sid, " ack='10'", `<presence xmlns='jabber:client'/>`))
	if r.attr("report") != "11" || r.attr("time") == "" {
		t.Fatalf("rid 14 answered %s, want report='11' and a time", r.raw)
	}
	for i, wait := range held {
		if a := wait(); a.status != 200 || a.attr("type") != "" {
			t.Fatalf("rid %d answered %s", 12+i, a.raw)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("rid %d, held before the report, answered %v after it", 12+i, d)
		}
	}
}

// TestNoReportForAnswerInFlight: a client that writes its next poll before
// it has read the previous answer acknowledges one rid behind. That answer
// is in flight, not lost: the poll is held as usual and brings the next
// stanza, instead of being answered at once with a 'report' (which, poll
// after poll, would never deliver anything).
func TestNoReportForAnswerInFlight(t *testing.T) {
	h := newHarness(t, nil)
	cr := h.post(`<body rid='10' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='10' hold='1' ack='1' ver='1.6'/>`)
	sid := cr.attr("sid")
	up := h.up.NextConn(t)
	up.Next(t) // the header
	rid := uint64(11)
	for i := range 3 {
		// ack is the rid before the one just answered.
		poll := h.async(body(rid, sid, fmt.Sprintf(" ack='%d'", rid-2), ""))
		h.waitOpen(sid, rid)
		up.Push(t, fmt.Sprintf(`<message id='m%d'/>`, i))
		r := poll()
		if r.attr("report") != "" || !strings.Contains(r.raw, fmt.Sprintf("m%d", i)) {
			t.Fatalf("poll %d answered %s, want message m%d", rid, r.raw, i)
		}
		rid++
	}
}

func TestPauseAnswersAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	sid, _, _ := h.open(10, 1, "")
	held := h.async(body(11, sid, "", ""))
	h.waitOpen(sid, 11)
	start := time.Now()
	r := h.post(body(12, sid, " pause='30'", ""))
	if r.status != 200 || r.attr("type") != "" || time.Since(start) > 2*time.Second {
		t.Fatalf("pause answered %s after %v", r.raw, time.Since(start))
	}
	if r := held(); r.status != 200 {
		t.Fatalf("held request: %s", r.raw)
	}
	// Resuming works.
	if r := h.post(body(13, sid, "", `<presence xmlns='jabber:client'/>`)); r.attr("type") == "terminate" {
		t.Fatalf("resume: %s", r.raw)
	}
}

func TestPollingTooFrequent(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Polling = 5 * time.Second })
	r := h.post(`<body rid='10' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='10' hold='0' ver='1.6'/>`)
	sid := r.attr("sid")
	h.up.NextConn(t)
	if r.attr("hold") != "0" || r.attr("polling") != "5" {
		t.Fatalf("polling session: %s", r.raw)
	}
	// The creation answer carried features, so the first empty poll is fine.
	if r := h.post(body(11, sid, "", "")); r.attr("type") != "" {
		t.Fatalf("first poll: %s", r.raw)
	}
	// A poll carrying data never counts.
	if r := h.post(body(12, sid, "", `<presence xmlns='jabber:client'/>`)); r.attr("type") != "" {
		t.Fatalf("poll with data: %s", r.raw)
	}
	if r := h.post(body(13, sid, "", "")); r.attr("type") != "" {
		t.Fatalf("poll after data: %s", r.raw)
	}
	if r := h.post(body(14, sid, "", "")); r.attr("condition") != "policy-violation" {
		t.Fatalf("second empty poll within 'polling' answered %s", r.raw)
	}
}

func TestLegacyClientGetsHTTPCodes(t *testing.T) {
	h := newHarness(t, nil)
	r := h.post(`<body rid='10' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='10' hold='1'/>`)
	sid := r.attr("sid")
	h.up.NextConn(t)
	if r.attr("ver") != "" {
		t.Fatalf("ver answered to a legacy client: %s", r.raw)
	}
	if r := h.post(body(50, sid, "", "")); r.status != http.StatusNotFound {
		t.Fatalf("rid beyond window answered %d %s, want 404", r.status, r.raw)
	}
}

// TestContentAttributeThatIsNoMediaType: a 'content' that is not a media
// type (here with a line break, which would otherwise reach the header)
// is ignored and the default Content-Type used.
func TestContentAttributeThatIsNoMediaType(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct{ name, content string }{
		{"line break", "text/xml&#13;&#10;X-Injected: 1"},
		{"no subtype", "xml"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(`<body rid='10' xmlns='http://jabber.org/protocol/httpbind' to='elsewhere.example' ver='1.6' content='` + tt.content + `'/>`)
			if ct := r.header.Get("Content-Type"); ct != "text/xml; charset=utf-8" || r.header.Get("X-Injected") != "" {
				t.Fatalf("Content-Type %q, headers %v", ct, r.header)
			}
		})
	}
}

func TestContentAttributeIsTheContentType(t *testing.T) {
	h := newHarness(t, nil)
	r := h.post(`<body rid='10' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='10' hold='1' ver='1.6' content='application/xml'/>`)
	h.up.NextConn(t)
	if ct := r.header.Get("Content-Type"); ct != "application/xml" {
		t.Fatalf("creation Content-Type %q", ct)
	}
	r = h.post(body(11, r.attr("sid"), " type='terminate'", ""))
	if ct := r.header.Get("Content-Type"); ct != "application/xml" {
		t.Fatalf("later Content-Type %q", ct)
	}
}

func TestHTTPEdges(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 2048 })
	do := func(method, origin, reqHeaders string, body io.Reader) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, h.srv.URL, body)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if reqHeaders != "" {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", reqHeaders)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name       string
		method     string
		origin     string
		reqHeaders string
		body       string
		status     int
		allowed    string // expected Access-Control-Allow-Origin
	}{
		{"preflight from allowed origin", "OPTIONS", "https://chat.example", "content-type", "", 204, "https://chat.example"},
		{"preflight from other origin", "OPTIONS", "https://evil.example", "content-type", "", 204, ""},
		{"get shows a page", "GET", "", "", "", 200, ""},
		{"put is refused", "PUT", "", "", "", 405, ""},
		{"error answer carries CORS", "POST", "https://chat.example", "", "<junk", 200, "https://chat.example"},
		{"oversized body", "POST", "https://chat.example", "", strings.Repeat("x", 5000), 413, "https://chat.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(tt.method, tt.origin, tt.reqHeaders, strings.NewReader(tt.body))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Fatalf("Cache-Control %q", cc)
			}
			if got := resp.Header.Values("Access-Control-Allow-Origin"); len(got) > 1 || (len(got) == 1) != (tt.allowed != "") || (tt.allowed != "" && got[0] != tt.allowed) {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.allowed)
			}
		})
	}
}

func TestSessionLimits(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSessionsPerAddress = 1 })
	h.open(10, 10, "")
	r := h.post(fmt.Sprintf(creation, 20, 10, ""))
	if r.attr("condition") != "policy-violation" {
		t.Fatalf("second session from one address answered %s", r.raw)
	}
}

func TestShutdownAnswersHeldRequests(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	wait := h.async(body(11, sid, "", ""))
	h.waitOpen(sid, 11)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if r := wait(); r.attr("condition") != "system-shutdown" {
		t.Fatalf("held request answered %s", r.raw)
	}
	if el := up.Next(t); el.Kind != xmppconn.KindEnd {
		t.Fatalf("upstream got %v, want the closing tag", el.Kind)
	}
	if r := h.post(fmt.Sprintf(creation, 20, 10, "")); r.attr("condition") != "system-shutdown" {
		t.Fatalf("new session during shutdown answered %s", r.raw)
	}
}

func TestRestartDeliversNewFeatures(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	r := h.post(body(11, sid, " xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' to='localhost'", ""))
	if el := up.Next(t); el.Kind != xmppconn.KindHeader {
		t.Fatalf("upstream got %v, want a new header", el.Kind)
	}
	if r.root == nil || r.root.FindElement("./stream:features") == nil {
		t.Fatalf("restart answered %s", r.raw)
	}
}

// TestRestartWaitsForFeatures: a server that sends the restarted stream's
// header and its features in two segments. The restart request must be
// answered with the features, not with an empty body when the header alone
// has arrived (the client would wait for features that never come).
func TestRestartWaitsForFeatures(t *testing.T) {
	h := newHarness(t, nil)
	h.up.RestartFeaturesDelay = 30 * time.Millisecond
	sid, up, _ := h.open(10, 10, "")
	rid := uint64(11)
	for i := range 5 {
		r := h.post(body(rid, sid, " xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' to='localhost'", ""))
		rid++
		if el := up.Next(t); el.Kind != xmppconn.KindHeader {
			t.Fatalf("restart %d: upstream got %v, want a new header", i, el.Kind)
		}
		if r.root == nil || r.root.FindElement("./stream:features") == nil {
			t.Fatalf("restart %d answered %s", i, r.raw)
		}
	}
}

func TestWaitExpiresWithEmptyBody(t *testing.T) {
	h := newHarness(t, nil)
	sid, _, _ := h.open(10, 1, "")
	start := time.Now()
	r := h.post(body(11, sid, "", ""))
	if r.status != 200 || r.attr("type") != "" || len(r.root.ChildElements()) != 0 {
		t.Fatalf("expired wait answered %s", r.raw)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Fatalf("answered after %v with wait=1", d)
	}
	_ = strconv.Itoa
}

// TestClientGoneWhileHeld: a held request returns the moment its client
// leaves, not at the end of its 'wait' (XEP-0124 §8), and its rid counts as
// answered: a copy resent later gets the empty answer from the cache at
// once instead of being held again.
func TestClientGoneWhileHeld(t *testing.T) {
	h := newHarness(t, nil)
	sid, _, _ := h.open(10, 10, "")
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(body(11, sid, "", "")))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	h.waitOpen(sid, 11)
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("held request still waiting 3s after its client left (wait=10)")
	}
	start := time.Now()
	r := h.post(body(11, sid, "", ""))
	if r.status != 200 || r.attr("type") != "" || len(r.root.ChildElements()) != 0 {
		t.Fatalf("resent rid 11 answered %s, want the cached empty answer", r.raw)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("resent rid 11 answered after %v, want at once from the cache", d)
	}
}
