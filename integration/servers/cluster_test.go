package servers

import (
	"context"
	"testing"
	"time"
)

// TestEjabberdCluster starts two joined nodes: an account registered on
// the first exists on the second (mnesia is shared), and each node serves
// c2s on its own port.
func TestEjabberdCluster(t *testing.T) {
	nodes := EjabberdCluster(t, Options{}, 2)
	if nodes[0].Addr == nodes[1].Addr {
		t.Fatalf("both nodes serve c2s on %s", nodes[0].Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nodes[0].Register(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	users, err := nodes[1].ctlRun(ctx, "registered_users", nodes[1].Domain)
	if err != nil || !containsWord(users, "alice") {
		t.Fatalf("account registered on node 1 is unknown on node 2: %q, %v", users, err)
	}
	for _, n := range nodes {
		if _, err := probeFeatures(ctx, n.Addr, n.Domain); err != nil {
			t.Errorf("%s: %v", n.Addr, err)
		}
	}
}
