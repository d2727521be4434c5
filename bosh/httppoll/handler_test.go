package httppoll

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
)

// TestLogin walks the XMPP login of RFC 6120 through the endpoint: stream
// header, SASL, stream restart, resource binding, and a stanza each way.
func TestLogin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		r := p.post("0," + clientHeader)
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(r.id) {
			t.Fatalf("session identifier %q: want 32 hex digits (XEP-0025 §3 allows [A-Za-z0-9:-])", r.id)
		}
		if r.body != serverHeader+serverFeatures {
			t.Fatalf("first answer %q", r.body)
		}
		if r.interval != 1 {
			t.Fatalf("X-Poll-Interval %d, want HeldPollGap 1 (empty polls are held)", r.interval)
		}
		f := p.nextUp()
		if f == nil {
			t.Fatal("no upstream opened")
		}
		if h := f.hdr; h.To != "example.com" || h.From != "alice@example.com" || h.Lang != "en" || h.Version != "1.0" {
			t.Fatalf("upstream opened with %+v", h)
		}
		id := r.id

		auth := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>"
		if r := p.post(id + "," + auth); r.id != id || r.body != "" {
			t.Fatalf("auth answered %s %q", r.id, r.body)
		}
		if got := f.sentText(); got != auth {
			t.Fatalf("forwarded %q, want %q", got, auth)
		}
		success := "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
		f.stanza(success)
		if r := p.post(id + ","); r.body != success {
			t.Fatalf("poll after auth got %q", r.body)
		}

		// RFC 6120 §6.4.6: the client restarts the stream with a new header.
		p.post(id + "," + strings.TrimPrefix(clientHeader, "<?xml version='1.0'?>"))
		if sent := f.sentText(); f.restarts != 1 || sent != "" {
			t.Fatalf("restart: %d restarts, header must not be forwarded as a stanza", f.restarts)
		}
		// The server answers the new header with a new one (id='stream-2')
		// and its features.
		if r := p.post(id + ","); !strings.Contains(r.body, "id='stream-2'") || !strings.HasSuffix(r.body, "</stream:features>") {
			t.Fatalf("restarted stream: %q", r.body)
		}

		bind := "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
		p.post(id + "," + bind)
		if got := f.sentText(); got != bind {
			t.Fatalf("forwarded %q", got)
		}
		msg := "<message from='bob@example.com/x' to='alice@example.com/r'><body>hi</body></message>"
		f.stanza(msg)
		if r := p.post(id + ","); r.body != msg {
			t.Fatalf("got %q", r.body)
		}
	})
}

// TestSplitElement: XEP-0025 §3, "not required to be a full XML document or
// XML fragment": an element cut across polls is forwarded once whole.
func TestSplitElement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		p.post(id + ",<message to='bob@example.com'><bo")
		if got := f.sentText(); got != "" {
			t.Fatalf("forwarded half an element: %q", got)
		}
		p.post(id + ",dy>a, b; c</body></message><presence/><iq")
		if got := f.sentText(); got != "<message to='bob@example.com'><body>a, b; c</body></message><presence/>" {
			t.Fatalf("forwarded %q", got)
		}
		p.post(id + ", type='get' id='1'/>")
		if got := f.sentText(); got != "<iq type='get' id='1'/>" {
			t.Fatalf("forwarded %q", got)
		}
	})
}

// TestHeaderSplit: the client's stream header may itself be split; the
// upstream stream opens once it is whole.
func TestHeaderSplit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		r := p.post("0," + clientHeader[:40])
		if strings.HasSuffix(r.id, ":0") || r.body != "" {
			t.Fatalf("first half: %s %q", r.id, r.body)
		}
		if p.opened() {
			t.Fatal("upstream opened before the header was complete")
		}
		r2 := p.post(r.id + "," + clientHeader[40:])
		if r2.id != r.id || r2.body != serverHeader+serverFeatures {
			t.Fatalf("second half: %s %q", r2.id, r2.body)
		}
	})
}

