package httppoll

import (
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
)

// TestNodeAndDrain: with a node name, identifiers are "NODE:" + 32 hex
// digits and resolve back to their session; while draining, a new session
// is refused with the §3.1.2 server error and a system-shutdown stream
// error, and the open one goes on.
func TestNodeAndDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.Node = "n2" })
		id, up := p.open()
		if !regexp.MustCompile(`^n2:[0-9a-f]{32}$`).MatchString(id) {
			t.Fatalf("identifier %q, want n2: + 32 hex digits", id)
		}
		p.h.Drain()
		r := p.post("0," + clientHeader)
		if r.id != IDServerError || !strings.Contains(r.body, "system-shutdown") {
			t.Fatalf("new session while draining: ID %s, %q; want %s and system-shutdown", r.id, r.body, IDServerError)
		}
		up.stanza("<message xmlns='jabber:client'><body>still here</body></message>")
		r = p.post(id + ",")
		if r.id != id || !strings.Contains(r.body, "still here") {
			t.Fatalf("open session while draining: ID %s, %q", r.id, r.body)
		}
		if other := p.post("n1" + id[2:] + ","); other.id != IDUnknown {
			t.Fatalf("the same random part under another node: ID %s, want %s", other.id, IDUnknown)
		}
	})
}

// TestReloadKeepsNode: Reload ignores a different Node, as it does the
// Counter, so identifiers issued after a reload still name the node given
// to New (a load balancer routes on it).
func TestReloadKeepsNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, func(c *Config) { c.Node = "n2" })
		cfg := *p.h.config()
		cfg.Node = "n9"
		p.h.Reload(cfg)
		if got := p.h.config().Node; got != "n2" {
			t.Errorf("config().Node after Reload = %q, want n2", got)
		}
		if id, _ := p.open(); !strings.HasPrefix(id, "n2:") {
			t.Fatalf("identifier after Reload: %q, want n2: + hex", id)
		}
	})
}
