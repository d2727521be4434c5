package integration_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection checks the architecture of docs/ARCHITECTURE.md:
// imports point from cmd to the front ends to the session core to
// xmppconn, never back; and the upstream half does not itself use HTTP
// (mellium's SRV dialer links net/http in for host-meta discovery, so that
// rule is about direct imports).
func TestImportDirection(t *testing.T) {
	for _, pkg := range []string{"boshd/xmppconn", "boshd/bosh/relay"} {
		out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			if strings.HasPrefix(imp, "net/http") {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
	forbidden := map[string][]string{
		"boshd/xmppconn":      {"boshd/bosh", "boshd/cmd"},
		"boshd/bosh/relay":    {"boshd/bosh", "boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/bosh/endpoint", "boshd/bosh/prebind", "boshd/bosh/hostmeta", "boshd/cmd"},
		"boshd/bosh/endpoint": {"boshd/bosh", "boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/bosh/relay", "boshd/bosh/metrics", "boshd/xmppconn", "boshd/cmd"},
		"boshd/bosh":          {"boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/cmd", "boshd/bosh/client"},
		"boshd/bosh/httppoll": {"boshd/bosh", "boshd/bosh/websocket", "boshd/cmd", "boshd/bosh/client"},
		// The WebSocket front end sits beside the shell (its upgrade is
		// not a POST), on the same core.
		"boshd/bosh/websocket": {"boshd/bosh", "boshd/bosh/httppoll", "boshd/bosh/hostmeta", "boshd/cmd", "boshd/bosh/client", "boshd/bosh/prebind"},
		"boshd/bosh/hostmeta":  {"boshd/bosh", "boshd/bosh/relay", "boshd/bosh/endpoint", "boshd/bosh/websocket", "boshd/xmppconn", "boshd/cmd"},
		"boshd/bosh/client":    {"boshd/bosh", "boshd/bosh/relay", "boshd/xmppconn", "boshd/cmd", "boshd/bosh/prebind"},
		// Metrics is a leaf: the core and the front ends call it, it
		// calls none of them (it meets relay.Observer by its methods).
		"boshd/bosh/metrics": {"boshd/bosh", "boshd/bosh/relay", "boshd/bosh/endpoint", "boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/xmppconn", "boshd/cmd", "boshd/bosh/prebind"},
		// Pre-binding is a client of the BOSH endpoint: it sees only its
		// http.Handler, never the server's insides.
		"boshd/bosh/prebind": {"boshd/bosh", "boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/bosh/relay", "boshd/bosh/endpoint", "boshd/xmppconn", "boshd/cmd"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, b := range bad {
			if deps[b] && b != pkg {
				t.Errorf("%s imports %s", pkg, b)
			}
		}
	}
}
