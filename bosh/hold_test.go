package bosh

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"boshd/xmppconn"
)

// waitParked waits until n requests are parked on taken-over connections.
func (h *harness) waitParked(n int) {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for h.h.held.Open() != n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d requests parked, want %d", h.h.held.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rawPost(body string) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nOrigin: https://chat.example\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// TestHeldRequestIsParked: an HTTP/1.1 request held for upstream data is
// parked (no net/http goroutine), answered with the stanza and the headers
// of any answer (CORS, Cache-Control, Content-Type), and its keep-alive
// connection serves the next request.
func TestHeldRequestIsParked(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	nc, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	io.WriteString(nc, rawPost(body(11, sid, "", "")))
	h.waitParked(1)
	up.Push(t, "<message from='a@localhost' to='b@localhost'><body>hi</body></message>")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), "<body>hi</body>") {
		t.Fatalf("parked request answered %s", raw)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin": "https://chat.example",
		"Vary":                        "Origin",
		"Cache-Control":               "no-store, no-cache, must-revalidate",
		"Content-Type":                "text/xml; charset=utf-8",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	// The same connection, handed back to the server, carries the next
	// request (an immediate answer: it carries a payload).
	io.WriteString(nc, rawPost(body(12, sid, "", "<presence xmlns='jabber:client'/>")))
	if el := up.Next(t); el.Kind != xmppconn.KindStanza {
		t.Fatalf("upstream got %v", el.Kind)
	}
	h.waitParked(1)
	if err := h.h.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	if !strings.Contains(string(raw), "system-shutdown") || !resp.Close {
		t.Fatalf("parked request at shutdown answered %s (close %v)", raw, resp.Close)
	}
}

// TestClientGoneWhileParked: TestClientGoneWhileHeld for a parked request:
// its client hanging up answers it (empty, cached) at once, not at the end
// of its 'wait', and a resent copy gets the cached answer.
func TestClientGoneWhileParked(t *testing.T) {
	h := newHarness(t, nil)
	sid, _, _ := h.open(10, 10, "")
	nc, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(nc, rawPost(body(11, sid, "", "")))
	h.waitParked(1)
	nc.Close()
	h.waitParked(0)
	start := time.Now()
	r := h.post(body(11, sid, "", ""))
	if r.status != 200 || r.attr("type") != "" || len(r.root.ChildElements()) != 0 {
		t.Fatalf("resent rid 11 answered %s, want the cached empty answer", r.raw)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("resent rid 11 answered after %v, want at once from the cache", d)
	}
}

// TestPanicInParkedWaitTimerEndsOneSession: the 'wait' timer of a parked
// request runs on a goroutine no request owns; a panic there (here in the
// log line of the session it ends: a request ahead of its turn whose
// missing rid never came) ends that session only, under relay.Recover,
// instead of the process. The parked request still gets its answer.
func TestPanicInParkedWaitTimerEndsOneSession(t *testing.T) {
	h := newHarness(t, panickyLog("never arrived"))
	sid, _, _ := h.open(10, 1, "")
	nc, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, rawPost(body(12, sid, "", ""))) // rid 11 never comes
	h.waitParked(1)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(raw), "item-not-found") {
		t.Fatalf("parked request ahead of its turn answered %s, want item-not-found", raw)
	}
	// The answer is written before the session is retired: give it a
	// moment.
	for deadline := time.Now().Add(3 * time.Second); h.h.Sessions() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions left after the panic", h.h.Sessions())
		}
	}
	other, _, _ := h.open(20, 10, "")
	if r := h.post(body(21, other, " type='terminate'", "")); r.attr("condition") != "" {
		t.Fatalf("another session answered %s", r.raw)
	}
}

// TestParkedCostsNoMoreWhenCompressionIsOff pins the per-session cost of
// a parked request (issue 12): with compression off, parked carries no
// copy of the request's Accept-Encoding and stays in its 48-byte size
// class.
func TestParkedCostsNoMoreWhenCompressionIsOff(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("size classes measured on 64-bit platforms")
	}
	if n := unsafe.Sizeof(parked{}); n > 48 {
		t.Errorf("parked is %d bytes, beyond the 48-byte size class", n)
	}
}
