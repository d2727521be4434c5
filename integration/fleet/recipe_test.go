package fleet_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"boshd/integration/servers"
)

// TestRecipeEdges runs the shipped deploy/haproxy.cfg in front of three
// stand-in nodes that answer /readyz with 200, 503 and 500 and name
// themselves in every other answer, for the edges of the recipe that real
// boshd nodes do not produce on demand (a node answering 500, sids quoted
// or placed every way clients write them). The behaviour itself is proven
// with real nodes by the other tests of this package.
func TestRecipeEdges(t *testing.T) {
	ready := map[string]int{"n1": 200, "n2": 503, "n3": 500}
	env := map[string]string{}
	var nodes []*httptest.Server
	for name, code := range ready {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if r.URL.Path == "/readyz" {
				w.WriteHeader(code)
				return
			}
			io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		nodes = append(nodes, srv)
		env["BOSHD_"+strings.ToUpper(name)] = strings.TrimPrefix(srv.URL, "http://")
	}
	lb := servers.StartHAProxyForTest(t, servers.HAProxyOptions{Config: haproxyCfg, Env: env, FrontendVar: "BOSHD_FRONTEND", SocketVar: "HAPROXY_SOCKET"})
	f := &servers.Fleet{LB: lb}
	// 200 is up, 503 is drain (no new sessions, its own still routed),
	// anything else is down.
	f.WaitStates(t, "boshd", map[string]string{"n1": "UP", "n2": "NOLB", "n3": "DOWN"}, 10*time.Second)

	const ns = ` xmlns='http://jabber.org/protocol/httpbind'`
	tests := []struct {
		name, path, body, want string
	}{
		{"new session: the only node up", "/http-bind", `<body rid='1'` + ns + `/>`, "n1"},
		{"sid in single quotes, to a draining node", "/http-bind", `<body rid='2' sid='n2.abc'` + ns + `/>`, "n2"},
		{"sid in double quotes", "/http-bind", `<body rid="2" sid="n2.abc"` + ns + `/>`, "n2"},
		{"sid first, spaces around =", "/http-bind", `<body sid = 'n2.abc' rid='2'` + ns + `/>`, "n2"},
		{"after an XML declaration", "/http-bind", `<?xml version='1.0'?>` + "\n" + `<body rid='2' sid='n2.abc'` + ns + `/>`, "n2"},
		{"a Jingle sid inside does not route", "/http-bind", `<body rid='2' sid='n1.abc'` + ns + `><iq type='set'><jingle xmlns='urn:xmpp:jingle:1' sid='n2.x'/></iq></body>`, "n1"},
		{"a Jingle sid in a new session does not route", "/http-bind", `<body rid='1'` + ns + `><iq><jingle sid='n2.x'/></iq></body>`, "n1"},
		{"a node that is down: any live node", "/http-bind", `<body rid='2' sid='n3.abc'` + ns + `/>`, "n1"},
		{"a node name that is a prefix of another", "/http-bind", `<body rid='2' sid='n22.abc'` + ns + `/>`, "n1"},
		{"XEP-0025 id", "/http-poll", "n2:0123456789abcdef0123456789abcdef;key,", "n2"},
		{"XEP-0025 new session", "/http-poll", "0;key,<stream:stream>", "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, got := post(t, "http://"+lb.Addr+tt.path, "text/xml; charset=utf-8", tt.body)
			if code != 200 || got != tt.want {
				t.Errorf("answered by %q (%d), want %s", got, code, tt.want)
			}
		})
	}

	// With every node gone, HAProxy answers in the protocol, never with
	// its HTML 503 page.
	for _, n := range nodes {
		n.Close()
	}
	f.WaitStates(t, "boshd", map[string]string{"n1": "DOWN", "n2": "DOWN", "n3": "DOWN"}, 10*time.Second)
	code, hdr, got := post(t, "http://"+lb.Addr+"/http-bind", "text/xml; charset=utf-8", `<body rid='2' sid='n1.abc'`+ns+`/>`)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/xml") || !strings.Contains(got, "type='terminate'") || !strings.Contains(got, "condition='remote-connection-failed'") {
		t.Errorf("BOSH with every node down: %d %q %q", code, hdr.Get("Content-Type"), got)
	}
	code, hdr, _ = post(t, "http://"+lb.Addr+"/http-poll", "application/x-www-form-urlencoded", "n1:0123456789abcdef0123456789abcdef;key,")
	if code != 200 || hdr.Get("Set-Cookie") != "ID=-1:0" {
		t.Errorf("XEP-0025 with every node down: %d, Set-Cookie %q", code, hdr.Get("Set-Cookie"))
	}
}
