package httppoll

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// TestStalledUpstreamStillDelivers: through the real relay over an
// unbuffered in-memory pipe, a server that stops reading while the client
// uploads large stanzas does not delay the client's polls, nor the
// server's stanzas to it: no session lock is held across an upstream
// write.
func TestStalledUpstreamStillDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := xmpptest.NewPipe()
		defer up.Close()
		h := New(Config{
			FrontEnd: relay.FrontEnd{Domains: &relay.Domains{
				Dialer: &xmppconn.Dialer{Routes: map[string][]string{"example.com": {up.Addr}}, DialContext: up.Dial},
				Served: []string{"example.com"},
			}},
			Path: "/http-poll",
		})
		defer h.Shutdown(context.Background())
		post := func(body string) (id, answer string) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/http-poll", strings.NewReader(body)))
			cookie, _, _ := strings.Cut(rec.Header().Get("Set-Cookie"), ";")
			return strings.TrimPrefix(cookie, "ID="), rec.Body.String()
		}
		id, _ := post("0," + clientHeader)
		c := up.NextConn(t)
		c.Next(t) // the header
		resume := c.Stall()
		defer resume()

		start := time.Now()
		big := `<message to='b@example.com'><body>` + strings.Repeat("x", 20<<10) + `</body></message>`
		for range 3 {
			if got, _ := post(id + "," + big); got != id {
				t.Fatalf("upload answered %s", got)
			}
		}
		c.Push(t, `<message from='a@example.com'><body>while you upload</body></message>`)
		synctest.Wait()
		_, answer := post(id + ",")
		if !strings.Contains(answer, "while you upload") {
			t.Fatalf("poll answered %q, want the server's message", answer)
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("uploads and poll took %v with a stalled server, want no time", got)
		}
	})
}