// TestKeys: XEP-0025 §4: each request's key hashes to the previous one; a
// wrong key gets -3:0, is not processed and does not extend the session;
// new_key starts a new chain.
func TestKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.SessionTimeout = time.Minute })
		chain := KeyChain("seed-one", 4)  // K(4), K(3), K(2), K(1)
		chain2 := KeyChain("seed-two", 3) // a new chain
		r := p.post("0;" + chain[0] + "," + clientHeader)
		id, f := r.id, p.nextUp()

		if r := p.post(id + ";" + chain[1] + ",<presence/>"); r.id != id {
			t.Fatalf("good key answered %s", r.id)
		}
		if got := f.sentText(); got != "<presence/>" {
			t.Fatalf("forwarded %q", got)
		}
		// Replaying the key just used, skipping one, or sending none: -3:0.
		for _, bad := range []string{id + ";" + chain[1] + ",<message/>", id + ";" + chain[3] + ",<message/>", id + ",<message/>"} {
			if r := p.post(bad); r.id != IDKeySequence {
				t.Fatalf("%q answered %s, want -3:0", bad, r.id)
			}
		}
		if got := f.sentText(); got != "" {
			t.Fatalf("a request with a bad key was forwarded: %q", got)
		}
		// The session is still there for its rightful client.
		if r := p.post(id + ";" + chain[2] + ";" + chain2[0] + ",<presence type='away'/>"); r.id != id {
			t.Fatalf("re-keying request answered %s", r.id)
		}
		// The old chain is over; the new one goes on.
		if r := p.post(id + ";" + chain[3] + ","); r.id != IDKeySequence {
			t.Fatalf("old chain after re-keying answered %s", r.id)
		}
		if r := p.post(id + ";" + chain2[1] + ",<presence/>"); r.id != id {
			t.Fatalf("new chain answered %s", r.id)
		}
		if got := f.sentText(); got != "<presence type='away'/><presence/>" {
			t.Fatalf("forwarded %q", got)
		}

		// Bad keys do not keep the session alive (§4): after the timeout
		// with only bad requests, the session is gone.
		for range 6 {
			time.Sleep(15 * time.Second)
			p.post(id + ";" + chain2[0] + ",")
		}
		synctest.Wait()
		if !f.isClosed() {
			t.Fatal("bad-key requests kept the session alive")
		}
		if r := p.post(id + ";" + chain2[2] + ","); r.id != IDUnknown {
			t.Fatalf("expired session answered %s, want 0:0", r.id)
		}
	})
}

// TestNoKeys: a session whose first request had no key never asks for one.
func TestNoKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		if r := p.post(id + ",<presence/>"); r.id != id {
			t.Fatalf("answered %s", r.id)
		}
		if r := p.post(id + ";whatever,<presence/>"); r.id != id {
			t.Fatalf("answered %s", r.id)
		}
		if got := f.sentText(); got != "<presence/><presence/>" {
			t.Fatalf("forwarded %q", got)
		}
	})
}

func TestUnknownSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		for _, body := range []string{"0123456789abcdef0123456789abcdef,", "7776:2054,<presence/>", "abc;key,"} {
			if r := p.post(body); r.id != IDUnknown || r.interval != -1 {
				t.Errorf("%q answered %s (interval %d), want 0:0", body, r.id, r.interval)
			}
		}
	})
}

func TestBadRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		for _, body := range []string{"", "no comma at all", "a_b,<presence/>", "0;,", "ID=0%2C"} {
			if r := p.post(body); r.id != IDBadRequest {
				t.Errorf("%q answered %s, want -2:0", body, r.id)
			}
		}
		if p.h.Sessions() != 0 {
			t.Fatal("a bad request made a session")
		}
		// XML that is not a well-formed stream ends the session.
		id, f := p.open()
		if r := p.post(id + ",<message><body>x</message>"); r.id != IDBadRequest {
			t.Fatalf("mismatched tags answered %s, want -2:0", r.id)
		}
		synctest.Wait()
		if !f.isClosed() || f.sentText() != "" {
			t.Fatal("upstream not closed, or broken XML forwarded")
		}
		if r := p.post(id + ","); r.id != IDUnknown {
			t.Fatalf("after the end: %s", r.id)
		}
		// A stream header whose prefix is not bound to the streams
		// namespace (RFC 6120 §4.8.1) opens nothing.
		wrongNS := strings.Replace(clientHeader, "http://etherx.jabber.org/streams", "urn:not-streams", 1)
		if r := p.post("0," + wrongNS); r.id != IDBadRequest {
			t.Fatalf("header in the wrong namespace answered %s, want -2:0", r.id)
		}
		synctest.Wait()
		if p.opened() || p.h.Sessions() != 0 {
			t.Fatal("a header in the wrong namespace opened an upstream stream or kept a session")
		}
	})
}

