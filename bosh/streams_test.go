package bosh

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/beevik/etree"

	"boshd/bosh/internal/xmpptest"
	"boshd/xmppconn"
)

// Tests of XEP-0124 §16 multiple streams on the scripted upstream: each
// stream of a session is its own xmpptest connection.

// multi is a session with a second stream added: sid, the first stream's
// name and upstream, the second's, and the next rid.
type multi struct {
	sid            string
	first, second  string
	up1, up2       *xmpptest.Conn
	rid            uint64
	createResponse reply
}

// openTwo creates a session (wait 'wait') and adds a stream to it.
func (h *harness) openTwo(wait int) multi {
	h.t.Helper()
	sid, up1, cr := h.open(10, wait, "")
	r := h.post(body(11, sid, " to='localhost' xml:lang='en'", ""))
	if r.streamAttr() == "" || r.attr("type") != "" {
		h.t.Fatalf("add-stream answered %s", r.raw)
	}
	up2 := h.up.NextConn(h.t)
	up2.Next(h.t) // its header
	return multi{sid: sid, first: cr.streamAttr(), second: r.streamAttr(), up1: up1, up2: up2, rid: 12, createResponse: cr}
}

// streamAttr is the answer's unqualified 'stream' attribute (etree's
// attr would also match the xmlns:stream declaration).
func (r reply) streamAttr() string {
	if r.root == nil {
		return ""
	}
	for _, a := range r.root.Attr {
		if a.Space == "" && a.Key == "stream" {
			return a.Value
		}
	}
	return ""
}

// waitQueued blocks until every open stream of the session has something
// queued for the client.
func (h *harness) waitQueued(sid string) {
	h.t.Helper()
	s, ok := h.h.reg.Get(sid)
	if !ok {
		h.t.Fatalf("no session %s", sid)
	}
	all := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range s.slots() {
			if u := s.streamAt(i); u != nil && !u.relay.Pending() {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); !all(); runtime.Gosched() {
		if time.Now().After(deadline) {
			h.t.Fatal("streams not all queued after 5s")
		}
	}
}

func (m *multi) next() uint64 { m.rid++; return m.rid - 1 }

// TestCreationNamesTheFirstStream: §16.2, the feature is announced by a
// 'stream' attribute on every creation response, an unpredictable name
// that differs between sessions; bosh.max_streams = 1 turns it off.
func TestCreationNamesTheFirstStream(t *testing.T) {
	tests := []struct {
		name       string
		maxStreams int
		want       bool
	}{
		{"default", 0, true},
		{"max_streams 2", 2, true},
		{"max_streams 1: off", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.MaxStreams = tt.maxStreams })
			_, _, r1 := h.open(10, 1, "")
			_, _, r2 := h.open(10, 1, "")
			s1, s2 := r1.streamAttr(), r2.streamAttr()
			if !tt.want {
				if s1 != "" || s2 != "" {
					t.Fatalf("streams off, creation responses name %q, %q", s1, s2)
				}
				return
			}
			if len(s1) < 20 || s1 == s2 {
				t.Fatalf("stream names %q and %q: want unguessable and distinct", s1, s2)
			}
		})
	}
}

// TestAddStreamWhenOff: with the feature off, a request with 'to' is an
// ordinary empty request (§16.3 MUST): no new upstream, no 'stream'.
func TestAddStreamWhenOff(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxStreams = 1 })
	sid, up, _ := h.open(10, 1, "")
	r := h.post(body(11, sid, " to='localhost'", ""))
	if r.streamAttr() != "" || r.attr("type") != "" {
		t.Fatalf("answered %s", r.raw)
	}
	select {
	case c := <-h.up.Conns:
		t.Fatalf("a second upstream connection was opened: %v", c.RemoteAddr())
	case <-time.After(100 * time.Millisecond):
	}
	up.Push(t, `<message id='still'/>`)
	if r := h.post(body(12, sid, "", "")); !strings.Contains(r.raw, "still") || r.streamAttr() != "" {
		t.Fatalf("session with one stream answered %s", r.raw)
	}
}

