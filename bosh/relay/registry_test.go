package relay

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestRegistryLimits(t *testing.T) {
	type step struct {
		reg     int // which of the two registries sharing one counter
		addr    string
		wantErr error
	}
	tests := []struct {
		name                 string
		maxTotal, maxPerAddr int
		steps                []step
	}{
		{"no limits", 0, 0, []step{{0, "a", nil}, {1, "a", nil}, {0, "a", nil}}},
		{"total shared by front ends", 2, 0, []step{{0, "a", nil}, {1, "b", nil}, {0, "c", ErrTooManySessions}, {1, "d", ErrTooManySessions}}},
		{"per address shared by front ends", 0, 2, []step{{0, "a", nil}, {1, "a", nil}, {0, "a", ErrTooManyForAddress}, {1, "b", nil}}},
		{"total before per address", 1, 1, []step{{0, "a", nil}, {1, "a", ErrTooManySessions}}},
		{"exempt address not limited per address", 0, 1, []step{{0, "exempt", nil}, {1, "exempt", nil}, {0, "exempt", nil}, {0, "a", nil}, {1, "a", ErrTooManyForAddress}}},
		{"exempt address still counts in the total", 2, 1, []step{{0, "exempt", nil}, {1, "exempt", nil}, {0, "exempt", ErrTooManySessions}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCounter()
			exempt := WithExempt(func(addr string) bool { return addr == "exempt" })
			regs := []*Registry[int]{
				NewRegistry[int](tt.maxTotal, tt.maxPerAddr, c, exempt),
				NewRegistry[int](tt.maxTotal, tt.maxPerAddr, c, exempt),
			}
			admitted := 0
			for i, s := range tt.steps {
				r, err := regs[s.reg].Reserve(s.addr)
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: Reserve(%q) = %v, want %v", i, s.addr, err, s.wantErr)
				}
				if err == nil {
					admitted++
					if _, err := r.Commit(i); err != nil {
						t.Fatalf("step %d: Commit: %v", i, err)
					}
				}
			}
			if got := c.Total(); got != admitted {
				t.Errorf("counter total %d, want %d", got, admitted)
			}
		})
	}
}

func TestRegistryPlacesAreGivenBack(t *testing.T) {
	g := NewRegistry[string](1, 1, nil)
	r, err := g.Reserve("a")
	if err != nil {
		t.Fatal(err)
	}
	r.Cancel()
	r.Cancel() // a second Cancel must not give the place back twice
	r, err = g.Reserve("a")
	if err != nil {
		t.Fatalf("after Cancel: %v", err)
	}
	id, err := r.Commit("v")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := g.Get(id); !ok || v != "v" {
		t.Fatalf("Get(%q) = %q, %v", id, v, ok)
	}
	if _, err := g.Reserve("b"); !errors.Is(err, ErrTooManySessions) {
		t.Fatalf("full registry: %v", err)
	}
	g.Remove(id)
	g.Remove(id) // unknown by now: nothing to release
	if _, ok := g.Get(id); ok {
		t.Fatal("removed session still registered")
	}
	if g.Len() != 0 || g.counter.Total() != 0 {
		t.Fatalf("after Remove: %d sessions, counter %d", g.Len(), g.counter.Total())
	}
	if _, err := g.Reserve("a"); err != nil {
		t.Fatalf("after Remove: %v", err)
	}
}

func TestRegistryRefusesAfterClose(t *testing.T) {
	g := NewRegistry[int](0, 0, nil)
	pending, err := g.Reserve("a")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := g.Reserve("a")
	id, _ := r.Commit(7)
	if live := g.Close(); len(live) != 1 || live[0] != 7 {
		t.Fatalf("Close returned %v, want the live session", live)
	}
	if _, err := g.Reserve("a"); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("Reserve after Close: %v", err)
	}
	if _, err := pending.Commit(8); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("Commit after Close: %v", err)
	}
	g.Remove(id)
	if n := g.counter.Total(); n != 0 {
		t.Fatalf("a refused Commit kept its place: counter %d", n)
	}
}