// TestRefusedDomain: the client's 'to' is checked against the allowlist
// before anything is dialled.
func TestRefusedDomain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		for _, tc := range []struct{ header, cond string }{
			{strings.Replace(clientHeader, "example.com'", "elsewhere.org'", 1), "host-unknown"},
			{strings.Replace(clientHeader, "to='example.com' ", "", 1), "improper-addressing"},
		} {
			r := p.post("0," + tc.header)
			if r.id != IDUnknown || !strings.Contains(r.body, "<"+tc.cond+" ") {
				t.Errorf("answered %s %q, want 0:0 with %s", r.id, r.body, tc.cond)
			}
		}
		if p.opened() || p.h.Sessions() != 0 {
			t.Fatal("a refused domain was dialled or left a session")
		}
		p.openErr = errBoom
		if r := p.post("0," + clientHeader); r.id != IDServerError || !strings.Contains(r.body, "remote-connection-failed") {
			t.Fatalf("unreachable server answered %s %q", r.id, r.body)
		}
		if p.h.Sessions() != 0 {
			t.Fatal("a failed dial left a session")
		}
		// The server refuses the stream itself: its own error is relayed,
		// in a document the client's XML parser can read.
		refused := "<stream:error><host-gone xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
		p.openErr = nil
		p.up.Features = refused + "</stream:stream>"
		r := p.post("0," + clientHeader)
		if r.id != IDServerError || !strings.Contains(r.body, refused) {
			t.Fatalf("refused stream answered %s %q", r.id, r.body)
		}
		if err := xml.Unmarshal([]byte(r.body), new(struct{})); err != nil {
			t.Fatalf("refused stream document is not well-formed: %v\n%s", err, r.body)
		}
		if p.h.Sessions() != 0 {
			t.Fatal("a refused stream left a session")
		}
	})
}

// TestStartTLSRefused: boshd negotiates TLS upstream itself; a client's
// <starttls/> is refused (RFC 6120 §5.4.2.2) and never reaches the server.
func TestStartTLSRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		r := p.post(id + ",<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		if r.id != id || r.body != "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>" {
			t.Fatalf("answered %s %q", r.id, r.body)
		}
		synctest.Wait()
		if got := f.sentText(); got != "" || !f.isClosed() {
			t.Fatalf("forwarded %q, closed %v", got, f.isClosed())
		}
	})
}

// TestCompressRefused: compression would hide the stream from boshd; the
// client is told it failed and goes on uncompressed (XEP-0138 §3).
func TestCompressRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		r := p.post(id + ",<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress><presence/>")
		if r.id != id || r.body != string(compressFailure) {
			t.Fatalf("answered %s %q", r.id, r.body)
		}
		if got := f.sentText(); got != "<presence/>" {
			t.Fatalf("forwarded %q", got)
		}
	})
}

// TestClientEndsStream: XEP-0025 §3: a client disconnects by closing its
// stream; the answer closes the client's side too and the session is gone.
func TestClientEndsStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		f.stanza("<message><body>late</body></message>")
		r := p.post(id + ",<presence type='unavailable'/></stream:stream>")
		if r.id != id || r.body != "<message><body>late</body></message></stream:stream>" {
			t.Fatalf("answered %s %q", r.id, r.body)
		}
		synctest.Wait()
		if got := f.sentText(); got != "<presence type='unavailable'/>" || !f.isClosed() {
			t.Fatalf("forwarded %q, upstream closed %v", got, f.isClosed())
		}
		if r := p.post(id + ","); r.id != IDUnknown {
			t.Fatalf("after the end: %s", r.id)
		}
		if !p.logged(logrus.InfoLevel, "session ended by the client") {
			t.Fatal("no log line")
		}
	})
}

