package endpoint

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// echo is a protocol that answers a POST with its body and records what
// the shell handed it.
type echo struct{ refused, panicked error }

func (e *echo) ServePost(w http.ResponseWriter, r *http.Request, body []byte) {
	if string(body) == "panic" {
		panic("bug")
	}
	w.Write(body)
}

func (e *echo) RefuseBody(w http.ResponseWriter, r *http.Request, err error) {
	e.refused = err
	w.WriteHeader(http.StatusRequestEntityTooLarge)
}

func (e *echo) Panicked(w http.ResponseWriter, r *http.Request, v any) {
	e.panicked = errors.New("panicked")
	w.WriteHeader(http.StatusInternalServerError)
}

func TestShell(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	tests := []struct {
		name, method, origin, body string
		preflight                  bool
		status                     int
		wantBody                   string
		allowOrigin                string
	}{
		{"post is the protocol's", "POST", "", "hello", false, 200, "hello", ""},
		{"get shows the page", "GET", "", "", false, 200, "<p>info</p>", ""},
		{"head has no body", "HEAD", "", "", false, 200, "", ""},
		{"options without preflight", "OPTIONS", "", "", false, 204, "", ""},
		{"preflight from an allowed origin", "OPTIONS", "https://chat.example", "", true, 204, "", "https://chat.example"},
		{"preflight from another origin", "OPTIONS", "https://evil.example", "", true, 204, "", ""},
		{"post from an allowed origin", "POST", "https://chat.example", "x", false, 200, "x", "https://chat.example"},
		{"put is refused", "PUT", "", "", false, 405, "", ""},
		{"oversized body", "POST", "", strings.Repeat("x", 101), false, 413, "", ""},
		{"panic is recovered", "POST", "", "panic", false, 500, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &echo{}
			s := New(Config{InfoPage: "<p>info</p>", CORSOrigins: []string{"https://chat.example"}, MaxBodyBytes: 100, Log: log}, p)
			req := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Fatalf("body %q, want %q", rec.Body.String(), tt.wantBody)
			}
			if !strings.Contains(rec.Header().Get("Cache-Control"), "no-store") {
				t.Fatalf("Cache-Control %q", rec.Header().Get("Cache-Control"))
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.allowOrigin {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.allowOrigin)
			}
			if tt.status == 413 && !errors.Is(p.refused, ErrBodyTooLarge) {
				t.Fatalf("RefuseBody got %v", p.refused)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	tests := []struct {
		name    string
		body    io.Reader
		length  int64
		tooBig  bool
		wantErr bool
	}{
		{"within the limit", strings.NewReader("abc"), 3, false, false},
		{"at the limit, no length", strings.NewReader(strings.Repeat("x", 10)), -1, false, false},
		{"declared over the limit", strings.NewReader(""), 1 << 30, true, true},
		{"over the limit, no length", strings.NewReader(strings.Repeat("x", 11)), -1, true, true},
		{"cut short", io.MultiReader(strings.NewReader("ab"), errReader{}), 5, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", tt.body)
			r.ContentLength = tt.length
			_, err := ReadBody(r, 10)
			if (err != nil) != tt.wantErr || errors.Is(err, ErrBodyTooLarge) != tt.tooBig {
				t.Fatalf("err %v", err)
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestReload: the CORS origins and the body limit given to Reload apply to
// the next request (a SIGHUP in cmd/boshd), the old ones no longer.
func TestReload(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	s := New(Config{CORSOrigins: []string{"https://old.example"}, MaxBodyBytes: 100, Log: log}, &echo{})
	s.Reload(Config{CORSOrigins: []string{"https://new.example"}, MaxBodyBytes: 10, Log: log})
	tests := []struct {
		origin, body string
		status       int
		allowOrigin  string
	}{
		{"https://new.example", "x", 200, "https://new.example"},
		{"https://old.example", "x", 200, ""},
		{"", strings.Repeat("x", 11), 413, ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tt.status || rec.Header().Get("Access-Control-Allow-Origin") != tt.allowOrigin {
			t.Errorf("origin %q, %d bytes: status %d, allow-origin %q; want %d, %q", tt.origin, len(tt.body),
				rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), tt.status, tt.allowOrigin)
		}
	}
}
