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
	for _, pkg := range []string{"boshd/xmppconn", "boshd/bosh/session"} {
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
		"boshd/xmppconn":       {"boshd/bosh", "boshd/cmd"},
		"boshd/bosh/session":   {"boshd/bosh", "boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/cmd"},
		"boshd/bosh":           {"boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/cmd", "boshd/bosh/client"},
		"boshd/bosh/httppoll":  {"boshd/bosh", "boshd/bosh/websocket", "boshd/cmd", "boshd/bosh/client"},
		"boshd/bosh/websocket": {"boshd/bosh", "boshd/bosh/httppoll", "boshd/bosh/hostmeta", "boshd/cmd", "boshd/bosh/client", "boshd/bosh/prebind"},
		"boshd/bosh/hostmeta":  {"boshd/bosh", "boshd/bosh/session", "boshd/bosh/websocket", "boshd/xmppconn", "boshd/cmd"},
		"boshd/bosh/client":    {"boshd/bosh", "boshd/bosh/session", "boshd/xmppconn", "boshd/cmd", "boshd/bosh/prebind"},
		"boshd/bosh/metrics":   {"boshd/bosh", "boshd/bosh/session", "boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/xmppconn", "boshd/cmd", "boshd/bosh/prebind"},
		// Pre-binding is a client of the BOSH endpoint: it sees only its
		// http.Handler, never the server's insides.
		"boshd/bosh/prebind": {"boshd/bosh", "boshd/bosh/httppoll", "boshd/bosh/websocket", "boshd/bosh/session", "boshd/xmppconn", "boshd/cmd"},
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