// TestExpiry: XEP-0025 §3: a session without a successful request for the
// session timeout ends, its upstream stream is closed (so the server
// bounces or stores what was on its way), and its identifier gets 0:0.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.SessionTimeout = 5 * time.Minute })
		id, f := p.open()
		time.Sleep(4 * time.Minute)
		p.post(id + ",<presence/>") // extends
		time.Sleep(4 * time.Minute)
		synctest.Wait()
		if f.isClosed() {
			t.Fatal("session ended although a request came within the timeout")
		}
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if !f.isClosed() {
			t.Fatal("upstream not closed after the session timeout")
		}
		if r := p.post(id + ","); r.id != IDUnknown {
			t.Fatalf("expired session answered %s", r.id)
		}
		if !p.logged(logrus.InfoLevel, "session expired") {
			t.Fatal("no log line")
		}
	})
}

// TestUpstreamEnds: when the server ends the stream, the client gets what
// it sent, then the end of the stream; the identifier is dead after that.
func TestUpstreamEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		streamErr := "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
		f.stanza(streamErr + "</stream:stream>")
		r := p.post(id + ",")
		if r.id != id || r.body != streamErr+"</stream:stream>" {
			t.Fatalf("answered %s %q", r.id, r.body)
		}
		if r := p.post(id + ","); r.id != IDUnknown {
			t.Fatalf("after the end: %s", r.id)
		}
	})
}

// TestQueueOverflow: bytes waiting for the next poll are bounded; overflow
// ends the session with a clear log line.
func TestQueueOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.MaxQueueBytes = 100 })
		id, f := p.open()
		first := "<message><body>" + strings.Repeat("a", 40) + "</body></message>"
		f.stanza(first)
		f.stanza(first) // over 100 bytes
		r := p.post(id + ",")
		if r.id != id || !strings.HasPrefix(r.body, first) || !strings.Contains(r.body, "policy-violation") || !strings.HasSuffix(r.body, "</stream:stream>") {
			t.Fatalf("answered %s %q", r.id, r.body)
		}
		if !p.logged(logrus.WarnLevel, "more than 100 bytes waited for the client's next poll") {
			t.Fatalf("no clear log line; got %v", p.logs.AllEntries())
		}
		if r := p.post(id + ","); r.id != IDUnknown {
			t.Fatalf("after overflow: %s", r.id)
		}
	})
}

func TestSessionLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.MaxSessions = 1 })
		p.open()
		if r := p.post("0," + clientHeader); r.id != IDServerError {
			t.Fatalf("second session answered %s, want -1:0", r.id)
		}
	})
}

func TestHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		rec := httptest.NewRecorder()
		p.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/http-poll", nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "XEP-0025") {
			t.Fatalf("GET: %d %q", rec.Code, rec.Body.String())
		}
		rec = httptest.NewRecorder()
		p.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/http-poll", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("PUT: %d", rec.Code)
		}
		// A body over the limit is refused before it is read whole, and
		// still with 200 and an error identifier.
		p2 := newHarness(t, func(c *Config) { c.MaxBodyBytes = 1024 })
		if r := p2.post("0," + strings.Repeat(" ", 2000)); r.id != IDBadRequest {
			t.Fatalf("oversized body answered %s", r.id)
		}
		id, _ := p.open()
		r := p.post(id + ",<presence/>")
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Fatalf("Cache-Control %q", cc)
		}
	})
}

