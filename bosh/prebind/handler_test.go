package prebind

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"boshd/bosh"
	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	secret   = "s3cret-token"
	password = "correct horse battery staple"
)

// fixture is a pre-binding Handler in front of a real BOSH endpoint whose
// upstream is an in-memory fake server holding one account, alice; both
// log, at trace level, into logs.
type fixture struct {
	t    *testing.T
	bosh *bosh.Handler
	pre  *Handler
	acct *account
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, features string, mod func(*Config, *bosh.Config)) *fixture {
	t.Helper()
	up := xmpptest.NewPipe()
	up.Features = features
	logs := &syncBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetLevel(logrus.TraceLevel)
	bc := bosh.Config{
		FrontEnd: relay.FrontEnd{Domains: &relay.Domains{
			Dialer: &xmppconn.Dialer{Routes: map[string][]string{"localhost": {up.Addr}}, DialContext: up.Dial},
			Served: []string{"localhost"},
		}, Log: log},
		Inactivity: 30 * time.Second,
	}
	pc := Config{Secret: secret, Log: log, Wait: 5}
	if mod != nil {
		mod(&pc, &bc)
	}
	f := &fixture{t: t, acct: newAccount(up, "alice", password), logs: logs}
	f.bosh = bosh.New(bc)
	pc.BOSH = f.bosh
	f.pre = New(pc)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.bosh.Shutdown(ctx)
		f.acct.stop()
	})
	return f
}

// request is one call of the pre-binding endpoint.
type request struct {
	method, remote, auth, ctype, body string
}

func (f *fixture) do(r request) *httptest.ResponseRecorder {
	f.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	req := httptest.NewRequest(r.method, "/prebind", strings.NewReader(r.body))
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	rec := httptest.NewRecorder()
	f.pre.ServeHTTP(rec, req)
	return rec
}

const (
	bearer = "Bearer " + secret
	formCT = "application/x-www-form-urlencoded"
	jsonCT = "application/json"
)

var goodJSON = `{"jid": "alice@localhost/web", "password": "` + password + `"}`

// TestServeHTTP: the refusals, each with its status and JSON error code,
// and the two body encodings that succeed.
func TestServeHTTP(t *testing.T) {
	allowLoopback := func(c *Config, _ *bosh.Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }
	tests := []struct {
		name     string
		features string
		mod      func(*Config, *bosh.Config)
		req      request
		status   int
		code     string // the JSON error; "" for success
		wantJID  string
		wantMech string // the mechanism the server saw, when one was tried
	}{
		{name: "missing authorization", req: request{ctype: jsonCT, body: goodJSON}, status: 401, code: "invalid_token"},
		{name: "basic instead of bearer", req: request{auth: "Basic YTpi", ctype: jsonCT, body: goodJSON}, status: 401, code: "invalid_token"},
		{name: "wrong secret", req: request{auth: "Bearer nope", ctype: jsonCT, body: goodJSON}, status: 401, code: "invalid_token"},
		{name: "secret with a suffix", req: request{auth: bearer + "x", ctype: jsonCT, body: goodJSON}, status: 401, code: "invalid_token"},
		{name: "address not allowed", mod: allowLoopback, req: request{remote: "192.0.2.7:4000", auth: bearer, ctype: jsonCT, body: goodJSON}, status: 403, code: "forbidden"},
		{name: "allowed address", mod: allowLoopback, req: request{remote: "127.0.0.1:4000", auth: bearer, ctype: jsonCT, body: goodJSON}, status: 200, wantJID: "alice@localhost/web", wantMech: "PLAIN"},
		{name: "GET", req: request{method: "GET", auth: bearer}, status: 405, code: "method-not-allowed"},
		{name: "no content type", req: request{auth: bearer, body: goodJSON}, status: 415, code: "unsupported-media-type"},
		{name: "text/plain", req: request{auth: bearer, ctype: "text/plain", body: goodJSON}, status: 415, code: "unsupported-media-type"},
		{name: "malformed JSON", req: request{auth: bearer, ctype: jsonCT, body: `{"jid": "alice@localhost",`}, status: 400, code: "bad-request"},
		{name: "JSON array", req: request{auth: bearer, ctype: jsonCT, body: `["alice@localhost"]`}, status: 400, code: "bad-request"},
		{name: "malformed form", req: request{auth: bearer, ctype: formCT, body: "jid=%zz&password=x"}, status: 400, code: "bad-request"},
		{name: "no password", req: request{auth: bearer, ctype: formCT, body: "jid=alice%40localhost"}, status: 400, code: "bad-request"},
		{name: "jid without user", req: request{auth: bearer, ctype: formCT, body: "jid=localhost&password=x"}, status: 400, code: "bad-request"},
		{name: "invalid jid", req: request{auth: bearer, ctype: formCT, body: "jid=a%40b%40c%40&password=x"}, status: 400, code: "bad-request"},
		{name: "body too large", req: request{auth: bearer, ctype: formCT, body: "jid=alice%40localhost&password=" + strings.Repeat("x", 9000)}, status: 413, code: "too-large"},
		{name: "domain not served", req: request{auth: bearer, ctype: jsonCT, body: `{"jid": "alice@elsewhere", "password": "x"}`}, status: 400, code: "host-unknown"},
		{name: "JSON", req: request{auth: bearer, ctype: "application/json; charset=utf-8", body: goodJSON}, status: 200, wantJID: "alice@localhost/web", wantMech: "PLAIN"},
		{name: "form", req: request{auth: "bearer " + secret, ctype: formCT, body: "jid=alice%40localhost%2Fphone&password=" + strings.ReplaceAll(password, " ", "+")}, status: 200, wantJID: "alice@localhost/phone", wantMech: "PLAIN"},
		{name: "server picks the resource", req: request{auth: bearer, ctype: jsonCT, body: `{"jid": "alice@localhost", "password": "` + password + `"}`}, status: 200, wantJID: "alice@localhost/fake", wantMech: "PLAIN"},
		{name: "bad credentials", req: request{auth: bearer, ctype: jsonCT, body: `{"jid": "alice@localhost", "password": "wrong"}`}, status: 401, code: "not-authorized", wantMech: "PLAIN"},
		{name: "SCRAM preferred", features: featuresSCRAM, req: request{auth: bearer, ctype: jsonCT, body: goodJSON}, status: 401, code: "not-authorized", wantMech: "SCRAM-SHA-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feats := tt.features
			if feats == "" {
				feats = featuresPlain
			}
			f := newFixture(t, feats, tt.mod)
			rec := f.do(tt.req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status == 401 && tt.code == "invalid_token" && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer: %v", rec.Header())
			}
			if tt.code != "" {
				var e map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] != tt.code || e["message"] == "" {
					t.Fatalf("error body %s (%v), want error %q and a message", rec.Body, err, tt.code)
				}
			} else {
				var res Result
				if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
					t.Fatalf("result %s: %v", rec.Body, err)
				}
				if res.JID != tt.wantJID || res.SID == "" || res.RID == 0 {
					t.Fatalf("result %+v, want jid %q, a sid and a rid", res, tt.wantJID)
				}
			}
			select {
			case m := <-f.acct.mechs:
				if m != tt.wantMech {
					t.Errorf("server saw mechanism %q, want %q", m, tt.wantMech)
				}
			default:
				if tt.wantMech != "" {
					t.Errorf("no authentication reached the server; want %s", tt.wantMech)
				}
			}
			// A refused login leaves no session behind: it was terminated.
			if wantSessions := map[bool]int{true: 1, false: 0}[tt.code == ""]; f.bosh.Sessions() != wantSessions {
				t.Errorf("%d BOSH sessions after the call, want %d", f.bosh.Sessions(), wantSessions)
			}
		})
	}
}

