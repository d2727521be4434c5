package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"boshd/bench/internal/proc"
	"boshd/integration/servers"
)

// fleet is one step's processes: the upstream servers, the boshd nodes
// and the HAProxy processes, with the URLs boshload is pointed at.
type fleet struct {
	domain   string
	upstream []*servers.Server
	nodes    []*proc.Boshd
	lbs      []*servers.HAProxy
	urls     []string
	// pids names every measured process for boshload -pids.
	pids []string
}

// startFleet starts the upstream servers with users registered, then the
// boshd nodes, then HAProxy.
func startFleet(ctx context.Context, c config, boshdBin string, users map[string]string) (f *fleet, err error) {
	f = &fleet{}
	defer func() {
		if err != nil {
			f.stop()
			f = nil
		}
	}()
	opts := servers.Options{Backlog: 1024, LoadTest: true}
	if c.upstream == "ejabberd" {
		logf("starting an ejabberd cluster of %d nodes", c.servers)
		f.upstream, err = servers.StartEjabberdCluster(ctx, opts, c.servers)
		if err != nil {
			return f, err
		}
		// The nodes share their accounts (mnesia): register on the first.
		if err := f.upstream[0].RegisterMany(ctx, users); err != nil {
			return f, err
		}
	} else {
		for i := range c.servers {
			s, err := servers.StartProsody(ctx, opts)
			if err != nil {
				return f, err
			}
			f.upstream = append(f.upstream, s)
			// Prosody does not cluster: every server has every account.
			if err := s.RegisterMany(ctx, users); err != nil {
				return f, err
			}
			logf("prosody %d up on %s (pid %d), %d accounts", i+1, s.Addr, s.PID, len(users))
		}
	}
	f.domain = f.upstream[0].Domain
	for i, s := range f.upstream {
		f.pids = append(f.pids, fmt.Sprintf("%s-%d=%d", s.Kind, i+1, s.PID))
	}
	env := map[string]string{}
	for k := 1; k <= c.nodes; k++ {
		up := f.upstream[(k-1)%len(f.upstream)]
		name := fmt.Sprintf("n%d", k)
		n, err := startNode(boshdBin, name, f.domain, up.Addr)
		if err != nil {
			return f, err
		}
		f.nodes = append(f.nodes, n)
		f.urls = append(f.urls, n.URL)
		f.pids = append(f.pids, fmt.Sprintf("boshd-%s=%d", name, n.Cmd.Process.Pid))
		env["BOSHD_N"+fmt.Sprint(k)] = strings.TrimSuffix(strings.TrimPrefix(n.URL, "http://"), "/http-bind")
	}
	logf("%d boshd nodes up: %s", len(f.nodes), strings.Join(f.urls, " "))
	if c.lbs == 0 {
		return f, nil
	}
	shipped, err := os.ReadFile(c.haproxyCfg)
	if err != nil {
		return f, err
	}
	cfgText, err := haproxyForNodes(string(shipped), c.nodes)
	if err != nil {
		return f, err
	}
	dir, err := os.MkdirTemp("", "scale-haproxy-")
	if err != nil {
		return f, err
	}
	defer os.RemoveAll(dir) // HAProxy has read it by the time it listens
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return f, err
	}
	f.urls = nil
	for i := range c.lbs {
		h, err := servers.StartHAProxy(ctx, servers.HAProxyOptions{Config: cfgPath, Env: env, FrontendVar: "BOSHD_FRONTEND", SocketVar: "HAPROXY_SOCKET"})
		if err != nil {
			return f, err
		}
		f.lbs = append(f.lbs, h)
		f.urls = append(f.urls, "http://"+h.Addr+"/http-bind")
		if pid := listenerPID(h); pid > 0 {
			f.pids = append(f.pids, fmt.Sprintf("haproxy-%d=%d", i+1, pid))
		}
	}
	if err := waitAllUp(ctx, f.lbs, c.nodes); err != nil {
		return f, err
	}
	logf("%d HAProxy processes up: %s", len(f.lbs), strings.Join(f.urls, " "))
	return f, nil
}

