package integration_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"boshd/bosh/client"
	"boshd/integration/servers"
)

// TestReloadChangesRouteKeepsSession: SIGHUP to the boshd binary rereads
// its file. Two real Prosody instances serve the same domain; alice has an
// account only on the first, bob and carol only on the second. Alice logs in while
// the domain is routed to the first; the file is changed to route it to
// the second and boshd gets SIGHUP. Alice's live session goes on (a ping
// to her server is answered), and a new session reaches the second server
// (bob logs in). A file with a bare-integer duration is then refused, with
// its file:line:column in the log, and the second route stays in force (carol logs in).
// The Prometheus metrics move with the sessions.
func TestReloadChangesRouteKeepsSession(t *testing.T) {
	first := servers.Prosody(t, servers.Options{})
	second := servers.Prosody(t, servers.Options{})
	b := startBoshd(t, first, "")
	an, bn, cn := user(t, first, "alice"), user(t, second, "bob"), user(t, second, "carol")

	alice := login(t, b.URL, first, an, "PLAIN")
	ping(t, alice, "before")

	routeTo := func(addr, extra string) {
		t.Helper()
		data, err := os.ReadFile(b.Config)
		if err != nil {
			t.Fatal(err)
		}
		cfg := regexp.MustCompile(`routes = \[.*\]`).ReplaceAllString(string(data), fmt.Sprintf("routes = [%q]", addr))
		if i := strings.Index(cfg, "\n# extra\n"); i >= 0 {
			cfg = cfg[:i]
		}
		if err := os.WriteFile(b.Config, []byte(cfg+"\n# extra\n"+extra), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	routeTo(second.Addr, "")
	b.hup(t, "configuration reloaded")

	ping(t, alice, "after-reload")
	bob := login(t, b.URL, second, bn, "SCRAM-SHA-1")
	ping(t, bob, "bob")

	// An invalid file: refused with its position, the second route stays.
	routeTo(first.Addr, "[upstream]\ndial_timeout = 10\n")
	b.hup(t, "reload refused")
	data, _ := os.ReadFile(b.Config)
	line := strings.Count(string(data)[:strings.Index(string(data), "dial_timeout")], "\n") + 1
	if want := fmt.Sprintf("%s:%d:16: upstream.dial_timeout: a duration is written as a string with a unit", b.Config, line); !strings.Contains(b.Output(), want) {
		t.Errorf("the log does not say %q", want)
	}
	carol := login(t, b.URL, second, cn, "PLAIN")
	ping(t, carol, "carol")
	ping(t, alice, "after-refusal")

	m := scrape(t, b.Base+"/metrics")
	if got := m[`boshd_sessions{transport="bosh"}`]; got != 3 {
		t.Errorf("boshd_sessions{transport=bosh} = %v, want 3", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := carol.Close(ctx); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	waitFor(t, func() bool { return scrape(t, b.Base+"/metrics")[`boshd_sessions{transport="bosh"}`] == 2 }, "the session gauge to drop to 2")
	m = scrape(t, b.Base+"/metrics")
	for series, min := range map[string]float64{
		`boshd_session_ends_total{condition="terminate",transport="bosh"}`: 1,
		`boshd_http_requests_total{code="200",transport="bosh"}`:           10,
		`boshd_stanzas_total{direction="to_server"}`:                       8,
		`boshd_stanzas_total{direction="to_client"}`:                       8,
		`boshd_stanza_bytes_total{direction="to_client"}`:                  500,
		`boshd_upstream_connect_seconds_count`:                             3,
		`boshd_held_requests`:                                              1,
		`go_goroutines`:                                                    1,
		`process_resident_memory_bytes`:                                    1,
	} {
		if m[series] < min {
			t.Errorf("%s = %v, want at least %v", series, m[series], min)
		}
	}
}

// TestOpsAccess: /metrics and /status are refused (403) to an address
// outside metrics.allow, and answered to one in it.
func TestOpsAccess(t *testing.T) {
	srv := shared(t, "prosody")
	closed := startBoshd(t, srv, "[metrics]\nallow = [\"192.0.2.0/24\"]\n")
	open := startBoshd(t, srv, "")
	for _, path := range []string{"/metrics", "/status"} {
		if code := get(t, closed.Base+path); code != http.StatusForbidden {
			t.Errorf("%s outside metrics.allow: %d, want 403", path, code)
		}
		if code := get(t, open.Base+path); code != http.StatusOK {
			t.Errorf("%s from loopback: %d, want 200", path, code)
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// ping sends an XEP-0199 ping to the user's server and waits for the answer.
func ping(t *testing.T, s *client.Session, id string) {
	t.Helper()
	send(t, s, fmt.Sprintf(`<iq xmlns='jabber:client' type='get' id='%s' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, id))
	expect(t, s, 10*time.Second, "<iq", "id='"+id+"'", "type='result'")
}

// hup sends SIGHUP and waits for a log line containing want after it.
func (b *boshd) hup(t *testing.T, want string) {
	t.Helper()
	before := strings.Count(b.Output(), want)
	if err := b.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Count(b.Output(), want) > before }, fmt.Sprintf("a log line %q", want))
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape reads a Prometheus text page into series → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