// TestShutdownWaitsForRetired checks that Shutdown returns only once every
// retired session has stopped, including one retired while Shutdown is
// already waiting (a session whose end races the shutdown), and that it
// gives up when its context ends. Run with -race: counting with a
// WaitGroup, as an earlier version did, is a race in exactly that case.
func TestShutdownWaitsForRetired(t *testing.T) {
	g, ids := registryWith(2)
	release := make(chan struct{})
	stopped := make(chan int, 2)
	stop := func(i int) func() {
		return func() {
			<-release
			stopped <- i
		}
	}
	g.Retire(ids[0], stop(0))

	done := make(chan error, 1)
	ended := make(chan int, 2)
	go func() {
		done <- g.Shutdown(context.Background(), func(v int) { ended <- v })
	}()
	if v := <-ended; v != 1 {
		t.Fatalf("Shutdown ended session %d, want the live one (1)", v)
	}
	g.Retire(ids[1], stop(1)) // while Shutdown waits
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while sessions were still stopping", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if len(stopped) != 2 {
		t.Fatalf("Shutdown returned with %d of 2 sessions stopped", len(stopped))
	}

	// A stop that never ends: Shutdown gives up with the context.
	g2 := NewRegistry[int](0, 0, nil)
	r, _ := g2.Reserve("a")
	id, _ := r.Commit(0)
	block := make(chan struct{})
	defer close(block)
	g2.Retire(id, func() { <-block })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g2.Shutdown(ctx, func(int) {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stuck session: %v, want the context's error", err)
	}
}

// TestRetireRacesShutdown retires sessions from their own goroutines while
// Shutdown runs with nothing left to wait for: a session whose upstream
// failed at the moment the process was told to stop. With -race this
// fails if Retire and Shutdown's waiting are not synchronised.
func TestRetireRacesShutdown(t *testing.T) {
	for range 20 {
		g, ids := registryWith(4)
		retired := make(chan struct{})
		go func() {
			defer close(retired)
			for _, id := range ids {
				g.Retire(id, func() {})
			}
		}()
		if err := g.Shutdown(context.Background(), func(int) {}); err != nil {
			t.Fatal(err)
		}
		<-retired
		if err := g.Shutdown(context.Background(), func(int) {}); err != nil {
			t.Fatal(err)
		}
	}
}

// registryWith returns a registry without limits holding n sessions, the
// ints 0 to n-1, and their IDs.
func registryWith(n int) (*Registry[int], []string) {
	g := NewRegistry[int](0, 0, nil)
	var ids []string
	for i := range n {
		r, _ := g.Reserve("a")
		id, _ := r.Commit(i)
		ids = append(ids, id)
	}
	return g, ids
}

func TestNewIDIsUnpredictableAndURLSafe(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID()
		if len(id) != 22 {
			t.Fatalf("NewID() = %q: want 22 characters (128 bits)", id)
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("NewID() = %q: %q is not URL-safe", id, c)
			}
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

// TestShutdownNeverMissesARetiringSession: a session retired while
// Shutdown runs is either ended by Shutdown or counted as stopping when
// Shutdown looks, never neither: Shutdown must not return before the
// session's upstream is closed. Retire used to remove the session and
// count it in two steps, releasing its place in the limits in between;
// holding the counter's lock parks Retire exactly there.
func TestShutdownNeverMissesARetiringSession(t *testing.T) {
	g, ids := registryWith(1)
	var stopped atomic.Bool
	g.counter.mu.Lock()
	go g.Retire(ids[0], func() { stopped.Store(true) })
	for g.Len() != 0 {
		runtime.Gosched()
	}
	done := make(chan bool, 1)
	go func() {
		g.Shutdown(context.Background(), func(int) { t.Error("Shutdown ended a retired session") })
		done <- stopped.Load()
	}()
	returned, ok := false, false
	select {
	case ok = <-done:
		returned = true
	case <-time.After(100 * time.Millisecond):
		// Shutdown waits for the retiring session, as it must.
	}
	g.counter.mu.Unlock()
	if !returned {
		ok = <-done
	}
	if !ok {
		t.Fatal("Shutdown returned while a retired session had not stopped")
	}
}

// events records an Observer's calls.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string)                     { e.mu.Lock(); e.log = append(e.log, s); e.mu.Unlock() }
func (e *events) SessionCreated(tr, domain string) { e.add("created " + tr + " " + domain) }
func (e *events) SessionEnded(tr, domain, cond string) {
	e.add("ended " + tr + " " + domain + " " + cond)
}
func (e *events) UpstreamConnected(tr string, d time.Duration) { e.add("connected " + tr) }
func (e *events) Held(tr string, delta int)                    { e.add(fmt.Sprintf("held %s %+d", tr, delta)) }
func (e *events) Stanzas(tr string, out bool, count, n int) {
	e.add(fmt.Sprintf("stanzas %s out=%v %d %d", tr, out, count, n))
}

// TestRegistryOptionsAndDrain: the transport name and observer see each
// opened session's creation and end, with its domain (a session retired
// before its upstream opened is neither); the ID source is pluggable;
// Drain refuses new sessions and lets the existing ones end.
func TestRegistryOptionsAndDrain(t *testing.T) {
	ev := &events{}
	n := 0
	g := NewRegistry[int](0, 0, nil, WithTransport("ws"), WithObserver(ev),
		WithIDs(func() string { n++; return fmt.Sprintf("node1.%d", n) }))
	r, _ := g.Reserve("a")
	id, err := r.Commit(1)
	if err != nil || id != "node1.1" {
		t.Fatalf("Commit: %q, %v", id, err)
	}
	r2, _ := g.Reserve("b")
	never, _ := r2.Commit(2)
	g.Opened(id, "example.com")
	g.RetireWith(never, "remote-connection-failed", nil)
	g.Held(+1)
	g.HeldEnded()
	g.Drain()
	if _, err := g.Reserve("a"); !errors.Is(err, ErrDraining) {
		t.Fatalf("Reserve while draining: %v", err)
	}
	if v, ok := g.Get(id); !ok || v != 1 {
		t.Fatal("draining dropped a live session")
	}
	g.RetireWith(id, "policy-violation", nil)
	want := []string{"created ws example.com", "held ws +1", "held ws -1", "ended ws example.com policy-violation"}
	if fmt.Sprint(ev.log) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", ev.log, want)
	}
}