// TestAddStream: §16.3, the answer names the new stream and carries
// 'from' and the new stream's own features, and no session attributes.
func TestAddStream(t *testing.T) {
	h := newHarness(t, nil)
	m := h.openTwo(1)
	if m.second == m.first || len(m.second) < 20 {
		t.Fatalf("second stream %q (first %q)", m.second, m.first)
	}
	r := h.post(body(m.next(), m.sid, " to='localhost'", ""))
	up3 := h.up.NextConn(t)
	if el := up3.Next(t); el.Kind != xmppconn.KindHeader {
		t.Fatalf("third upstream got %v", el.Kind)
	}
	if r.attr("from") != "localhost" || r.root.FindElement("./stream:features") == nil {
		t.Fatalf("add-stream answer without from or features: %s", r.raw)
	}
	for _, a := range []string{"sid", "wait", "requests", "hold", "polling", "inactivity", "ver", "maxpause"} {
		if v := r.attr(a); v != "" {
			t.Errorf("add-stream answer carries %s=%q", a, v)
		}
	}
}

// TestPayloadsGoToTheirStream: §16.4, payloads naming a stream reach only
// its upstream; payloads naming none are broadcast to every open stream.
func TestPayloadsGoToTheirStream(t *testing.T) {
	h := newHarness(t, nil)
	m := h.openTwo(1)
	tests := []struct {
		name     string
		stream   string // "" sends no stream attribute
		to1, to2 bool
	}{
		{"named first", m.first, true, false},
		{"named second", m.second, false, true},
		{"unnamed: broadcast", "", true, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attr := ""
			if tt.stream != "" {
				attr = " stream='" + tt.stream + "'"
			}
			id := fmt.Sprintf("m%d", i)
			h.post(body(m.next(), m.sid, attr, `<message xmlns='jabber:client' id='`+id+`'/>`))
			for n, c := range map[int]struct {
				up   *xmpptest.Conn
				want bool
			}{1: {m.up1, tt.to1}, 2: {m.up2, tt.to2}} {
				got := false
				select {
				case el := <-c.up.Received:
					got = strings.Contains(string(el.Raw), id)
				case <-time.After(200 * time.Millisecond):
				}
				if got != c.want {
					t.Errorf("stream %d received %s: %v, want %v", n, id, got, c.want)
				}
			}
		})
	}
}

// TestAnswersNameTheirStream: §16.4, every non-empty answer names the
// stream its payloads come from, and one answer never mixes streams.
func TestAnswersNameTheirStream(t *testing.T) {
	h := newHarness(t, nil)
	m := h.openTwo(2)
	m.up2.Push(t, `<message id='from-two'/>`)
	m.up1.Push(t, `<message id='from-one'/>`)
	h.waitQueued(m.sid)
	got := map[string]string{}
	for range 2 {
		r := h.post(body(m.next(), m.sid, "", ""))
		one, two := strings.Contains(r.raw, "from-one"), strings.Contains(r.raw, "from-two")
		switch {
		case one && two:
			t.Fatalf("one answer mixes streams: %s", r.raw)
		case one:
			got["from-one"] = r.streamAttr()
		case two:
			got["from-two"] = r.streamAttr()
		default:
			t.Fatalf("answer without either stanza: %s", r.raw)
		}
	}
	if got["from-one"] != m.first || got["from-two"] != m.second {
		t.Fatalf("answers named %v, want from-one=%s from-two=%s", got, m.first, m.second)
	}
	if r := h.post(body(m.next(), m.sid, "", "")); r.streamAttr() != "" {
		t.Fatalf("an empty answer names a stream: %s", r.raw)
	}
}

