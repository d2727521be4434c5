package fleet_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"boshd/bosh/client"
)

// TestDrainedNode: SIGTERM to a node with cluster.shutdown_grace set.
// /readyz turns 503 at once (/healthz stays 200) and HAProxy marks the
// node draining (NOLB); new logins go to the other nodes, and a creation
// request sent to the node itself is refused with system-shutdown; the
// node's own sessions keep chatting; one that ends by itself ends
// normally; the rest get system-shutdown when the grace runs out, not
// before; the process then exits and its log tells how many sessions the
// drain started and ended with.
func TestDrainedNode(t *testing.T) {
	const grace = 6 * time.Second
	f := startFleet(t, "", grace)
	names := f.users(t, "drain", 9)
	byNode := f.loginAll(t, names[:6])
	// The node with the most sessions (six over three: at least two, one
	// to end by itself and one for the grace to end) is drained.
	var victim *node
	var rest []string
	for _, n := range nodeNames {
		if victim == nil || len(byNode[n]) > len(byNode[victim.Name]) {
			victim = f.Node(n)
		}
	}
	for _, n := range nodeNames {
		if n != victim.Name {
			rest = append(rest, n)
		}
	}
	mine := byNode[victim.Name]
	other := byNode[rest[0]][0]
	time.Sleep(300 * time.Millisecond) // every Run holds its request now

	termed := time.Now()
	if err := victim.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "http://"+victim.Addr+"/readyz", http.StatusServiceUnavailable)
	if got := status(t, "http://"+victim.Addr+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while draining: %d, want 200", got)
	}
	f.WaitStates(t, "boshd", map[string]string{rest[0]: "UP", rest[1]: "UP", victim.Name: "NOLB"}, 5*time.Second)

	// New sessions go elsewhere; asked directly, the node refuses one with
	// system-shutdown, which clients answer by connecting again.
	for _, name := range names[6:] {
		s := f.login(t, name)
		if n := f.nodeOf(t, s.SID); n == victim {
			t.Fatalf("new login landed on the draining node")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := client.Connect(ctx, client.Config{URL: "http://" + victim.Addr + "/http-bind", Domain: f.Domain, Wait: 20})
	var te *client.TerminateError
	if !errors.As(err, &te) || te.Condition != "system-shutdown" {
		t.Fatalf("new session on the draining node: %v, want system-shutdown", err)
	}

	// The node's sessions go on, both ways.
	chat(t, mine[0], other, "drain-out")
	chat(t, other, mine[1], "drain-in")
	if time.Since(termed) >= grace {
		t.Fatalf("the chat took the whole grace (%v); the test proves nothing", time.Since(termed))
	}

	// One ends by itself, normally.
	if err := mine[0].Close(ctx); err != nil {
		t.Fatalf("closing a session of the draining node: %v", err)
	}
	// The others are ended by the shutdown when the grace runs out.
	for _, s := range mine[1:] {
		select {
		case <-s.Done():
		case <-time.After(grace + 10*time.Second):
			t.Fatalf("session %s alive %v after SIGTERM", s.SID, time.Since(termed))
		}
		ended := time.Since(termed)
		if !errors.As(s.Err(), &te) || te.Condition != "system-shutdown" {
			t.Fatalf("session %s ended with %v, want system-shutdown", s.SID, s.Err())
		}
		if ended < grace-500*time.Millisecond {
			t.Fatalf("session %s ended %v after SIGTERM, before the %v grace", s.SID, ended, grace)
		}
		t.Logf("session %s: system-shutdown %v after SIGTERM", s.SID, ended.Round(time.Millisecond))
	}
	select {
	case <-victim.Exited():
		if err := victim.ExitErr(); err != nil {
			t.Fatalf("drained node exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("drained node still running 10s after its grace")
	}
	log := victim.Output()
	for _, want := range []string{"draining: refusing new sessions", "sessions=" + strconv.Itoa(len(mine)), "drain over: grace ended", "remaining=" + strconv.Itoa(len(mine)-1)} {
		if !strings.Contains(log, want) {
			t.Errorf("drained node's log lacks %q", want)
		}
	}
	// Everyone else is untouched.
	chat(t, other, byNode[rest[1]][0], "after-drain")
}

// status GETs url and returns the HTTP status.
func status(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus waits (briefly: the change is immediate, the wait covers the
// signal's delivery) until url answers with want.
func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := status(t, url)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d, want %d", url, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