// TestDialContextCancelledByShutdown: a dial in progress when the
// registry shuts down gives up at once, for every front end alike.
func TestDialContextCancelledByShutdown(t *testing.T) {
	g := NewRegistry[int](0, 0, nil)
	ctx, cancel := g.DialContext(context.Background(), time.Hour)
	defer cancel()
	if g.Closed() || ctx.Err() != nil {
		t.Fatal("dial context done before Shutdown")
	}
	if err := g.Shutdown(context.Background(), func(int) {}); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done() // would block for an hour without the cancellation
	if !g.Closed() {
		t.Fatal("Closed is false after Shutdown")
	}
}

// TestRegistryNodeTagsIDs: FrontEnd.Node names the node in every ID
// (NodeIDs), and the registry finds the session by it.
func TestRegistryNodeTagsIDs(t *testing.T) {
	for _, node := range []string{"", "n2", "eu-west-1a"} {
		g := NewRegistry[int](0, 0, nil, FrontEnd{Node: node}.RegistryOptions("bosh")...)
		r, err := g.Reserve("a")
		if err != nil {
			t.Fatal(err)
		}
		id, err := r.Commit(1)
		if err != nil {
			t.Fatal(err)
		}
		prefix, random, tagged := strings.Cut(id, ".")
		if node == "" {
			if tagged || len(id) != 22 {
				t.Errorf("untagged registry issued %q; want 22 characters of random", id)
			}
		} else if !tagged || prefix != node || len(random) != 22 {
			t.Errorf("node %q: issued %q; want %q + \".\" + 22 characters of random", node, id, node)
		}
		if v, ok := g.Get(id); !ok || v != 1 {
			t.Errorf("Get(%q) = %v, %v", id, v, ok)
		}
	}
}

// TestRegistryDrainRefusesNewKeepsOld: a reservation taken before Drain
// still commits; later ones are refused.
func TestRegistryDrainRefusesNewKeepsOld(t *testing.T) {
	g := NewRegistry[int](0, 0, nil)
	r, err := g.Reserve("a")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := r.Commit(1)
	// A reservation made before the drain still commits: its client is
	// already being served.
	inFlight, err := g.Reserve("b")
	if err != nil {
		t.Fatal(err)
	}
	g.Drain()
	if _, err := g.Reserve("c"); !errors.Is(err, ErrDraining) {
		t.Fatalf("Reserve while draining = %v, want ErrDraining", err)
	}
	if _, err := inFlight.Commit(2); err != nil {
		t.Fatalf("Commit of a reservation made before the drain: %v", err)
	}
	if _, ok := g.Get(old); !ok || g.Len() != 2 {
		t.Fatalf("draining dropped sessions: Len %d", g.Len())
	}
}

// TestShutdownWaitsForBackground: a stream closed alone while its session
// lives on (Background) is waited for by Shutdown like a retired
// session's, and the session stays registered.
func TestShutdownWaitsForBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, _ := registryWith(1)
		release := make(chan struct{})
		g.Background(func() { <-release })
		if n := g.Len(); n != 1 {
			t.Fatalf("%d sessions after Background, want the 1 still live", n)
		}
		done := make(chan error, 1)
		go func() { done <- g.Shutdown(context.Background(), func(int) {}) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v while a stream was still closing", err)
		default:
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
}