// TestTerminateOneStream: §16.5, a terminate naming a stream sends its
// payloads and </stream:stream> to that upstream only and is answered
// with its name; the session and its other stream go on. Payloads for
// the stream just closed are dropped (§16.4's MAY).
func TestTerminateOneStream(t *testing.T) {
	h := newHarness(t, nil)
	m := h.openTwo(1)
	r := h.post(body(m.next(), m.sid, " type='terminate' stream='"+m.second+"'", `<presence type='unavailable' xmlns='jabber:client'/>`))
	if r.attr("type") != "terminate" || r.streamAttr() != m.second || r.attr("condition") != "" {
		t.Fatalf("terminate of one stream answered %s", r.raw)
	}
	if el := m.up2.Next(t); !strings.Contains(string(el.Raw), "unavailable") {
		t.Fatalf("closed stream got %s first", el.Raw)
	}
	if el := m.up2.Next(t); el.Kind != xmppconn.KindEnd {
		t.Fatalf("closed stream got %v, want </stream:stream>", el.Kind)
	}
	h.post(body(m.next(), m.sid, " stream='"+m.second+"'", `<message xmlns='jabber:client' id='late'/>`))
	h.post(body(m.next(), m.sid, "", `<message xmlns='jabber:client' id='alive'/>`))
	if el := m.up1.Next(t); !strings.Contains(string(el.Raw), "alive") {
		t.Fatalf("first stream got %s, want only 'alive'", el.Raw)
	}
	m.up1.Push(t, `<message id='still-here'/>`)
	if r := h.post(body(m.next(), m.sid, "", "")); !strings.Contains(r.raw, "still-here") || r.streamAttr() != m.first {
		t.Fatalf("first stream's answer %s", r.raw)
	}
	// Closing the last stream ends the session (§16.5).
	if r := h.post(body(m.next(), m.sid, " type='terminate' stream='"+m.first+"'", "")); r.attr("type") != "terminate" || r.streamAttr() != "" {
		t.Fatalf("terminate of the last stream answered %s", r.raw)
	}
	if r := h.post(body(m.next(), m.sid, "", "")); r.attr("condition") != "item-not-found" {
		t.Fatalf("session survived its last stream: %s", r.raw)
	}
}

// TestTerminateWithoutStreamEndsAll: §16.5, a terminate naming no stream
// sends its payloads to every stream and closes them all.
func TestTerminateWithoutStreamEndsAll(t *testing.T) {
	h := newHarness(t, nil)
	m := h.openTwo(1)
	r := h.post(body(m.next(), m.sid, " type='terminate'", `<presence type='unavailable' xmlns='jabber:client'/>`))
	if r.attr("type") != "terminate" || r.streamAttr() != "" {
		t.Fatalf("terminate answered %s", r.raw)
	}
	for i, up := range []*xmpptest.Conn{m.up1, m.up2} {
		if el := up.Next(t); !strings.Contains(string(el.Raw), "unavailable") {
			t.Fatalf("stream %d got %s first", i+1, el.Raw)
		}
		if el := up.Next(t); el.Kind != xmppconn.KindEnd {
			t.Fatalf("stream %d got %v, want </stream:stream>", i+1, el.Kind)
		}
	}
	if n := h.h.Sessions(); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// TestStreamFailureEndsOnlyThatStream: §16.6, a stream whose server
// fails is ended with a terminate body naming it and the condition; the
// session goes on.
func TestStreamFailureEndsOnlyThatStream(t *testing.T) {
	tests := []struct {
		name, push, cond string
	}{
		{"connection closed", "", "remote-connection-failed"},
		{"stream error", `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`, "remote-stream-error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			m := h.openTwo(5)
			held := h.async(body(m.rid, m.sid, "", ""))
			h.waitOpen(m.sid, m.rid)
			m.next()
			if tt.push != "" {
				m.up2.Push(t, tt.push)
			} else {
				m.up2.Close()
			}
			r := held()
			if r.attr("type") != "terminate" || r.attr("condition") != tt.cond || r.streamAttr() != m.second {
				t.Fatalf("failed stream answered %s", r.raw)
			}
			m.up1.Push(t, `<message id='survivor'/>`)
			if r := h.post(body(m.next(), m.sid, "", "")); !strings.Contains(r.raw, "survivor") || r.streamAttr() != m.first {
				t.Fatalf("the other stream answered %s", r.raw)
			}
		})
	}
}