// TestReload: a rotated secret and a new Allow list apply to the next
// request; the old secret is refused at once.
func TestReload(t *testing.T) {
	f := newFixture(t, featuresPlain, nil)
	if rec := f.do(request{auth: bearer, ctype: jsonCT, body: goodJSON}); rec.Code != 200 {
		t.Fatalf("before the reload: %d %s", rec.Code, rec.Body)
	}
	const rotated = "r0tated-token-0123456789"
	cfg := f.pre.cur.Load().cfg
	cfg.Secret = rotated
	f.pre.Reload(cfg)
	if rec := f.do(request{auth: bearer, ctype: jsonCT, body: goodJSON}); rec.Code != 401 {
		t.Fatalf("old secret after the reload: %d %s, want 401", rec.Code, rec.Body)
	}
	if rec := f.do(request{auth: "Bearer " + rotated, ctype: jsonCT, body: goodJSON}); rec.Code != 200 {
		t.Fatalf("new secret after the reload: %d %s, want 200", rec.Code, rec.Body)
	}
	cfg.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.pre.Reload(cfg)
	if rec := f.do(request{remote: "127.0.0.1:4000", auth: "Bearer " + rotated, ctype: jsonCT, body: goodJSON}); rec.Code != 403 {
		t.Fatalf("address outside the reloaded allow list: %d %s, want 403", rec.Code, rec.Body)
	}
}

// TestDraining: once the BOSH endpoint drains (XEP-0124 §17.2
// system-shutdown for new sessions), pre-binding answers 503 with a JSON
// error the web application can act on, and opens no session.
func TestDraining(t *testing.T) {
	f := newFixture(t, featuresPlain, nil)
	f.bosh.Drain()
	rec := f.do(request{auth: bearer, ctype: jsonCT, body: goodJSON})
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503; body %s", rec.Code, rec.Body)
	}
	var e map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] != "system-shutdown" || e["message"] == "" {
		t.Fatalf("body %s (%v), want error system-shutdown and a message", rec.Body, err)
	}
	if n := f.bosh.Sessions(); n != 0 {
		t.Fatalf("%d sessions open while draining", n)
	}
}
