package client

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig is a session configuration against f with instant resends
// and a pool of the test's own.
func testConfig(t *testing.T, f *fakeCM) Config {
	p := &Pool{}
	t.Cleanup(p.CloseIdle)
	return Config{URL: f.url(), Domain: "example.net", Pool: p, FirstRID: 1000,
		Backoff: func(int) time.Duration { return 0 }}
}

// writeLog records the rids of requests in the order the pool wrote them.
type writeLog struct {
	mu   sync.Mutex
	rids []uint64
}

func logWrites(t *testing.T, c *Config) *writeLog {
	l := &writeLog{}
	c.Pool.wrote = func(body []byte) {
		b, err := ParseBody(body)
		if err != nil {
			t.Errorf("wrote a malformed body: %v", err)
			return
		}
		l.mu.Lock()
		l.rids = append(l.rids, ridOf(t, b))
		l.mu.Unlock()
	}
	return l
}

// checkConsecutive fails unless the first writes of rids are consecutive
// (repeats, i.e. resends, are allowed).
func (l *writeLog) checkConsecutive(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var max uint64
	for i, r := range l.rids {
		if i > 0 && r > max && r != max+1 {
			t.Errorf("rid %d written after rid %d: writes %v", r, max, l.rids)
			return
		}
		if r > max {
			max = r
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// loggedIn connects to f and logs in.
func loggedIn(t *testing.T, f *fakeCM, c Config) *Session {
	t.Helper()
	ctx := testContext(t)
	s, err := Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Login(ctx, f.user, f.pass, "PLAIN", "r"); err != nil {
		t.Fatal(err)
	}
	return s
}

// running starts Run and stops it (and the session) at cleanup, failing
// if Run outlives the session.
func running(t *testing.T, s *Session) <-chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		done <- s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
	return done
}

// next reads the next stanza from s.
func next(t *testing.T, s *Session) []byte {
	t.Helper()
	select {
	case st, ok := <-s.Receive():
		if !ok {
			t.Fatalf("Receive closed: %v", s.Err())
		}
		return st
	case <-time.After(5 * time.Second):
		t.Fatal("no stanza within 5 s")
	}
	return nil
}

func ridOf(t *testing.T, b *Body) uint64 {
	t.Helper()
	r, ok := b.Uint("rid")
	if !ok {
		t.Fatalf("request without numeric rid: %s", b.Raw)
	}
	return r
}

func TestCreationRequestAttributes(t *testing.T) {
	hexKey := regexp.MustCompile(`^[0-9a-f]{40}$`)
	tests := []struct {
		name   string
		config func(*Config)
		want   map[string]string // "" means absent; "hexkey" a 40-digit hex key
	}{
		{"Strophe defaults", func(*Config) {}, map[string]string{
			"rid": "1000", "to": "example.net", "xml:lang": "en", "wait": "60", "hold": "1",
			"content": "text/xml; charset=utf-8", "ver": "1.6", "xmpp:version": "1.0",
			"xmlns": NSHTTPBind, "xmlns:xmpp": NSXBOSH,
			"sid": "", "route": "", "ack": "", "newkey": "", "key": "",
		}},
		{"custom", func(c *Config) {
			c.Wait, c.Hold, c.Ver, c.Lang, c.Route = 30, 2, "1.11", "fr", "xmpp:example.net:5222"
			c.Content = "text/plain"
		}, map[string]string{
			"wait": "30", "hold": "2", "ver": "1.11", "xml:lang": "fr", "route": "xmpp:example.net:5222",
			"content": "text/plain",
		}},
		{"acks", func(c *Config) { c.Ack = true }, map[string]string{"ack": "1"}},
		{"keys", func(c *Config) { c.Keys = true }, map[string]string{"newkey": "hexkey", "key": ""}},
		{"overrides", func(c *Config) {
			c.CreateAttrs = map[string]string{"ver": "", "hold": "0", "from": "alice@example.net", "xml:lang": "de"}
		}, map[string]string{"ver": "", "hold": "0", "from": "alice@example.net", "xml:lang": "de", "wait": "60"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr http.Header
			f := newFakeCM(t, func(f *fakeCM) {
				f.front = func(w http.ResponseWriter, r *http.Request, raw []byte) bool {
					if hdr == nil {
						hdr = r.Header.Clone()
					}
					return false
				}
			})
			c := testConfig(t, f)
			c.Header = http.Header{"Origin": {"https://app.example"}}
			tt.config(&c)
			if _, err := Connect(testContext(t), c); err != nil {
				t.Fatal(err)
			}
			create := f.reqs()[0]
			for k, want := range tt.want {
				got, ok := create.Attrs[k]
				switch {
				case want == "" && ok:
					t.Errorf("%s='%s' sent, want no such attribute", k, got)
				case want == "hexkey" && !hexKey.MatchString(got):
					t.Errorf("%s='%s', want 40 hex digits", k, got)
				case want != "" && want != "hexkey" && got != want:
					t.Errorf("%s='%s', want '%s'", k, got, want)
				}
			}
			wantCT := c.Content
			if wantCT == "" {
				wantCT = DefaultContentType
			}
			if ct := hdr.Get("Content-Type"); ct != wantCT {
				t.Errorf("Content-Type %q, want %q", ct, wantCT)
			}
			if o := hdr.Get("Origin"); o != "https://app.example" {
				t.Errorf("Origin header %q not sent", o)
			}
		})
	}
}

func TestConnect(t *testing.T) {
	t.Run("params and features", func(t *testing.T) {
		f := newFakeCM(t, func(f *fakeCM) { f.createAttrs = " maxpause='120' from='example.net' authid='abc' ack='1000'" })
		s, err := Connect(testContext(t), testConfig(t, f))
		if err != nil {
			t.Fatal(err)
		}
		want := Params{Wait: 2, Hold: 1, Requests: 2, Polling: 2, Inactivity: 30, MaxPause: 120, Ack: 1000,
			Ver: "1.6", From: "example.net", AuthID: "abc", RestartLogic: true}
		if s.Params != want {
			t.Errorf("Params = %+v, want %+v", s.Params, want)
		}
		if s.SID != fakeSID || !bytes.HasPrefix(s.Features, []byte("<stream:features>")) {
			t.Errorf("SID %q, Features %s", s.SID, s.Features)
		}
		if s.RID() != 1001 {
			t.Errorf("RID() = %d after creation with rid 1000, want 1001", s.RID())
		}
	})
	t.Run("features in a later answer", func(t *testing.T) {
		// XEP-0206 §4: a client whose creation response has no features
		// sends empty requests until they come.
		f := newFakeCM(t, func(f *fakeCM) { f.noFeatures = true })
		s, err := Connect(testContext(t), testConfig(t, f))
		if err != nil {
			t.Fatal(err)
		}
		if !isFeatures(s.Features) {
			t.Fatalf("Features = %s", s.Features)
		}
		reqs := f.reqs()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want creation and one poll", len(reqs))
		}
		poll := reqs[1]
		if poll.Attrs["sid"] != fakeSID || ridOf(t, poll) != 1001 || len(poll.Payloads) != 0 {
			t.Errorf("poll for features: %s", poll.Raw)
		}
	})
	t.Run("terminal answer", func(t *testing.T) {
		f := newFakeCM(t)
		f.setHook(func(*fakeCM, *Body, []byte) (int, string, bool) {
			return 200, wrap(" type='terminate' condition='host-unknown'"), true
		})
		_, err := Connect(testContext(t), testConfig(t, f))
		var te *TerminateError
		if !errors.As(err, &te) || te.Condition != "host-unknown" {
			t.Fatalf("Connect = %v, want TerminateError host-unknown", err)
		}
	})
	t.Run("no sid", func(t *testing.T) {
		f := newFakeCM(t)
		f.setHook(func(*fakeCM, *Body, []byte) (int, string, bool) { return 200, wrap(" wait='60'"), true })
		if _, err := Connect(testContext(t), testConfig(t, f)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Connect = %v, want ErrMalformed", err)
		}
	})
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name, mech, pass, resource string
		sessionNeeded              bool
		wantErr                    string // SASL condition, or substring of the error
		wantJID                    string
	}{
		{name: "plain", mech: "PLAIN", pass: "secret", resource: "phone", wantJID: "alice@example.net/phone"},
		{name: "scram", mech: "SCRAM-SHA-1", pass: "secret", resource: "phone", wantJID: "alice@example.net/phone"},
		{name: "server picks resource", mech: "SCRAM-SHA-1", pass: "secret", wantJID: "alice@example.net/fake"},
		{name: "mandatory session", mech: "PLAIN", pass: "secret", resource: "r", sessionNeeded: true, wantJID: "alice@example.net/r"},
		{name: "wrong password plain", mech: "PLAIN", pass: "nope", wantErr: "not-authorized"},
		{name: "wrong password scram", mech: "SCRAM-SHA-1", pass: "nope", wantErr: "not-authorized"},
		{name: "mechanism not offered", mech: "SCRAM-SHA-256", pass: "secret", wantErr: "does not offer SCRAM-SHA-256"},
		{name: "unknown mechanism", mech: "DIGEST-MD5", pass: "secret", wantErr: "unsupported mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCM(t, func(f *fakeCM) { f.sessionNeeded = tt.sessionNeeded })
			ctx := testContext(t)
			s, err := Connect(ctx, testConfig(t, f))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Login(ctx, "alice", tt.pass, tt.mech, tt.resource)
			if tt.wantErr != "" {
				var se *SASLError
				if errors.As(err, &se) {
					if se.Condition != tt.wantErr {
						t.Fatalf("SASL failure %q, want %q", se.Condition, tt.wantErr)
					}
				} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Login = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.JID != tt.wantJID {
				t.Errorf("JID = %q, want %q", s.JID, tt.wantJID)
			}
			var restart *Body
			sessionIQ := false
			for _, r := range f.reqs() {
				if r.Attrs["xmpp:restart"] != "" {
					restart = r
				}
				for _, p := range r.Payloads {
					sessionIQ = sessionIQ || bytes.Contains(p, []byte(NSSession))
				}
			}
			// XEP-0206 §5: restart request with to, xml:lang, xmpp:restart.
			if restart == nil || restart.Attrs["xmpp:restart"] != "true" || restart.Attrs["to"] != "example.net" ||
				restart.Attrs["xml:lang"] != "en" || restart.Attrs["xmlns:xmpp"] != NSXBOSH || len(restart.Payloads) != 0 {
				t.Errorf("restart request: %v", restart)
			}
			if sessionIQ != tt.sessionNeeded {
				t.Errorf("session iq sent: %v, want %v", sessionIQ, tt.sessionNeeded)
			}
		})
	}
}