// TestLastStreamEndNamesIt: §16.4, once a second stream has been open
// every non-empty answer names its stream, the one that ends the session
// too: when the last open stream (either of the two) ends with stanzas
// and a stream error, the terminate answer carries them and its name.
// One that ends with nothing to carry names none: the session is over.
func TestLastStreamEndNamesIt(t *testing.T) {
	const lastWords = `<message id='last-words'/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`
	tests := []struct {
		name       string
		closeFirst bool   // else the second stream is closed first
		push       string // what the last stream's server sends; "" closes the connection
		cond       string
		named      bool
	}{
		{"second is last, ends with stanzas", true, lastWords, "remote-stream-error", true},
		{"first is last, ends with stanzas", false, lastWords, "remote-stream-error", true},
		{"second is last, connection closed", true, "", "remote-connection-failed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			m := h.openTwo(5)
			gone, last, lastUp := m.second, m.first, m.up1
			if tt.closeFirst {
				gone, last, lastUp = m.first, m.second, m.up2
			}
			if r := h.post(body(m.next(), m.sid, " type='terminate' stream='"+gone+"'", "")); r.attr("type") != "terminate" || r.streamAttr() != gone {
				t.Fatalf("closing one stream answered %s", r.raw)
			}
			held := h.async(body(m.rid, m.sid, "", ""))
			h.waitOpen(m.sid, m.rid)
			m.next()
			if tt.push != "" {
				lastUp.Push(t, tt.push)
			} else {
				lastUp.Close()
			}
			r := held()
			if r.attr("type") != "terminate" || r.attr("condition") != tt.cond {
				t.Fatalf("the last stream's end answered %s, want terminate %s", r.raw, tt.cond)
			}
			if tt.push != "" && !strings.Contains(r.raw, "last-words") {
				t.Fatalf("the last stream's stanzas are lost: %s", r.raw)
			}
			want := ""
			if tt.named {
				want = last
			}
			if got := r.streamAttr(); got != want {
				t.Fatalf("the last stream's end names %q, want %q: %s", got, want, r.raw)
			}
		})
	}
}

// TestUnknownStreamName: §16.4, payloads for a name the session never
// issued end it with item-not-found; on an empty request the attribute is
// ignored.
func TestUnknownStreamName(t *testing.T) {
	tests := []struct {
		name, attrs, payload, cond string
	}{
		{"payload", " stream='nope'", `<message xmlns='jabber:client'/>`, "item-not-found"},
		{"terminate", " stream='nope' type='terminate'", "", "item-not-found"},
		{"restart", " stream='nope' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'", "", "item-not-found"},
		{"empty request", " stream='nope'", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			m := h.openTwo(1)
			r := h.post(body(m.next(), m.sid, tt.attrs, tt.payload))
			if r.attr("condition") != tt.cond {
				t.Fatalf("answered %s, want condition %q", r.raw, tt.cond)
			}
		})
	}
}

// TestAddStreamRefused: a stream the session may not have is refused with
// a terminate body naming it (§16.6), so the session goes on: over
// bosh.max_streams (policy-violation), a domain not served, a route not
// configured.
func TestAddStreamRefused(t *testing.T) {
	tests := []struct {
		name, attrs, cond string
		maxStreams        int
	}{
		{"over max_streams", " to='localhost'", "policy-violation", 2},
		{"domain not served", " to='elsewhere.example'", "host-unknown", 0},
		{"route not configured", " to='localhost' route='xmpp:10.0.0.1:5222'", "host-unknown", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.MaxStreams = tt.maxStreams })
			m := h.openTwo(1)
			r := h.post(body(m.next(), m.sid, tt.attrs, ""))
			if r.attr("type") != "terminate" || r.attr("condition") != tt.cond || r.streamAttr() == "" {
				t.Fatalf("answered %s, want a terminate naming a stream, %s", r.raw, tt.cond)
			}
			if s := r.streamAttr(); s == m.first || s == m.second {
				t.Fatalf("refusal names an open stream %s", s)
			}
			m.up2.Push(t, `<message id='alive'/>`)
			if r := h.post(body(m.next(), m.sid, "", "")); !strings.Contains(r.raw, "alive") {
				t.Fatalf("session did not go on: %s", r.raw)
			}
		})
	}
}

// TestAddStreamConnectFails: the new stream's server cannot be reached:
// remote-connection-failed naming the stream, the session goes on.
func TestAddStreamConnectFails(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Domains.Dialer.Routes["down.example"] = []string{"127.0.0.1:1"} // nothing listens
		c.Domains.Served = append(c.Domains.Served, "down.example")
	})
	sid, up, _ := h.open(10, 1, "")
	r := h.post(body(11, sid, " to='down.example'", ""))
	if r.attr("type") != "terminate" || r.attr("condition") != "remote-connection-failed" || r.streamAttr() == "" {
		t.Fatalf("answered %s", r.raw)
	}
	up.Push(t, `<message id='alive'/>`)
	if r := h.post(body(12, sid, "", "")); !strings.Contains(r.raw, "alive") {
		t.Fatalf("session did not go on: %s", r.raw)
	}
}

