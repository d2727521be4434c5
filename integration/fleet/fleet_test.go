package fleet_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"boshd/bosh/client"
	"boshd/integration/servers"
)

// The shared parts of a run: the boshd binary (servers.BoshdBinary) and
// the ejabberd cluster, started once; every test starts its own boshd
// nodes and HAProxy.
var (
	clusterOnce sync.Once
	clusterErr  error
	ejabberds   []*servers.Server
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(ejabberds) - 1; i >= 0; i-- {
		ejabberds[i].Stop()
	}
	servers.RemoveBoshdBinary()
	os.Exit(code)
}

// cluster returns the two-node ejabberd cluster, started once per run.
func cluster(t *testing.T) []*servers.Server {
	t.Helper()
	clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ejabberds, clusterErr = servers.StartEjabberdCluster(ctx, servers.Options{}, 2)
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return ejabberds
}

// haproxyCfg is the shipped recipe, used as is.
const haproxyCfg = "../../deploy/haproxy.cfg"

// nodeNames are the server names in deploy/haproxy.cfg.
var nodeNames = []string{"n1", "n2", "n3"}

// node is one boshd node of the fleet.
type node = servers.FleetNode

// fleet is three boshd nodes behind HAProxy over the ejabberd cluster;
// node i is routed to ejabberd node i mod 2.
type fleet struct {
	*servers.Fleet
	// BOSH and Poll are the fleet's endpoints, through HAProxy.
	BOSH, Poll string
	Domain     string
	ejabberd   *servers.Server // where accounts are made (shared by the cluster)
}

// startFleet starts the fleet; extra is TOML added to every node's
// configuration, grace its cluster.shutdown_grace. Node n1 takes its node
// id from the file, n2 and n3 from the -node-id flag, so that both ways
// are used.
func startFleet(t *testing.T, extra string, grace time.Duration) *fleet {
	t.Helper()
	ej := cluster(t)
	upstream := map[string]*servers.Server{}
	for i, name := range nodeNames {
		upstream[name] = ej[i%len(ej)]
	}
	f := servers.StartFleet(t, servers.FleetOptions{
		Nodes:         nodeNames,
		HAProxyConfig: haproxyCfg,
		Config: func(name, listen string) string {
			cluster := fmt.Sprintf("[cluster]\nshutdown_grace = %q\n", grace.String())
			if name == "n1" {
				cluster += fmt.Sprintf("node_id = %q\n", name)
			}
			up := upstream[name]
			return fmt.Sprintf("[http]\nlisten = %q\n%s%s\n[[domain]]\nname = %q\nroutes = [%q]\n[log]\nlevel = \"debug\"\n",
				listen, cluster, extra, up.Domain, up.Addr)
		},
		Args: func(name string) []string {
			if name == "n1" {
				return nil
			}
			return []string{"-node-id", name}
		},
	})
	return &fleet{
		Fleet:    f,
		BOSH:     "http://" + f.LB.Addr + "/http-bind",
		Poll:     "http://" + f.LB.Addr + "/http-poll",
		Domain:   ej[0].Domain,
		ejabberd: ej[0],
	}
}

// nodeOf returns the node named by a session id ("n2.Xy…").
func (f *fleet) nodeOf(t *testing.T, sid string) *node {
	t.Helper()
	name, _, _ := strings.Cut(sid, ".")
	n := f.Node(name)
	if n == nil {
		t.Fatalf("sid %q names no node of the fleet", sid)
	}
	return n
}

// users registers n fresh accounts on the cluster and returns their names
// (the password of each is "pw-" + name).
func (f *fleet) users(t *testing.T, prefix string, n int) []string {
	t.Helper()
	stamp := time.Now().UnixNano() % 1e9
	m := map[string]string{}
	var names []string
	for i := range n {
		name := fmt.Sprintf("%s%d-%d", prefix, stamp, i)
		names = append(names, name)
		m[name] = "pw-" + name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.ejabberd.RegisterMany(ctx, m); err != nil {
		t.Fatal(err)
	}
	return names
}

// login connects through HAProxy and logs in, then keeps a request held
// (client.Run) until the test ends, like a browser client.
func (f *fleet) login(t *testing.T, name string) *client.Session {
	t.Helper()
	s := f.connect(t, name)
	keepRunning(t, s)
	return s
}

// loginAll logs every user in through HAProxy, one after the other, checks
// that each sid is node-tagged and that every node got a session, and
// returns the sessions by node name.
func (f *fleet) loginAll(t *testing.T, names []string) map[string][]*client.Session {
	t.Helper()
	byNode := map[string][]*client.Session{}
	for _, name := range names {
		s := f.login(t, name)
		if !sidFormat.MatchString(s.SID) {
			t.Fatalf("sid %q is not node.random", s.SID)
		}
		n := f.nodeOf(t, s.SID)
		byNode[n.Name] = append(byNode[n.Name], s)
	}
	for _, n := range nodeNames {
		if len(byNode[n]) == 0 {
			t.Fatalf("no session landed on %s: %d, %d, %d", n, len(byNode["n1"]), len(byNode["n2"]), len(byNode["n3"]))
		}
	}
	return byNode
}

// connect connects through HAProxy and logs in, without holding a request.
func (f *fleet) connect(t *testing.T, name string) *client.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, client.Config{URL: f.BOSH, Domain: f.Domain, Wait: 20})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if err := s.Login(ctx, name, "pw-"+name, "PLAIN", "fleet"); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return s
}

// keepRunning keeps a request of s held (client.Run) until the test ends;
// the cleanup closes the session and stops Run, reading Receive meanwhile
// so that nothing blocks on a full channel.
func keepRunning(t *testing.T, s *client.Session) {
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(runCtx)
	}()
	t.Cleanup(func() {
		quit, drained := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(drained)
			for recv := s.Receive(); ; {
				select {
				case _, ok := <-recv:
					if !ok {
						recv = nil
					}
				case <-quit:
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
		stop()
		<-done
		close(quit)
		<-drained
	})
}

// chat sends a message from one session to another and waits for it.
func chat(t *testing.T, from, to *client.Session, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msg := fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='%s'><body>%s</body></message>`, to.JID, id, id)
	if err := from.Send(ctx, []byte(msg)); err != nil {
		t.Fatalf("send %s from %s: %v", id, from.SID, err)
	}
	expect(t, to, 15*time.Second, "<message", "id='"+id+"'")
}

// expect waits for a stanza on s containing every one of want.
func expect(t *testing.T, s *client.Session, within time.Duration, want ...string) string {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case st, ok := <-s.Receive():
			if !ok {
				t.Fatalf("session %s ended (%v) while waiting for %q", s.SID, s.Err(), want)
			}
			all := true
			for _, w := range want {
				all = all && strings.Contains(string(st), w)
			}
			if all {
				return string(st)
			}
		case <-timeout:
			t.Fatalf("session %s: no stanza with %q within %v", s.SID, want, within)
		}
	}
}

// post sends one raw request body to url and returns the status and body.
func post(t *testing.T, url, contentType, body string) (int, http.Header, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
