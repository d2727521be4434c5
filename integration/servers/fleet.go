package servers

import (
	"strings"
	"testing"
	"time"
)

// FleetOptions configure StartFleet.
type FleetOptions struct {
	// Bin is the boshd binary. Default: BoshdBinary's.
	Bin string
	// Nodes are the node names, which are also HAProxy's server names.
	// Default n1, n2, n3 (those of deploy/haproxy.cfg).
	Nodes []string
	// Config renders node's TOML for its listen address. Required.
	Config func(node, listen string) string
	// Args, when set, gives node's extra command-line flags.
	Args func(node string) []string
	// HAProxyConfig is the HAProxy configuration file, e.g. the shipped
	// deploy/haproxy.cfg. It reads BOSHD_FRONTEND (its listen address),
	// HAPROXY_SOCKET (the admin socket) and BOSHD_<NODE> (each node's
	// address; node name upper-cased) from the environment. Required.
	HAProxyConfig string
}

// Fleet is boshd nodes behind HAProxy.
type Fleet struct {
	Nodes []*FleetNode
	LB    *HAProxy
}

// FleetNode is one boshd node of a fleet.
type FleetNode struct {
	*Boshd
	Name string
}

// StartFleet starts the boshd nodes, then HAProxy in front of them, and
// returns once HAProxy reports every node UP. Everything is stopped when
// the test ends.
func StartFleet(t testing.TB, o FleetOptions) *Fleet {
	t.Helper()
	if len(o.Nodes) == 0 {
		o.Nodes = []string{"n1", "n2", "n3"}
	}
	f := &Fleet{}
	env := map[string]string{}
	want := map[string]string{}
	for _, name := range o.Nodes {
		var args []string
		if o.Args != nil {
			args = o.Args(name)
		}
		b := StartBoshd(t, BoshdOptions{Bin: o.Bin, Config: func(listen string) string { return o.Config(name, listen) }, Args: args})
		f.Nodes = append(f.Nodes, &FleetNode{Boshd: b, Name: name})
		env["BOSHD_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = b.Addr
		want[name] = "UP"
	}
	f.LB = StartHAProxyForTest(t, HAProxyOptions{
		Config: o.HAProxyConfig, Env: env, FrontendVar: "BOSHD_FRONTEND", SocketVar: "HAPROXY_SOCKET",
	})
	f.WaitStates(t, "boshd", want, 10*time.Second)
	return f
}

// WaitStates waits until HAProxy reports each named server of backend in
// the given state ("UP", "NOLB", "DOWN"), and fails the test if it does
// not within the time given.
func (f *Fleet) WaitStates(t testing.TB, backend string, want map[string]string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got map[string]string
	var err error
	for {
		got, err = f.LB.ServerStates(backend)
		match := err == nil
		for name, st := range want {
			match = match && got[name] == st
		}
		if match {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy server states %v (%v), want %v within %v", got, err, want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Node returns the node named name, or nil.
func (f *Fleet) Node(name string) *FleetNode {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}
