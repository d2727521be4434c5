package bosh

import (
	"net/http/httptest"
	"testing"
	"testing/synctest"
)

// TestReload: settings given to Reload apply to what comes next (CORS
// origins for the next request, the session limit for the next session),
// and a session created before goes on.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeClock(t, func(c *Config) {
			c.CORSOrigins = []string{"https://a.example"}
			c.MaxSessions = 1
		})
		sid := f.create("wait='10' hold='1'")
		if root := f.do(`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6'/>`); root.SelectAttrValue("condition", "") != "policy-violation" {
			t.Fatalf("second session under max_sessions=1: %v", root.Attr)
		}

		cfg := *f.h.config()
		cfg.CORSOrigins = []string{"https://b.example"}
		cfg.MaxSessions = 2
		f.h.Reload(cfg)

		for origin, want := range map[string]string{"https://a.example": "", "https://b.example": "https://b.example"} {
			req := httptest.NewRequest("OPTIONS", "/http-bind", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != want {
				t.Errorf("origin %s after reload: allowed %q, want %q", origin, got, want)
			}
		}
		f.create("wait='10' hold='1'") // the second session fits now
		if root := f.do(`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6'/>`); root.SelectAttrValue("condition", "") != "policy-violation" {
			t.Fatalf("third session under max_sessions=2: %v", root.Attr)
		}
		if root := f.do(body(2, sid, " type='terminate'", "")); root.SelectAttrValue("type", "") != "terminate" || root.SelectAttrValue("condition", "") != "" {
			t.Fatalf("the session from before the reload: %v", root.Attr)
		}
	})
}
