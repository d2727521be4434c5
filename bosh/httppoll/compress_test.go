package httppoll

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
)

// TestCompressedAnswers: with compression on, a poll that asks for gzip
// gets the server's stanzas gzipped when they pass the threshold, plain
// when they do not or when it asks for nothing; Vary: Accept-Encoding on
// every answer while on, on none while off.
func TestCompressedAnswers(t *testing.T) {
	big := "<message to='alice@example.com'><body>" + strings.Repeat("compress me please ", 200) + "</body></message>"
	small := "<message to='alice@example.com'><body>hi</body></message>"
	for _, tt := range []struct {
		name     string
		on       bool
		ae       string
		stanza   string
		wantEnc  string
		wantVary bool
	}{
		{"gzip asked", true, "gzip", big, "gzip", true},
		{"nothing asked", true, "", big, "", true},
		{"below the threshold", true, "gzip", small, "", true},
		{"off", false, "gzip", big, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newHarness(t, func(c *Config) { c.Compression = tt.on })
				id, u := p.open()
				u.stanza(tt.stanza)
				req := httptest.NewRequest(http.MethodPost, "/http-poll", strings.NewReader(id+","))
				if tt.ae != "" {
					req.Header.Set("Accept-Encoding", tt.ae)
				}
				rec := httptest.NewRecorder()
				p.h.ServeHTTP(rec, req)
				if got := rec.Header().Get("Content-Encoding"); got != tt.wantEnc {
					t.Fatalf("Content-Encoding %q, want %q", got, tt.wantEnc)
				}
				if got := rec.Header().Get("Vary") == "Accept-Encoding"; got != tt.wantVary {
					t.Errorf("Vary %q", rec.Header().Values("Vary"))
				}
				if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(rec.Body.Len()) {
					t.Errorf("Content-Length %s for %d bytes", got, rec.Body.Len())
				}
				var r io.Reader = rec.Body
				if tt.wantEnc == "gzip" {
					zr, err := gzip.NewReader(rec.Body)
					if err != nil {
						t.Fatal(err)
					}
					r = zr
				}
				plain, err := io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
				if string(plain) != tt.stanza {
					t.Fatalf("answer decodes to %.100q", plain)
				}
			})
		})
	}
}

// TestRefusedAnswerVaries: while compression is on, an answer the shell
// gives before any session is found (a body over the limit) carries Vary
// like every other answer, so that a cache never serves it for a request
// with another Accept-Encoding.
func TestRefusedAnswerVaries(t *testing.T) {
	for _, on := range []bool{true, false} {
		p := newHarness(t, func(c *Config) { c.Compression, c.MaxBodyBytes = on, 64 })
		req := httptest.NewRequest(http.MethodPost, "/http-poll", strings.NewReader("0,"+strings.Repeat("x", 200)))
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		p.h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Vary") == "Accept-Encoding"; got != on {
			t.Errorf("compression %v: Vary %q on the refused answer", on, rec.Header().Values("Vary"))
		}
	}
}