// listenerPID is the PID of the HAProxy process: the owner of its admin
// socket's directory is not enough, so it is read from "show info".
func listenerPID(h *servers.HAProxy) int {
	c, err := net.DialTimeout("unix", h.Socket, 2*time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show info\n")); err != nil {
		return 0
	}
	buf := make([]byte, 64<<10)
	var all []byte
	for {
		n, err := c.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			break
		}
	}
	var pid int
	for _, l := range strings.Split(string(all), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid: "); ok {
			fmt.Sscan(v, &pid)
		}
	}
	return pid
}

// waitAllUp waits until every HAProxy reports every node UP.
func waitAllUp(ctx context.Context, lbs []*servers.HAProxy, nodes int) error {
	for _, h := range lbs {
		for {
			st, err := h.ServerStates("boshd")
			up := 0
			for _, s := range st {
				if s == "UP" {
					up++
				}
			}
			if err == nil && up == nodes {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("haproxy %s: nodes %v (%v)", h.Addr, st, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// stop ends every process of the fleet, the front first.
func (f *fleet) stop() {
	for _, h := range f.lbs {
		h.Stop()
	}
	for _, n := range f.nodes {
		n.Stop()
	}
	for i := len(f.upstream) - 1; i >= 0; i-- {
		f.upstream[i].Stop()
	}
}

// startNode runs one boshd node named name in front of upstream addr.
func startNode(bin, name, domain, addr string) (*proc.Boshd, error) {
	return proc.StartBoshd(bin, proc.BoshdOptions{Name: "boshd " + name, Config: func(listen, _ string) string {
		return fmt.Sprintf(`[http]
listen = %q
[bosh]
max_sessions = 30000
max_sessions_per_address = 0
[upstream]
tls = "off"
[[domain]]
name = %q
routes = [%q]
[cluster]
node_id = %q
[log]
level = "warn"
`, listen, domain, addr, name)
	}})
}

// Lines of the shipped recipe that name node n1; they are the pattern of
// every node's lines.
var (
	useServerLine = regexp.MustCompile(`^\s*use-server (n\d+) `)
	serverLine    = regexp.MustCompile(`^\s*server (n\d+) `)
)

// haproxyForNodes extends the shipped HAProxy recipe (written for n1, n2,
// n3) to nodes n1…nk: n1's "use-server" rules and "server" line are
// repeated for every node with its name and its BOSHD_N<k> variable, and
// the other nodes' lines are dropped. Everything else is kept as shipped.
func haproxyForNodes(shipped string, k int) (string, error) {
	lines := strings.SplitAfter(shipped, "\n")
	var out []string
	var use, srv []string
	useAt, srvAt := -1, -1
	for _, l := range lines {
		if m := useServerLine.FindStringSubmatch(l); m != nil {
			if useAt < 0 {
				useAt = len(out)
			}
			if m[1] == "n1" {
				use = append(use, l)
			}
			continue
		}
		if m := serverLine.FindStringSubmatch(l); m != nil {
			if srvAt < 0 {
				srvAt = len(out)
			}
			if m[1] == "n1" {
				srv = append(srv, l)
			}
			continue
		}
		out = append(out, l)
	}
	if len(use) == 0 || len(srv) != 1 || srvAt < useAt {
		return "", fmt.Errorf("haproxy recipe: want use-server rules and one server line for n1, found %d and %d", len(use), len(srv))
	}
	forNode := func(pattern []string, i int) []string {
		r := strings.NewReplacer(`]n1\.`, fmt.Sprintf(`]n%d\.`, i), "^n1:", fmt.Sprintf("^n%d:", i),
			"use-server n1 ", fmt.Sprintf("use-server n%d ", i), "server n1 ", fmt.Sprintf("server n%d ", i),
			"BOSHD_N1}", fmt.Sprintf("BOSHD_N%d}", i))
		var ls []string
		for _, l := range pattern {
			ls = append(ls, r.Replace(l))
		}
		return ls
	}
	var useAll, srvAll []string
	for i := 1; i <= k; i++ {
		useAll = append(useAll, forNode(use, i)...)
		srvAll = append(srvAll, forNode(srv, i)...)
	}
	res := append([]string{}, out[:useAt]...)
	res = append(res, useAll...)
	res = append(res, out[useAt:srvAt]...)
	res = append(res, srvAll...)
	res = append(res, out[srvAt:]...)
	return strings.Join(res, ""), nil
}
