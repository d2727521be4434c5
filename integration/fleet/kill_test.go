package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"boshd/bosh/client"
)

// TestKilledNode: kill -9 of one node. Each of its clients' held request
// is answered item-not-found (XEP-0124 §17.2) with HTTP 200 by a live node
// (HAProxy retries it there), at once rather than after a timeout; a fresh
// login lands on a live node; and the sessions on the other nodes lose
// nothing: a stream of messages between two of them, sent across the
// kill, arrives whole and in order, and none of them ends.
func TestKilledNode(t *testing.T) {
	f := startFleet(t, "", 0)
	names := f.users(t, "kill", 7)
	byNode := f.loginAll(t, names[:6])
	victim := f.Nodes[1]
	doomed := byNode[victim.Name]
	a, b := byNode["n1"][0], byNode["n3"][0]
	var survivors []*client.Session
	for _, n := range []string{"n1", "n3"} {
		survivors = append(survivors, byNode[n]...)
	}

	// Messages a→b before the kill…
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sendMsg := func(i int) {
		msg := fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='m%d'><body>%d</body></message>`, b.JID, i, i)
		if err := a.Send(ctx, []byte(msg)); err != nil {
			t.Fatalf("send m%d: %v", i, err)
		}
	}
	for i := range 5 {
		sendMsg(i)
	}
	time.Sleep(300 * time.Millisecond) // every Run holds its request now

	killed := time.Now()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	// …and after it.
	for i := 5; i < 10; i++ {
		sendMsg(i)
	}
	for _, s := range doomed {
		select {
		case <-s.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("session %s of the killed node still alive 15s later", s.SID)
		}
		took := time.Since(killed)
		var te *client.TerminateError
		if err := s.Err(); !errors.As(err, &te) || te.Condition != "item-not-found" {
			t.Fatalf("session %s ended with %v, want item-not-found", s.SID, err)
		}
		if te.Body == nil || te.Body.HTTPStatus != 200 {
			t.Fatalf("item-not-found for %s came with %+v, want HTTP 200", s.SID, te.Body)
		}
		// The time is measured, not asserted tightly: "at once" means far
		// below any timeout in the path (client 22s, HAProxy 90s).
		t.Logf("session %s: item-not-found %v after the kill", s.SID, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("item-not-found took %v: a timeout, not an answer at once", took)
		}
	}

	fresh := f.login(t, names[6])
	if n := f.nodeOf(t, fresh.SID); n == victim {
		t.Fatalf("fresh login landed on the killed node %s", n.Name)
	}
	for i := range 10 {
		expect(t, b, 15*time.Second, "<message", fmt.Sprintf("id='m%d'", i))
	}
	chat(t, fresh, a, "fresh-to-survivor")
	chat(t, a, fresh, "survivor-to-fresh")
	for _, s := range survivors {
		select {
		case <-s.Done():
			t.Errorf("session %s on a live node ended: %v", s.SID, s.Err())
		default:
		}
	}
}