// TestAddStreamOveractivity: an add-stream request right after an empty
// answer, while the session's one allowed request is held, is not the
// too-frequent empty polling of §11: it asks for something. But a request
// with 'to' is an ordinary empty request when the feature is off (§16.3),
// or when the session is at bosh.max_streams and it is refused at once:
// 'to' must not let a client poll as fast as it likes.
func TestAddStreamOveractivity(t *testing.T) {
	tests := []struct {
		name       string
		maxStreams int
		two        bool // a second stream is open first
		cond       string
	}{
		{"add-stream: not overactivity", 0, false, ""},
		{"feature off: an empty request", 1, false, "policy-violation"},
		{"at max_streams: refused, an empty request", 2, true, "policy-violation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.MaxStreams = tt.maxStreams })
			var sid string
			rid := uint64(11)
			if tt.two {
				m := h.openTwo(1)
				sid, rid = m.sid, m.rid
			} else {
				sid, _, _ = h.open(10, 1, "")
			}
			if r := h.post(body(rid, sid, "", "")); r.attr("type") != "" {
				t.Fatalf("poll answered %s", r.raw)
			}
			held := h.async(body(rid+1, sid, "", ""))
			h.waitOpen(sid, rid+1)
			r := h.post(body(rid+2, sid, " to='localhost'", ""))
			if got := r.attr("condition"); got != tt.cond {
				t.Fatalf("request with 'to' right after an empty answer: %s, want condition %q", r.raw, tt.cond)
			}
			if tt.cond != "" {
				// The session's end, not a refusal of one stream (which
				// names it, with the same condition, §16.6).
				if _, alive := h.h.reg.Get(sid); alive || r.streamAttr() != "" {
					t.Fatalf("answered %s, and the session goes on: want its end", r.raw)
				}
				return
			}
			if r.attr("type") != "" || r.streamAttr() == "" {
				t.Fatalf("add-stream answered %s", r.raw)
			}
			if r := held(); r.attr("type") != "" {
				t.Fatalf("held poll answered %s", r.raw)
			}
		})
	}
}

// TestRestartOneStream: XEP-0206 §5 restart naming a stream restarts that
// upstream only, and its new features come back named.
func TestRestartOneStream(t *testing.T) {
	h := newHarness(t, nil)
	m := h.openTwo(5)
	r := h.post(body(m.next(), m.sid, " xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' stream='"+m.second+"'", ""))
	if el := m.up2.Next(t); el.Kind != xmppconn.KindHeader {
		t.Fatalf("second upstream got %v, want a new header", el.Kind)
	}
	if r.root == nil || r.root.FindElement("./stream:features") == nil || r.streamAttr() != m.second {
		t.Fatalf("restart answered %s", r.raw)
	}
	select {
	case el := <-m.up1.Received:
		t.Fatalf("first upstream got %v %s", el.Kind, el.Raw)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestStreamsCostNothingUntilUsed: §16 must not make a session that never
// adds a stream heavier (issue 12): the Session and a held request stay in
// the allocation size classes they had before the feature (320 and 48
// bytes on 64-bit platforms), the first stream inline, the rest behind a
// nil pointer.
func TestStreamsCostNothingUntilUsed(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("size classes measured on 64-bit platforms")
	}
	if n := unsafe.Sizeof(Session{}); n > 320 {
		t.Errorf("Session is %d bytes, beyond the 320-byte size class", n)
	}
	if n := unsafe.Sizeof(request{}); n > 48 {
		t.Errorf("request is %d bytes, beyond the 48-byte size class", n)
	}
	h := newHarness(t, nil)
	sid, _, _ := h.open(10, 1, "")
	s, _ := h.h.reg.Get(sid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.more != nil {
		t.Fatal("a session with one stream has a streams record")
	}
}

// TestAddStreamDialHoldsNoLock: the add-stream dial (§16.3) runs without
// the session's lock, so a later request is processed meanwhile (its
// payload reaches the first stream at once); but its answer waits for the
// add-stream answer, which comes first (§8: answers in rid order), when
// the dial gives up after the dial timeout. On synctest's fake clock.
func TestAddStreamDialHoldsNoLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := slowDial(t) // a server that never answers
		sid := f.create("wait='60' hold='1'")
		up := <-f.up.Conns
		<-up.Received // its header
		start := time.Now()

		add := answeredLater(f.start(body(2, sid, " to='slow.example'", "")))
		synctest.Wait() // the dial is blocked
		send := answeredLater(f.start(body(3, sid, "", `<message xmlns='jabber:client' id='during'/>`)))
		synctest.Wait()
		select {
		case el := <-up.Received:
			if !strings.Contains(string(el.Raw), "during") {
				t.Fatalf("first stream got %s", el.Raw)
			}
		default:
			t.Fatal("rid 3's payload did not reach the server while the dial ran")
		}
		up.Push(t, `<message id='reply'/>`)
		synctest.Wait()
		select {
		case <-add:
			t.Fatal("add-stream answered before its dial ended")
		case r := <-send:
			t.Fatalf("rid 3 answered before rid 2: %v", r.Attr)
		default:
		}

		r2 := <-add
		if d := time.Since(start); d != 10*time.Second {
			t.Fatalf("add-stream answered after %v, want the dial timeout of 10s", d)
		}
		if r2.SelectAttrValue("type", "") != "terminate" || r2.SelectAttrValue("condition", "") != "remote-connection-failed" {
			t.Fatalf("add-stream answered %v", r2.Attr)
		}
		r3 := <-send
		if r3.FindElement("./message") == nil {
			t.Fatalf("rid 3 answered without the reply: %v", r3.Attr)
		}
	})
}

