package httppoll

import (
	"strings"
	"testing"

	"boshd/bosh/relay"
)

func TestWireID(t *testing.T) {
	for range 100 {
		reg := relay.NewID()
		id := wireID(reg)
		if err := checkIdentifier([]byte(id)); err != nil || strings.HasSuffix(id, ":0") {
			t.Fatalf("wireID(%q) = %q: not a valid session identifier (%v)", reg, id, err)
		}
		if back, ok := registryID(id); !ok || back != reg {
			t.Fatalf("registryID(%q) = %q, %v; want %q", id, back, ok, reg)
		}
	}
	for _, bad := range []string{"0", "0:0", "-3:0", "7776:2054", "0123456789abcdef", "0123456789abcdef0123456789abcdeg", strings.Repeat("a", 34)} {
		if _, ok := registryID(bad); ok {
			t.Errorf("registryID(%q) accepted", bad)
		}
	}
}

func TestWireIDWithNode(t *testing.T) {
	for _, node := range []string{"n1", "0", "eu-west-1a"} {
		reg := node + "." + relay.NewID()
		id := wireID(reg)
		if err := checkIdentifier([]byte(id)); err != nil || strings.HasSuffix(id, ":0") {
			t.Fatalf("wireID(%q) = %q: not a valid session identifier (%v)", reg, id, err)
		}
		if !strings.HasPrefix(id, node+":") || len(id) != len(node)+1+32 {
			t.Fatalf("wireID(%q) = %q; want %q + 32 hex digits", reg, id, node+":")
		}
		if back, ok := registryID(id); !ok || back != reg {
			t.Fatalf("registryID(%q) = %q, %v; want %q", id, back, ok, reg)
		}
	}
	for _, bad := range []string{":0123456789abcdef0123456789abcdef", "N1:0123456789abcdef0123456789abcdef", "n1:0:0123456789abcdef0123456789abcdef", "n1:xyz"} {
		if _, ok := registryID(bad); ok {
			t.Errorf("registryID(%q) accepted", bad)
		}
	}
}
