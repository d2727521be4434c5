package integration_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"boshd/bosh/client"
)

// wireRecorder keeps every answer as it came on the wire (before the
// client decodes it) with its Content-Encoding and Vary.
type wireRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []wireAnswer
}

type wireAnswer struct {
	encoding string
	vary     []string
	raw      []byte
}

func (w *wireRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	w.mu.Lock()
	w.seen = append(w.seen, wireAnswer{resp.Header.Get("Content-Encoding"), resp.Header.Values("Vary"), raw})
	w.mu.Unlock()
	return resp, nil
}

func (w *wireRecorder) answers() []wireAnswer {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]wireAnswer(nil), w.seen...)
}

// TestCompressedAnswersThroughBoshd: with http.compression on, a client
// that asks with Accept-Encoding: gzip logs in to Prosody through the
// boshd binary; a message larger than the threshold reaches it in an
// answer that is gzip on the wire and decodes to the stanza, answers below
// the threshold come plain, and every answer carries Vary:
// Accept-Encoding. The session works throughout (login, restart, bind,
// chat), so compressed and plain answers mix without harm.
func TestCompressedAnswersThroughBoshd(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshdHTTP(t, srv, "compression = true\ncompression_min_bytes = 512", "")
	an, bn := user(t, srv, "alice"), user(t, srv, "bob")
	alice := login(t, b.URL, srv, an, "PLAIN")
	wire := &wireRecorder{next: client.NewTransport()}
	bob := login(t, b.URL, srv, bn, "SCRAM-SHA-1", func(c *client.Config) {
		c.HTTPClient = &http.Client{Transport: wire}
		c.Header = http.Header{"Accept-Encoding": {"gzip"}}
	})

	text := strings.Repeat("a message long enough to be compressed; ", 60)
	stanza := fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='big'><body>%s</body></message>`, bob.JID, text)
	send(t, alice, stanza)
	got := expect(t, bob, 10*time.Second, "id='big'", text)

	var gzipped, plain int
	for _, a := range wire.answers() {
		if !strings.Contains(strings.Join(a.vary, ","), "Accept-Encoding") {
			t.Errorf("answer without Vary: Accept-Encoding (Vary %q)", a.vary)
		}
		switch a.encoding {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(a.raw))
			if err != nil {
				t.Fatalf("gzip answer: %v", err)
			}
			dec, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("gzip answer: %v", err)
			}
			if len(dec) < 512 {
				t.Errorf("answer of %d bytes compressed, below the threshold of 512", len(dec))
			}
			if bytes.Contains(dec, []byte("id='big'")) && bytes.Contains(dec, []byte(got)) {
				gzipped++
			}
		case "":
			if len(a.raw) >= 512 {
				t.Errorf("answer of %d bytes left plain: %.100s", len(a.raw), a.raw)
			}
			plain++
		default:
			t.Errorf("Content-Encoding %q", a.encoding)
		}
	}
	if gzipped != 1 {
		t.Fatalf("%d gzip answers on the wire carry the message, want 1 (of %d answers)", gzipped, len(wire.answers()))
	}
	if plain == 0 {
		t.Fatalf("no plain answer below the threshold among %d", len(wire.answers()))
	}
}
