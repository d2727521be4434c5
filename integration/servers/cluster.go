package servers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An ejabberd cluster on one machine, without epmd: every node's Erlang
// distribution listens on the same port, each on its own loopback address
// (127.0.0.1, 127.0.0.2, …), because a node started with -erl_epmd_port
// reaches every other node on that one port. The nodes have long names
// with those addresses (boshd-test-…@127.0.0.2), share one cookie, and
// each has its own c2s port, spool (mnesia) and log directories. Nodes 2
// and up join the first with "ejabberdctl join_cluster", which copies its
// mnesia tables, so accounts and rosters are shared and a message from a
// user on one node reaches a user on another.

// distIP is the address the node's distribution listens on.
func (s *Server) distIP() string {
	if s.distAddr == "" {
		return "127.0.0.1"
	}
	return s.distAddr
}

// StartEjabberdCluster starts n (at least 1, at most 200) private ejabberd
// nodes serving o.Domain as one cluster, node 1 first, and returns them in
// that order; each node's Addr is its own c2s listener. o.Dir, if set,
// holds one subdirectory per node. On error every node started is stopped.
func StartEjabberdCluster(ctx context.Context, o Options, n int) ([]*Server, error) {
	if n < 1 || n > 200 {
		return nil, fmt.Errorf("servers: ejabberd cluster of %d nodes", n)
	}
	var rnd [5]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	name := "boshd-test-" + hex.EncodeToString(rnd[:])
	var nodes []*Server
	fail := func(err error) ([]*Server, error) {
		for i := len(nodes) - 1; i >= 0; i-- {
			nodes[i].Stop()
		}
		return nil, fmt.Errorf("servers: ejabberd cluster: %w", err)
	}
	for k := 1; k <= n; k++ {
		ok := o
		if o.Dir != "" {
			ok.Dir = filepath.Join(o.Dir, fmt.Sprintf("node%d", k))
		}
		f := ejabberdFlavor()
		addr := fmt.Sprintf("127.0.0.%d", k)
		var first *Server
		if k > 1 {
			first = nodes[0]
			// Same distribution port as the first node (see above); the
			// other ports are picked free as usual.
			f.ports = func(m int) ([]int, error) {
				p, err := freePorts(m - 1)
				return append(p, first.distPort), err
			}
		}
		prepare := f.prepare
		f.prepare = func(s *Server) error {
			s.node = fmt.Sprintf("%s-%d@%s", name, k, addr)
			s.distAddr = addr
			if first != nil {
				home := filepath.Join(s.Dir, "home")
				if err := os.MkdirAll(home, 0o755); err != nil {
					return err
				}
				cookie, err := os.ReadFile(filepath.Join(first.home, ".erlang.cookie"))
				if err != nil {
					return err
				}
				dst := filepath.Join(home, ".erlang.cookie")
				os.Remove(dst)
				if err := os.WriteFile(dst, cookie, 0o400); err != nil {
					return err
				}
			}
			return prepare(s)
		}
		s, err := start(ctx, ok, f)
		if err != nil {
			return fail(fmt.Errorf("node %d: %w", k, err))
		}
		nodes = append(nodes, s)
		if first == nil {
			continue
		}
		if _, err := s.ctlRun(ctx, "join_cluster", first.node); err != nil {
			return fail(fmt.Errorf("node %d: %w\n%s", k, err, s.LogTail(30)))
		}
		// join_cluster restarts the node's ejabberd application: wait until
		// it serves c2s again.
		if err := s.waitReady(ctx); err != nil {
			return fail(fmt.Errorf("node %d after join_cluster: %w", k, err))
		}
	}
	out, err := nodes[0].ctlRun(ctx, "list_cluster")
	if err != nil {
		return fail(err)
	}
	for _, s := range nodes {
		if !containsWord(out, s.node) {
			return fail(fmt.Errorf("list_cluster on node 1 does not show %s: %s", s.node, out))
		}
	}
	return nodes, nil
}

// EjabberdCluster starts an ejabberd cluster of n nodes for the test (see
// StartEjabberdCluster), fails the test at once if it cannot, and stops
// every node when the test ends.
func EjabberdCluster(t testing.TB, o Options, n int) []*Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout*2)
	defer cancel()
	nodes, err := StartEjabberdCluster(ctx, o, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := len(nodes) - 1; i >= 0; i-- {
			if err := nodes[i].Stop(); err != nil {
				t.Error(err)
			}
		}
	})
	return nodes
}

// containsWord reports whether text holds w, delimited by anything that
// cannot be part of an Erlang node name.
func containsWord(text, w string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		j += i
		before := j == 0 || !nodeNameByte(text[j-1])
		after := j+len(w) == len(text) || !nodeNameByte(text[j+len(w)])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func nodeNameByte(c byte) bool {
	return c == '-' || c == '_' || c == '@' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