// slowDial is a fake-clock handler that serves slow.example, whose dial
// waits until the returned function is called.
func slowDial(t *testing.T) (f *fakeClock, release func()) {
	ch := make(chan struct{})
	f = newFakeClock(t, func(c *Config) {
		d := c.Domains.Dialer
		pipe := d.DialContext
		d.Routes["slow.example"] = []string{"slow:5222"}
		c.Domains.Served = append(c.Domains.Served, "slow.example")
		c.DialTimeout = 10 * time.Second
		d.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "slow:5222" {
				select {
				case <-ch:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return pipe(ctx, network, addr)
		}
	})
	return f, func() { close(ch) }
}

// answeredLater runs get in the background; the channel gets its answer.
func answeredLater(get func() *etree.Element) chan *etree.Element {
	ch := make(chan *etree.Element, 1)
	go func() { ch <- get() }()
	return ch
}

// streamOf is an answer's unqualified 'stream' attribute (etree's
// SelectAttrValue would also match the xmlns:stream declaration).
func streamOf(el *etree.Element) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == "stream" {
			return a.Value
		}
	}
	return ""
}

// TestResentRequestBehindADial: §14.3, a copy of a request held while an
// add-stream dial runs (§16.3) takes the original's place with what
// processing settled for the rid: the copy of the add-stream request
// gets the answer naming the new stream, and the copy of a request
// whose answer was fixed behind the dial (a refused add-stream) gets that
// answer, both as soon as the dial ends (not after 'wait'); the
// original copy gets the recoverable error. On synctest's fake clock.
func TestResentRequestBehindADial(t *testing.T) {
	tests := []struct {
		name     string
		third    string // attributes of rid 3, sent while the dial runs; "" sends none
		resend   uint64
		wantType string
		wantCond string
		wantFrom string
	}{
		{"add-stream resent while it dials", "", 2, "", "", "slow.example"},
		{"fixed refusal resent behind the dial", " to='elsewhere.example'", 3, "terminate", "host-unknown", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, release := slowDial(t)
				sid := f.create("wait='60' hold='1'")
				up := <-f.up.Conns
				<-up.Received // its header
				attrs := map[uint64]string{2: " to='slow.example'", 3: tt.third}
				first := map[uint64]chan *etree.Element{}
				for rid := uint64(2); rid <= 3; rid++ {
					if attrs[rid] == "" {
						continue
					}
					first[rid] = answeredLater(f.start(body(rid, sid, attrs[rid], "")))
					synctest.Wait()
				}
				again := answeredLater(f.start(body(tt.resend, sid, attrs[tt.resend], "")))
				synctest.Wait()
				release()
				synctest.Wait()
				var r *etree.Element
				select {
				case r = <-again:
				default:
					t.Fatal("the copy was not answered when the dial ended")
				}
				if got := r.SelectAttrValue("type", ""); got != tt.wantType {
					t.Fatalf("the copy answered type %q, want %q: %v", got, tt.wantType, r.Attr)
				}
				if r.SelectAttrValue("condition", "") != tt.wantCond || r.SelectAttrValue("from", "") != tt.wantFrom || streamOf(r) == "" {
					t.Fatalf("the copy answered %v, want condition %q, from %q and a stream name", r.Attr, tt.wantCond, tt.wantFrom)
				}
				if o := <-first[tt.resend]; o.SelectAttrValue("type", "") != "error" {
					t.Fatalf("the original copy answered %v, want the recoverable error", o.Attr)
				}
				if tt.resend != 2 {
					if a := <-first[2]; streamOf(a) == "" || a.SelectAttrValue("from", "") != "slow.example" {
						t.Fatalf("add-stream answered %v", a.Attr)
					}
				}
			})
		})
	}
}