// TestRIDSequence checks XEP-0124 §14.1: every new request carries the
// previous rid plus one, whichever method sends it, and arrives in order.
func TestRIDSequence(t *testing.T) {
	f := newFakeCM(t, echo)
	c := testConfig(t, f)
	writes := logWrites(t, &c)
	s := loggedIn(t, f, c)
	ctx := testContext(t)
	running(t, s)
	for i := range 20 {
		if err := s.Send(ctx, fmt.Appendf(nil, "<message xmlns='jabber:client' id='m%d'/>", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if got, want := next(t, s), fmt.Sprintf("<message xmlns='jabber:client' id='m%d'/>", i); string(got) != want {
			t.Fatalf("stanza %d = %s, want %s", i, got, want)
		}
	}
	if _, err := s.Request(ctx, map[string]string{"pause": "5"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	writes.checkConsecutive(t)
	reqs := f.reqs()
	seen := map[uint64]bool{}
	var max uint64
	for _, r := range reqs {
		rid := ridOf(t, r)
		if seen[rid] {
			t.Errorf("rid %d sent twice without a failure", rid)
		}
		seen[rid] = true
		max = rid
	}
	if want := 1000 + uint64(len(reqs)) - 1; max != want || len(seen) != len(reqs) {
		t.Errorf("%d requests, highest rid %d, want rids 1000..%d", len(reqs), max, want)
	}
	if last := reqs[len(reqs)-1]; last.Type() != "terminate" {
		t.Errorf("last request %s, want the terminate", last.Raw)
	}
}

// TestKeySequence checks XEP-0124 §15: the fake CM verifies that each key
// hashes to the previous request's key or newkey, across switches to new
// sequences (§15.5).
func TestKeySequence(t *testing.T) {
	f := newFakeCM(t, echo)
	c := testConfig(t, f)
	c.Keys, c.KeyCount = true, 3
	s := loggedIn(t, f, c)
	ctx := testContext(t)
	for range 7 {
		if _, err := s.Request(ctx, nil, []byte("<presence/>")); err != nil {
			t.Fatal(err)
		}
	}
	if errs := f.keyErrs(); len(errs) > 0 {
		t.Fatalf("key errors: %v", errs)
	}
	switches := 0
	for _, r := range f.reqs()[1:] {
		if r.Attrs["key"] == "" {
			t.Errorf("request without key: %s", r.Raw)
		}
		if r.Attrs["newkey"] != "" {
			switches++
		}
	}
	if n := len(f.reqs()); switches != (n-1)/2 {
		t.Errorf("%d key switches in %d requests with 3-key sequences, want %d", switches, n, (n-1)/2)
	}
	// A wrong key is sent as asked, for protocol tests.
	b, err := s.Request(ctx, map[string]string{"key": "0000"}, []byte("<presence/>"))
	if err != nil || b == nil {
		t.Fatal(err)
	}
	if errs := f.keyErrs(); len(errs) != 1 {
		t.Errorf("fake CM saw key errors %q after one bad key, want one", errs)
	}
}

func TestKeyChain(t *testing.T) {
	c := NewKeyChain([]byte("seed"), 5)
	var keys []string
	for {
		k, ok := c.Next()
		if !ok {
			break
		}
		keys = append(keys, k)
	}
	if len(keys) != 5 {
		t.Fatalf("%d keys from a chain of 5", len(keys))
	}
	if keys[4] != hexSHA1("seed") {
		t.Errorf("last key K(1) = %s, want hex(SHA-1(seed))", keys[4])
	}
	for i := 0; i < 4; i++ {
		if hexSHA1(keys[i+1]) != keys[i] {
			t.Errorf("K(%d) = %s is not hex(SHA-1(K(%d)))", 5-i, keys[i], 4-i)
		}
	}
}

// TestAckAttribute checks XEP-0124 §9.2: ack='1' at creation, then the
// highest rid answered in order, omitted when everything is answered.
func TestAckAttribute(t *testing.T) {
	f := newFakeCM(t)
	c := testConfig(t, f)
	c.Ack = true
	s := loggedIn(t, f, c)
	ctx := testContext(t)
	for _, r := range f.reqs()[1:] {
		if _, ok := r.Attrs["ack"]; ok {
			t.Errorf("sequential request carries ack although every answer arrived: %s", r.Raw)
		}
	}
	// A held poll, then a Send: the Send acknowledges up to the rid before
	// the poll.
	running(t, s)
	deadline := time.Now().Add(5 * time.Second)
	for f.heldCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	poll := f.reqs()[len(f.reqs())-1]
	if err := s.Send(ctx, []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	var send *Body
	for _, r := range f.reqs() {
		if len(r.Payloads) == 1 && string(r.Payloads[0]) == "<presence/>" {
			send = r
		}
	}
	if got, want := send.Attrs["ack"], strconv.FormatUint(ridOf(t, poll)-1, 10); got != want {
		t.Errorf("Send during a held poll has ack='%s', want '%s'", got, want)
	}
}

// TestTerminate checks that a type='terminate' answer ends the session with
// its condition (XEP-0124 §17.2): Run returns, Err reports it, Receive is
// closed after the stanzas that came with it, and later calls fail.
func TestTerminate(t *testing.T) {
	for _, cond := range []string{"remote-stream-error", "system-shutdown", "policy-violation", ""} {
		t.Run("condition="+cond, func(t *testing.T) {
			f := newFakeCM(t)
			s := loggedIn(t, f, testConfig(t, f))
			done := running(t, s)
			for f.heldCount() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			attrs := " type='terminate'"
			if cond != "" {
				attrs += " condition='" + cond + "'"
			}
			f.setHook(func(f *fakeCM, b *Body, raw []byte) (int, string, bool) {
				return 200, wrap(attrs, "<message xmlns='jabber:client' id='last'/>",
					"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"), true
			})
			f.push("<message xmlns='jabber:client' id='before'/>")
			var got []string
			for st := range s.Receive() {
				got = append(got, string(st))
			}
			want := []string{"<message xmlns='jabber:client' id='before'/>", "<message xmlns='jabber:client' id='last'/>"}
			if !slices.Equal(got, want) {
				t.Errorf("delivered %q, want %q (the stream error stays in the TerminateError)", got, want)
			}
			var te *TerminateError
			if err := <-done; !errors.As(err, &te) || te.Condition != cond {
				t.Fatalf("Run = %v, want TerminateError %q", err, cond)
			}
			if !bytes.Contains(te.Body.Raw, []byte("<stream:error>")) {
				t.Errorf("TerminateError.Body lacks the stream error: %s", te.Body.Raw)
			}
			if !errors.As(s.Err(), &te) {
				t.Errorf("Err = %v", s.Err())
			}
			if err := s.Send(testContext(t), []byte("<presence/>")); !errors.As(err, &te) {
				t.Errorf("Send after the end = %v, want the TerminateError", err)
			}
			select {
			case <-s.Done():
			default:
				t.Error("Done not closed")
			}
		})
	}
}

// TestRetransmission checks that a request whose answer is lost is sent
// again with the same rid and identical bytes (XEP-0124 §14.3), that a
// recoverable binding error does the same (§17.3), and that 4xx answers
// and exhausted retries end the session.
func TestRetransmission(t *testing.T) {
	const stanza = "<message xmlns='jabber:client' id='x'/>"
	tests := []struct {
		name       string
		fail       func(w http.ResponseWriter) // first attempt(s)
		failures   int
		maxRetries int
		wantErr    string // "" = delivered once
	}{
		{name: "503", fail: status(503), failures: 1},
		{name: "500 twice", fail: status(500), failures: 2},
		{name: "connection closed", fail: hangUp, failures: 1},
		{name: "no answer in time", fail: stall, failures: 1},
		{name: "recoverable binding error", fail: body(wrap(" type='error'")), failures: 2},
		{name: "retries exhausted", fail: status(502), failures: 3, maxRetries: 2, wantErr: "giving up"},
		{name: "no retries", fail: status(503), failures: 1, maxRetries: -1, wantErr: "giving up"},
		{name: "404 voids the session", fail: status(404), failures: 1, wantErr: "HTTP status 404"},
		{name: "malformed answer", fail: body("<html>proxy error</html>"), failures: 1, wantErr: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCM(t, echo)
			c := testConfig(t, f)
			c.MaxRetries = tt.maxRetries
			c.Timeout = 500 * time.Millisecond
			s := loggedIn(t, f, c)
			ctx := testContext(t)
			var mu sync.Mutex
			var attempts [][]byte
			f.setFront(func(w http.ResponseWriter, r *http.Request, raw []byte) bool {
				b, _ := ParseBody(raw)
				if b != nil && len(b.Payloads) == 1 && string(b.Payloads[0]) == stanza {
					mu.Lock()
					attempts = append(attempts, raw)
					n := len(attempts)
					mu.Unlock()
					if n <= tt.failures {
						tt.fail(w)
						return true
					}
				}
				return false
			})
			err := s.Send(ctx, []byte(stanza))
			mu.Lock()
			defer mu.Unlock()
			for i, a := range attempts[1:] {
				if !bytes.Equal(a, attempts[0]) {
					t.Errorf("attempt %d differs from the first:\n%s\n%s", i+2, a, attempts[0])
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Send = %v, want an error with %q", err, tt.wantErr)
				}
				if s.Err() == nil {
					t.Error("session still alive")
				}
				if want := min(tt.failures, max(tt.maxRetries, 0)+1); tt.name != "404 voids the session" && tt.name != "malformed answer" && len(attempts) != want {
					t.Errorf("%d attempts, want %d", len(attempts), want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(attempts) != tt.failures+1 {
				t.Errorf("%d attempts, want %d", len(attempts), tt.failures+1)
			}
			// Delivered once, whatever the number of attempts.
			running(t, s)
			if got := next(t, s); string(got) != stanza {
				t.Fatalf("received %s", got)
			}
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			for st := range s.Receive() {
				t.Errorf("stanza delivered again: %s", st)
			}
		})
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { http.Error(w, "failing on purpose", code) }
}

func body(b string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { writeAnswer(w, 200, b) }
}

func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func stall(http.ResponseWriter) { time.Sleep(800 * time.Millisecond) }

// TestResendEarlierOnRecoverableError checks XEP-0124 §17.3: after a
// type='error' answer the client resends that request and every earlier
// unanswered one; and §9.2: a 'report' makes it resend the named rid.
//
// The held poll must still be unanswered when the error arrives, so the
// fake CM holds it for a minute rather than its usual two seconds (under
// heavy load two seconds could pass first, and a poll answered meanwhile
// is rightly not resent); the test waits on the hook's signals, not on the
// clock.
func TestResendEarlierOnRecoverableError(t *testing.T) {
	for _, how := range []string{"type='error'", "report"} {
		t.Run(how, func(t *testing.T) {
			f := newFakeCM(t, func(f *fakeCM) { f.wait = time.Minute })
			s := loggedIn(t, f, testConfig(t, f))
			ctx := testContext(t)
			var mu sync.Mutex
			seen := map[uint64]int{}
			var pollRID uint64
			polled, resent := make(chan struct{}), make(chan struct{})
			f.setHook(func(f *fakeCM, b *Body, raw []byte) (int, string, bool) {
				rid, _ := b.Uint("rid")
				mu.Lock()
				seen[rid]++
				n := seen[rid]
				if len(b.Payloads) == 0 && pollRID == 0 {
					pollRID = rid
					close(polled)
				}
				p := pollRID
				if rid == p && n == 2 {
					close(resent)
				}
				mu.Unlock()
				if len(b.Payloads) == 1 && n == 1 {
					if how == "report" {
						return 200, wrap(fmt.Sprintf(" report='%d' time='100'", p)), true
					}
					return 200, wrap(" type='error'"), true
				}
				return 0, "", false
			})
			running(t, s)
			select {
			case <-polled:
			case <-ctx.Done():
				t.Fatal("the client did not poll")
			}
			if err := s.Send(ctx, []byte("<presence/>")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-resent:
			case <-ctx.Done():
				mu.Lock()
				p := pollRID
				mu.Unlock()
				t.Fatalf("held poll rid %d was not resent", p)
			}
		})
	}
}

// TestDeliveryOrder checks that stanzas are delivered in rid order (XEP-0124
// §8) when a later request is answered before an earlier one.
func TestDeliveryOrder(t *testing.T) {
	f := newFakeCM(t)
	s := loggedIn(t, f, testConfig(t, f))
	ctx := testContext(t)
	release := make(chan struct{})
	polled := make(chan struct{})
	var once sync.Once
	f.setHook(func(f *fakeCM, b *Body, raw []byte) (int, string, bool) {
		switch {
		case len(b.Payloads) == 0:
			first := false
			once.Do(func() { first = true })
			if first { // the first poll: answered after the Send's answer
				close(polled)
				<-release
				return 200, wrap("", "<message id='A'/>"), true
			}
			return 0, "", false
		default:
			defer close(release)
			return 200, wrap("", "<message id='B'/>"), true
		}
	})
	running(t, s)
	<-polled
	if err := s.Send(ctx, []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	if a, b := next(t, s), next(t, s); string(a) != "<message id='A'/>" || string(b) != "<message id='B'/>" {
		t.Fatalf("delivered %s then %s, want A (earlier rid) then B", a, b)
	}
}

// TestConcurrentSendsInOrder has many goroutines send at once while Run
// polls: every stanza arrives exactly once, in order per sender, and
// requests are written in rid order.
func TestConcurrentSendsInOrder(t *testing.T) {
	f := newFakeCM(t, echo)
	c := testConfig(t, f)
	writes := logWrites(t, &c)
	s := loggedIn(t, f, c)
	ctx := testContext(t)
	running(t, s)
	const senders, each = 4, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := s.Send(ctx, fmt.Appendf(nil, "<m g='%d' i='%d'/>", g, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	got := map[string]int{}
	last := map[int]int{0: -1, 1: -1, 2: -1, 3: -1}
	for range senders * each {
		st := string(next(t, s))
		got[st]++
		var g, i int
		fmt.Sscanf(st, "<m g='%d' i='%d'/>", &g, &i)
		if i != last[g]+1 {
			t.Errorf("sender %d: stanza %d after %d", g, i, last[g])
		}
		last[g] = i
	}
	wg.Wait()
	for st, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", st, n)
		}
	}
	writes.checkConsecutive(t)
}

// TestClose checks XEP-0124 §13 from the client side.
func TestClose(t *testing.T) {
	f := newFakeCM(t)
	s := loggedIn(t, f, testConfig(t, f))
	done := running(t, s)
	ctx := testContext(t)
	for f.heldCount() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	unavailable := "<presence xmlns='jabber:client' type='unavailable'/>"
	if err := s.Close(ctx, []byte(unavailable)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Run = %v, want ErrClosed", err)
	}
	if !errors.Is(s.Err(), ErrClosed) {
		t.Errorf("Err = %v", s.Err())
	}
	if _, ok := <-s.Receive(); ok {
		t.Error("Receive not closed")
	}
	last := f.reqs()[len(f.reqs())-1]
	if last.Type() != "terminate" || len(last.Payloads) != 1 || string(last.Payloads[0]) != unavailable {
		t.Errorf("terminate request: %s", last.Raw)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := s.Send(ctx, []byte("<presence/>")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v", err)
	}
}

// TestProtocolTools covers the low-level tools for protocol tests: Request
// with attribute overrides, Sent and Resend, SetNextRID.
func TestProtocolTools(t *testing.T) {
	f := newFakeCM(t, echo)
	c := testConfig(t, f)
	c.Keys = true
	s := loggedIn(t, f, c)
	ctx := testContext(t)

	rid := s.RID()
	if _, err := s.Request(ctx, map[string]string{"key": "", "pause": "10"}, []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	sent := s.Sent(rid)
	b, err := ParseBody(sent)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Attrs["key"]; ok || b.Attrs["pause"] != "10" || ridOf(t, b) != rid || b.Attrs["sid"] != fakeSID {
		t.Errorf("Request with overrides sent %s", sent)
	}
	if _, err := s.Resend(ctx, rid); err != nil {
		t.Fatal(err)
	}
	if last := f.lastRaw(); !bytes.Equal(last, sent) {
		t.Errorf("Resend sent %s, want the identical %s", last, sent)
	}
	if s.RID() != rid+1 {
		t.Errorf("Resend moved the rid sequence to %d", s.RID())
	}
	if _, err := s.Resend(ctx, 1); err == nil {
		t.Error("Resend of an unknown rid succeeded")
	}

	if _, err := s.Request(ctx, map[string]string{"rid": "77"}, []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	if got := ridOf(t, f.reqs()[len(f.reqs())-1]); got != 77 || s.RID() != rid+1 {
		t.Errorf("explicit rid: sent %d, next rid %d", got, s.RID())
	}

	s.SetNextRID(rid + 5)
	if _, err := s.Request(ctx, nil, []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	if got := ridOf(t, f.reqs()[len(f.reqs())-1]); got != rid+5 {
		t.Errorf("after SetNextRID(%d) sent rid %d", rid+5, got)
	}
}

// TestPollingSession checks XEP-0124 §12: with hold='0' Run waits
// 'polling' seconds after an empty answer before polling again.
func TestPollingSession(t *testing.T) {
	var mu sync.Mutex
	var polls []time.Time
	f := newFakeCM(t)
	f.setHook(func(f *fakeCM, b *Body, raw []byte) (int, string, bool) {
		if b.Attrs["sid"] == "" {
			return 200, wrap(" sid='"+fakeSID+"' wait='0' hold='0' requests='1' polling='1' ver='1.6'",
				"<stream:features/>"), true
		}
		mu.Lock()
		polls = append(polls, time.Now())
		mu.Unlock()
		return 200, emptyBody, true
	})
	c := testConfig(t, f)
	c.CreateAttrs = map[string]string{"hold": "0", "wait": "0"}
	s, err := Connect(testContext(t), c)
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	time.Sleep(2300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(polls) < 2 || len(polls) > 3 {
		t.Fatalf("%d polls in 2.3 s with polling='1'", len(polls))
	}
	for i := 1; i < len(polls); i++ {
		if d := polls[i].Sub(polls[i-1]); d < time.Second {
			t.Errorf("polls %v apart, want at least 1 s", d)
		}
	}
}

// TestPollingDetected: the creation answers that make a polling session
// (XEP-0124 §12) and some that do not.
func TestPollingDetected(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]string
		want  bool
	}{
		{map[string]string{"hold": "0", "wait": "60", "requests": "1"}, true},
		{map[string]string{"hold": "1", "wait": "0", "requests": "2"}, true},
		{map[string]string{"hold": "1", "wait": "60", "requests": "1"}, true},
		{map[string]string{"hold": "1", "wait": "60", "requests": "2"}, false},
		{map[string]string{"wait": "60"}, false}, // hold and requests absent: not 0
	} {
		b := &Body{Attrs: tc.attrs}
		s := &Session{CreateResponse: b, Params: parseParams(b)}
		if got := s.Polling(); got != tc.want {
			t.Errorf("creation answer %v: Polling() = %v, want %v", tc.attrs, got, tc.want)
		}
	}
}

// TestPollingLogin checks that Login keeps the pace of a polling session
// (XEP-0124 §12) when the server is slow: the CM answers every request at
// once and gives the SASL success only to the second empty poll, so Login
// must poll twice in a row, at least 'polling' apart, and must not pause
// after a request that was not empty.
func TestPollingLogin(t *testing.T) {
	var (
		mu      sync.Mutex
		later   []string  // reactions not given to the client yet
		empties int       // empty polls since later was filled
		lastAt  time.Time // the previous request, when it was empty and answered empty
		gaps    []time.Duration
	)
	f := newFakeCM(t)
	f.setHook(func(f *fakeCM, b *Body, raw []byte) (int, string, bool) {
		if b.Attrs["sid"] == "" {
			return 200, wrap(" sid='"+fakeSID+"' wait='10' hold='0' requests='1' polling='1' ver='1.6' xmpp:restartlogic='true' xmlns:xmpp='"+NSXBOSH+"'",
				f.features()), true
		}
		now := time.Now()
		f.mu.Lock()
		var got []string
		for _, p := range b.Payloads {
			got = append(got, f.reactLocked(p)...)
		}
		if b.Attrs["xmpp:restart"] == "true" {
			got = append(got, f.features())
		}
		f.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		empty := len(b.Payloads) == 0 && b.Attrs["xmpp:restart"] == ""
		if empty && !lastAt.IsZero() {
			gaps = append(gaps, now.Sub(lastAt))
		}
		lastAt = time.Time{}
		if len(got) > 0 {
			later, empties = got, 0
			return 200, emptyBody, true // processed, but not ready yet
		}
		if empty {
			empties++
			// The first reaction (SASL) waits for the second empty poll,
			// the others for the first.
			if len(later) > 0 && (empties >= 2 || !strings.Contains(later[0], "<success")) {
				ans := wrap("", later...)
				later = nil
				return 200, ans, true
			}
			lastAt = now
		}
		return 200, emptyBody, true
	})
	c := testConfig(t, f)
	c.CreateAttrs = map[string]string{"hold": "0"}
	ctx := testContext(t)
	s, err := Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Polling() {
		t.Fatalf("hold='0' answered with hold='0' requests='1': Polling() is false")
	}
	start := time.Now()
	if err := s.Login(ctx, f.user, f.pass, "PLAIN", "r"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if len(gaps) != 1 {
		t.Fatalf("%d empty polls followed an empty answer to an empty poll, want 1 (the SASL wait)", len(gaps))
	}
	if gaps[0] < time.Second {
		t.Errorf("empty polls %v apart with polling='1'", gaps[0])
	}
	if took > 3*time.Second {
		t.Errorf("login took %v: paused where it did not need to", took)
	}
}

// TestConnectionReuse checks that the pool keeps connections alive and
// replaces one the server closed without counting a failure.
func TestConnectionReuse(t *testing.T) {
	f := newFakeCM(t, echo)
	c := testConfig(t, f)
	c.MaxRetries = -1
	s := loggedIn(t, f, c)
	ctx := testContext(t)
	for range 10 {
		if _, err := s.Request(ctx, nil, []byte("<presence/>")); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.connections(); n != 1 {
		t.Errorf("%d connections for sequential requests, want 1", n)
	}
	f.srv.CloseClientConnections()
	if _, err := s.Request(ctx, nil, []byte("<presence/>")); err != nil {
		t.Fatalf("request after the server closed the idle connection: %v", err)
	}
}

// TestNetHTTPClient runs a session through net/http (Config.HTTPClient).
func TestNetHTTPClient(t *testing.T) {
	f := newFakeCM(t, echo)
	tr := NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	c := testConfig(t, f)
	c.HTTPClient = &http.Client{Transport: tr}
	s := loggedIn(t, f, c)
	running(t, s)
	for i := range 5 {
		if err := s.Send(testContext(t), fmt.Appendf(nil, "<m i='%d'/>", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if got := next(t, s); string(got) != fmt.Sprintf("<m i='%d'/>", i) {
			t.Fatalf("got %s", got)
		}
	}
	if err := s.Close(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

// TestOnStanza checks the callback delivery path.
func TestOnStanza(t *testing.T) {
	f := newFakeCM(t, echo)
	got := make(chan string, 10)
	c := testConfig(t, f)
	c.OnStanza = func(s *Session, st []byte) { got <- s.JID + " " + string(st) }
	s := loggedIn(t, f, c)
	if s.Receive() != nil {
		t.Error("Receive is not nil with OnStanza set")
	}
	running(t, s)
	if err := s.Send(testContext(t), []byte("<m/>")); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != "alice@example.net/r <m/>" {
			t.Errorf("callback got %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("callback not called")
	}
}

// echo makes the fake CM send every client stanza back.
func echo(f *fakeCM) { f.echo = func(p []byte) []string { return []string{string(p)} } }

func hexSHA1(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