// TestShutdown: a held poll is answered with a system-shutdown stream
// error and the upstream streams are closed.
func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		time.Sleep(time.Minute)
		p.post(id + ",") // answered at once: the interval has long passed
		got := make(chan reply, 1)
		go func() { got <- p.post(id + ",") }()
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("an idle session's empty poll was answered at once")
		}
		shut := time.Now()
		if err := p.h.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := <-got
		// The session's end releases the hold; under synctest the clock
		// would jump to the hold timer otherwise.
		if waited := time.Since(shut); waited != 0 {
			t.Fatalf("held poll answered %v after Shutdown", waited)
		}
		if r.id != id || !strings.Contains(r.body, "system-shutdown") || !strings.HasSuffix(r.body, "</stream:stream>") {
			t.Fatalf("held poll answered %s %q", r.id, r.body)
		}
		if !f.isClosed() {
			t.Fatal("upstream not closed")
		}
		if r := p.post("0," + clientHeader); r.id != IDServerError {
			t.Fatalf("new session during shutdown answered %s", r.id)
		}
	})
}

// panicky is an upstream whose Send panics, standing in for a bug.
type panicky struct{ upstream }

func (panicky) Send([]byte, int) error { panic("bug in the upstream") }

// TestPanicEndsOneSession: a panic while a request is handled ends that
// session with -1:0; the others go on.
func TestPanicEndsOneSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		good, gf := p.open()
		bad, _ := p.open()
		// Swap the second session's upstream for one that panics.
		s, _ := p.h.reg.Get(mustRegistryID(t, bad))
		s.mu.Lock()
		s.up = panicky{s.up}
		s.mu.Unlock()
		if r := p.post(bad + ",<presence/>"); r.id != IDServerError {
			t.Fatalf("panicking request answered %s, want -1:0", r.id)
		}
		if r := p.post(bad + ","); r.id != IDUnknown {
			t.Fatalf("after the panic the session answered %s, want 0:0", r.id)
		}
		if r := p.post(good + ",<presence/>"); r.id != good || gf.sentText() != "<presence/>" {
			t.Fatalf("the other session answered %s", r.id)
		}
		if !p.logged(logrus.ErrorLevel, "request panicked") {
			t.Fatal("panic not logged")
		}
	})
}

func mustRegistryID(t *testing.T, id string) string {
	t.Helper()
	r, ok := registryID(id)
	if !ok {
		t.Fatalf("%q is not an identifier boshd issues", id)
	}
	return r
}

// panicHook makes the logger panic on a message, standing in for a bug in
// code that runs on a timer's goroutine, which no request owns.
type panicHook struct{ msg string }

func (panicHook) Levels() []logrus.Level { return logrus.AllLevels }

func (p panicHook) Fire(e *logrus.Entry) error {
	if strings.Contains(e.Message, p.msg) {
		panic("test: panic while logging " + p.msg)
	}
	return nil
}

// TestPanicInExpiryTimerEndsOneSession: a panic in the keep-alive timer's
// callback ends that session (its upstream closed), not the process.
func TestPanicInExpiryTimerEndsOneSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) {
			c.SessionTimeout = time.Minute
			c.Log.(*logrus.Logger).AddHook(panicHook{"session expired"})
		})
		id, f := p.open()
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if !f.isClosed() {
			t.Fatal("upstream not closed after the panic")
		}
		if r := p.post(id + ","); r.id != IDUnknown {
			t.Fatalf("session answered %s after the panic", r.id)
		}
		if !p.logged(logrus.ErrorLevel, "expiry timer panicked") {
			t.Fatal("panic not logged")
		}
	})
}

// TestCORS: with cors_origins set, the XEP-0025 endpoint answers the
// browser's preflight and marks its answers, as the BOSH one does (it
// used to answer OPTIONS with 405 and send no CORS header at all).
func TestCORS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.CORSOrigins = []string{"*"} })
		req := httptest.NewRequest(http.MethodOptions, "/http-poll", nil)
		req.Header.Set("Origin", "https://chat.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		p.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://chat.example" {
			t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
		}
		req = httptest.NewRequest(http.MethodPost, "/http-poll", strings.NewReader("0,"+clientHeader))
		req.Header.Set("Origin", "https://chat.example")
		rec = httptest.NewRecorder()
		p.h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "https://chat.example" ||
			!strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "X-Poll-Interval") {
			t.Fatalf("POST: %d %v", rec.Code, rec.Header())
		}
	})
}
