package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func get(t *testing.T, url, accept string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestStatus: /status tells a script (JSON, the default) and a person
// (HTML, for Accept: text/html) the build, the sessions by transport and
// domain, the limits and their use, and each route's last connect result.
func TestStatus(t *testing.T) {
	up := newFakeXMPP(t)
	ts := startServer(t, up.Addr())
	newBOSH(t, ts.base).echo(t, "m")

	for _, url := range []string{ts.base + "/status", ts.base + "/status?format=json"} {
		code, ctype, body := get(t, url, "")
		if code != http.StatusOK || ctype != "application/json" {
			t.Fatalf("%s: %d %s", url, code, ctype)
		}
		var st status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("%s: %v\n%s", url, err, body)
		}
		if st.Build.Go == "" || st.Build.Version == "" {
			t.Errorf("build %+v", st.Build)
		}
		if _, ok := st.Sessions.ByTransport["websocket"]; !ok {
			t.Errorf("by_transport lacks websocket: %+v", st.Sessions.ByTransport)
		}
		if st.Sessions.Total != 1 || st.Sessions.ByTransport["bosh"] != 1 || len(st.Sessions.ByDomain) != 1 || st.Sessions.ByDomain[0].Domain != "a.example" {
			t.Errorf("sessions %+v", st.Sessions)
		}
		if st.Limits[0].Key != "bosh.max_sessions" || st.Limits[0].Limit != 20000 || st.Limits[0].InUse == nil || *st.Limits[0].InUse != 1 {
			t.Errorf("first limit %+v", st.Limits[0])
		}
		if len(st.Domains) != 1 || st.Domains[0].Routes[0] != up.Addr() || st.Domains[0].LastConnect == nil || !st.Domains[0].LastConnect.OK || st.Domains[0].LastConnect.Addr != up.Addr() {
			t.Errorf("domains %+v", st.Domains)
		}
	}
	code, ctype, body := get(t, ts.base+"/status", "text/html,application/xhtml+xml")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("HTML status: %d %s", code, ctype)
	}
	for _, want := range []string{"<h2>Sessions: 1</h2>", "<td>a.example</td><td>" + up.Addr(), "bosh.max_sessions</td><td>20000</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("HTML status lacks %q:\n%s", want, body)
		}
	}
}

// TestStatusDraining: /status names the node and says what /readyz says:
// ready before, and not ready once SIGTERM starts a drain, while /status
// (and the session being drained) still answer.
func TestStatusDraining(t *testing.T) {
	up := newFakeXMPP(t)
	ts := startServerExtra(t, up.Addr(), "[cluster]\nnode_id = \"n1\"\nshutdown_grace = \"1m\"\n")
	live := newBOSH(t, ts.base)
	st := func() status {
		t.Helper()
		_, _, body := get(t, ts.base+"/status", "")
		var st status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		return st
	}
	if s := st(); s.Node != "n1" || !s.Ready {
		t.Fatalf("before SIGTERM: node %q ready %v, want n1 true", s.Node, s.Ready)
	}
	ts.stop <- syscall.SIGTERM
	for deadline := time.Now().Add(5 * time.Second); st().Ready; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("/status still ready after SIGTERM")
		}
	}
	if code, _, _ := get(t, ts.base+"/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d", code)
	}
	if _, _, body := get(t, ts.base+"/status", "text/html"); !strings.Contains(body, "Node n1, <span class=\"bad\">draining") {
		t.Errorf("HTML status while draining lacks the node and the drain:\n%s", body)
	}
	live.echo(t, "while-draining")
}

// TestOpsAllow: an address outside metrics.allow gets 403 from /metrics
// and /status; metrics.listen moves both off the main listener.
func TestOpsAllow(t *testing.T) {
	up := newFakeXMPP(t)
	tests := []struct {
		name, extra string
		onMain      int
	}{
		{"loopback allowed by default", "", http.StatusOK},
		{"not in allow", "[metrics]\nallow = [\"192.0.2.0/24\"]\n", http.StatusForbidden},
		{"nobody", "[metrics]\nallow = []\n", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServerExtra(t, up.Addr(), tt.extra)
			for _, p := range []string{"/metrics", "/status"} {
				if code, _, _ := get(t, ts.base+p, ""); code != tt.onMain {
					t.Errorf("%s: %d, want %d", p, code, tt.onMain)
				}
			}
		})
	}
	t.Run("metrics.listen", func(t *testing.T) {
		port := freePort(t)
		ts := startServerExtra(t, up.Addr(), fmt.Sprintf("[metrics]\nlisten = \"127.0.0.1:%d\"\n", port))
		if code, _, _ := get(t, ts.base+"/metrics", ""); code != http.StatusNotFound {
			t.Errorf("/metrics on the main listener: %d, want 404", code)
		}
		code, _, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "")
		if code != http.StatusOK || !strings.Contains(body, "boshd_sessions{transport=\"bosh\"}") || !strings.Contains(body, "go_goroutines") {
			t.Errorf("/metrics on metrics.listen: %d\n%.300s", code, body)
		}
	})
}

// TestVersion: -version prints the build.
func TestVersion(t *testing.T) {
	b := readBuild()
	if b.Go == "" || !strings.HasPrefix(b.String(), "boshd ") || !strings.Contains(b.String(), b.Go) {
		t.Errorf("version %q", b.String())
	}
	if err := run([]string{"-version"}); err != nil {
		t.Error(err)
	}
}
