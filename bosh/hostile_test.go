package bosh

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"boshd/bosh/relay"
)

// TestHostileRequests: malformed and hostile bodies get the spec's answer
// (a terminate body, never a 5xx), and never hang.
func TestHostileRequests(t *testing.T) {
	h := newHarness(t, nil)
	sid, _, _ := h.open(1000, 1, "")
	tests := []struct {
		name, body string
		condition  string
	}{
		{"invalid utf-8", "<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='\xff\xfe'/>", "bad-request"},
		{"nul byte", "<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='a\x00b'/>", "bad-request"},
		{"negative rid", "<body rid='-5' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6'/>", "bad-request"},
		{"float rid", "<body rid='1e9' xmlns='http://jabber.org/protocol/httpbind' to='localhost' ver='1.6'/>", "bad-request"},
		{"huge hold is clamped, not refused", "", ""},
		{"entity expansion", `<!DOCTYPE b [<!ENTITY x "xxxxxxxxxx">]><body rid='1' xmlns='http://jabber.org/protocol/httpbind'>&x;</body>`, "bad-request"},
		{"jid with a local part as to", "<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='user@localhost' ver='1.6'/>", "host-unknown"},
		{"ip literal as to", "<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='127.0.0.1' ver='1.6'/>", "host-unknown"},
		{"sid of another length", "<body rid='1' sid='" + strings.Repeat("A", 4000) + "' xmlns='http://jabber.org/protocol/httpbind'/>", "item-not-found"},
		{"bad pause", "<body rid='1001' sid='" + sid + "' pause='forever' xmlns='http://jabber.org/protocol/httpbind'/>", "bad-request"},
	}
	for _, tt := range tests {
		if tt.body == "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(tt.body)
			if r.status != 200 || r.attr("type") != "terminate" || r.attr("condition") != tt.condition {
				t.Fatalf("answered %d %s, want terminate %s", r.status, r.raw, tt.condition)
			}
		})
	}
	for _, hw := range []struct{ hold, wait string }{
		{"60000", "4000000000"},
		{"100000", "99999999999"},
		{"1", "99999999999999999999999"},
		{"99999999999999999999999", "60"},
	} {
		t.Run("huge hold and wait are clamped: "+hw.hold+" "+hw.wait, func(t *testing.T) {
			r := h.post(`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='` + hw.wait + `' hold='` + hw.hold + `' ver='1.6'/>`)
			if r.attr("hold") != "1" || r.attr("wait") != "10" {
				t.Fatalf("answered %s", r.raw)
			}
			h.up.NextConn(t)
		})
	}
}

// TestConcurrentAbuseOfOneSession: many goroutines send one session random
// rids, replays, garbage and terminates at once. Nothing may panic or hang,
// and another session keeps working throughout.
func TestConcurrentAbuseOfOneSession(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxWait = 2 * time.Second })
	victim, _, _ := h.open(5000, 1, "")
	bystander, up, _ := h.open(9000, 1, "")

	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 20; i++ {
				rid := uint64(5000 + rng.IntN(8))
				var b string
				switch rng.IntN(5) {
				case 0:
					b = body(rid, victim, " type='terminate'", "")
				case 1:
					b = body(rid, victim, " pause='1'", "")
				case 2:
					b = body(rid, victim, "", `<message xmlns='jabber:client'/>`)
				case 3:
					b = fmt.Sprintf("<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'><oops>", rid, victim)
				default:
					b = body(rid, victim, "", "")
				}
				r := postTo(t, h.srv.URL, b)
				if r.status >= 500 || r.root == nil {
					t.Errorf("answer %d %q", r.status, r.raw)
				}
			}
		}(g)
	}
	// The bystander chats meanwhile.
	for i := 0; i < 5; i++ {
		wait := h.async(body(9001+uint64(i), bystander, "", ""))
		up.Push(t, fmt.Sprintf("<message id='by%d'/>", i))
		if r := wait(); !strings.Contains(r.raw, fmt.Sprintf("by%d", i)) {
			t.Fatalf("bystander answer %d: %s", i, r.raw)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("abusive requests still unanswered after 60s")
	}
}

// failingReader is a request body that breaks off, like a client whose
// connection hits the server's read timeout.
type failingReader struct{ data string }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, errors.New("read tcp 127.0.0.1:5280->10.1.2.3:4567: i/o timeout")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestBodyThatNeverArrivesWhole: a body over the limit is 413; a body cut
// off (lying Content-Length, read timeout) is 400, without the internals
// of the error in the answer.
func TestBodyThatNeverArrivesWhole(t *testing.T) {
	h := New(Config{FrontEnd: relay.FrontEnd{Domains: &relay.Domains{}, MaxBodyBytes: 100}})
	tests := []struct {
		name   string
		body   io.Reader
		length int64
		status int
	}{
		{"declared over the limit", strings.NewReader(""), 1 << 30, http.StatusRequestEntityTooLarge},
		{"over the limit, no length", strings.NewReader(strings.Repeat("x", 200)), -1, http.StatusRequestEntityTooLarge},
		{"cut off", &failingReader{data: "<body rid='1' "}, 80, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/http-bind", tt.body)
			req.ContentLength = tt.length
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "127.0.0.1") {
				t.Fatalf("answer shows internals: %s", rec.Body)
			}
		})
	}
}
