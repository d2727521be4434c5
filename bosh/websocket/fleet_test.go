package websocket

import (
	"strings"
	"testing"

	"boshd/xmppconn"
)

// TestDrain: a draining endpoint refuses a new <open/> — with a
// system-shutdown stream error, or with <close see-other-uri/> when one is
// configured (RFC 7395 §3.6.1) — while the session opened before the drain
// goes on relaying both ways.
func TestDrain(t *testing.T) {
	tests := []struct {
		name, seeOther string
		want           []string
	}{
		{"no see-other-uri", "", []string{"<system-shutdown ", closeMsg}},
		{"see-other-uri", "wss://other.example/xmpp-websocket", []string{"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='wss://other.example/xmpp-websocket'/>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(c *Config) { c.SeeOtherURI = tt.seeOther })
			old := hs.dial(t)
			up := old.open(hs)
			up.Next(t) // the header

			hs.h.Drain()
			c := hs.dial(t)
			c.send(openMsg)
			c.expect("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'")
			for _, w := range tt.want {
				c.expect(w)
			}
			c.closed()
			if n := hs.h.Sessions(); n != 1 {
				t.Fatalf("%d sessions while draining, want the old one", n)
			}

			old.send("<presence/>")
			if el := up.Next(t); string(el.Raw) != "<presence/>" {
				t.Fatalf("upstream got %q: the old session stopped relaying", el.Raw)
			}
			up.Push(t, "<message from='bob@localhost'/>")
			old.expect("<message xmlns='jabber:client' from='bob@localhost'/>")
			old.send(closeMsg)
			old.expect(closeMsg)
			old.closed()
			if el := up.Next(t); el.Kind != xmppconn.KindEnd {
				t.Fatalf("upstream got %v, want the stream closed", el.Kind)
			}
		})
	}
}

// TestReloadKeepsNode: Reload puts new settings in force for new sessions
// but keeps the Node given to New, as the other front ends
// do, so that every session ID names the same node.
func TestReloadKeepsNode(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Node = "n1" })
	cfg := *hs.h.config()
	cfg.Node, cfg.SeeOtherURI = "n2", "wss://other.example/ws"
	hs.h.Reload(cfg)
	if got := hs.h.config().Node; got != "n1" {
		t.Fatalf("Node after Reload = %q, want n1", got)
	}
	// The registry's IDs (relay.NodeIDs) still name n1.
	res, err := hs.h.reg.Reserve("203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	id, err := res.Commit(nil)
	if err != nil || !strings.HasPrefix(id, "n1.") {
		t.Fatalf("ID after Reload %q, %v; want n1. + random", id, err)
	}
	hs.h.reg.Retire(id, nil)
	// The reloaded see-other URI is what a drained endpoint sends next.
	hs.h.Drain()
	c := hs.dial(t)
	c.send(openMsg)
	c.expect("<open ")
	c.expect("see-other-uri='wss://other.example/ws'")
	c.closed()
}