// TestAnswersWaitForADial: §8, answers go out in rid order, so a request
// that would be answered at once, a pause (§10) or one whose 'ack' gets a
// report (§9.2), waits for an earlier add-stream request whose dial runs
// (§16.3), and is answered when the dial ends. On synctest's fake clock.
func TestAnswersWaitForADial(t *testing.T) {
	tests := []struct {
		name   string
		attrs  string // of rid 4, sent while rid 3's dial runs
		report string // the 'report' rid 4's answer carries
	}{
		{"pause", " ack='2' pause='10'", ""},
		{"report", " ack='1'", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, release := slowDial(t)
				sid := f.create("wait='60' hold='1' ack='1'")
				up := <-f.up.Conns
				<-up.Received // its header
				up.Push(t, `<message id='first'/>`)
				if r := f.do(body(2, sid, " ack='1'", "")); r.FindElement("./message") == nil {
					t.Fatalf("rid 2 answered %v", r.Attr)
				}
				time.Sleep(2 * time.Second) // beyond the report grace
				add := answeredLater(f.start(body(3, sid, " ack='1' to='slow.example'", "")))
				synctest.Wait()
				later := answeredLater(f.start(body(4, sid, tt.attrs, "")))
				synctest.Wait()
				select {
				case r := <-later:
					t.Fatalf("rid 4 answered ahead of rid 3's dial: %v", r.Attr)
				case r := <-add:
					t.Fatalf("rid 3 answered before its dial ended: %v", r.Attr)
				default:
				}
				release()
				synctest.Wait()
				if r := <-add; streamOf(r) == "" || r.SelectAttrValue("from", "") != "slow.example" {
					t.Fatalf("add-stream answered %v", r.Attr)
				}
				r := <-later
				if r.SelectAttrValue("type", "") != "" || r.SelectAttrValue("report", "") != tt.report {
					t.Fatalf("rid 4 answered %v, want report %q", r.Attr, tt.report)
				}
			})
		})
	}
}

// TestAddStreamDialWaitsOnNoRequest: the add-stream dial (§16.3) runs
// in a goroutine of its own, not on that of the request that processed
// the add-stream request: here rid 3 asks for a stream ahead of its turn,
// so rid 2's handling processes it, and rid 2's own answer, the data
// queued for it, is written at once, not when the dial ends. On
// synctest's fake clock.
func TestAddStreamDialWaitsOnNoRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, release := slowDial(t)
		sid := f.create("wait='60' hold='1'")
		up := <-f.up.Conns
		<-up.Received // its header
		up.Push(t, `<message id='ready'/>`)
		synctest.Wait()
		add := answeredLater(f.start(body(3, sid, " to='slow.example'", "")))
		synctest.Wait() // ahead of its turn: waits for rid 2
		poll := answeredLater(f.start(body(2, sid, "", "")))
		synctest.Wait()
		select {
		case r := <-poll:
			if r.FindElement("./message") == nil {
				t.Fatalf("rid 2 answered %v without the data queued", r.Attr)
			}
		default:
			t.Fatal("rid 2's answer waits for rid 3's dial")
		}
		release()
		synctest.Wait()
		if r := <-add; streamOf(r) == "" || r.SelectAttrValue("from", "") != "slow.example" {
			t.Fatalf("add-stream answered %v", r.Attr)
		}
	})
}
