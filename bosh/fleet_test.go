package bosh

import (
	"regexp"
	"strings"
	"testing"
)

// TestNodeAndDrain: with a node name every sid is "NODE." + the random
// part; a sid of another node (same random part) is item-not-found with
// HTTP 200 (XEP-0124 §17.2); while draining, a creation request is
// refused with system-shutdown and the open session goes on.
func TestNodeAndDrain(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Node = "n2" })
	sid, up, _ := h.open(100, 10, "")
	if !regexp.MustCompile(`^n2\.[A-Za-z0-9_-]{22}$`).MatchString(sid) {
		t.Fatalf("sid %q, want n2. + 22 characters", sid)
	}
	r := h.post(body(101, "n1"+strings.TrimPrefix(sid, "n2"), "", ""))
	if r.status != 200 || r.attr("type") != "terminate" || r.attr("condition") != "item-not-found" {
		t.Fatalf("sid of another node: %d %s", r.status, r.raw)
	}
	h.h.Drain()
	r = h.post(`<body rid='7' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='10' hold='1' ver='1.6'/>`)
	if r.status != 200 || r.attr("type") != "terminate" || r.attr("condition") != "system-shutdown" {
		t.Fatalf("new session while draining: %d %s", r.status, r.raw)
	}
	// Queued or pushed while held, the stanza is the answer either way.
	up.Push(t, `<message from='a@localhost'><body>still here</body></message>`)
	if r := h.post(body(101, sid, "", "")); !strings.Contains(r.raw, "still here") {
		t.Fatalf("open session while draining: %s", r.raw)
	}
}

// TestReloadKeepsNode: Reload ignores a different Node, as it does the
// Counter: a load balancer routes each request on the node its sid names,
// so the sids of new sessions go on naming the node given to New.
func TestReloadKeepsNode(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Node = "n2" })
	cfg := *h.h.config()
	cfg.Node = "n9"
	h.h.Reload(cfg)
	if got := h.h.config().Node; got != "n2" {
		t.Errorf("config().Node after Reload = %q, want n2", got)
	}
	if sid, _, _ := h.open(100, 10, ""); !strings.HasPrefix(sid, "n2.") {
		t.Fatalf("sid after Reload: %q, want n2. + random", sid)
	}
}
