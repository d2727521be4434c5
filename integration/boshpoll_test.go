package integration_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"boshd/bosh/client"
)

// pollingConfig makes polling sessions easy to watch: the advised interval
// runs from 1 s to 4 s (it is a quarter of the idle time, so it reaches
// 4 s after 16 s of silence), 'polling' is 1 s, and 'inactivity' is 2 s,
// shorter than poll_max: only the allowance that grows with the advised
// interval keeps a client that follows the advice alive.
const pollingConfig = `
[bosh]
inactivity = "2s"
polling = "1s"
[poll]
poll_min = "1s"
poll_max = "4s"
`

// advised returns the poll interval boshd advised in an answer of a
// polling session, checking that the X-Poll-Interval header and the
// boshd:poll-interval attribute (namespace urn:boshd) agree.
func advised(t *testing.T, b *client.Body) int {
	t.Helper()
	hdr := b.Header.Get("X-Poll-Interval")
	attr := b.Attrs["boshd:poll-interval"]
	if hdr == "" || attr == "" {
		t.Fatalf("answer without the advised interval: X-Poll-Interval %q, boshd:poll-interval %q\n%s", hdr, attr, b.Raw)
	}
	if hdr != attr {
		t.Fatalf("X-Poll-Interval %q but boshd:poll-interval %q", hdr, attr)
	}
	if ns := b.Attrs["xmlns:boshd"]; ns != "urn:boshd" {
		t.Fatalf("boshd prefix bound to %q, want urn:boshd\n%s", ns, b.Raw)
	}
	n, err := strconv.Atoi(hdr)
	if err != nil || n <= 0 {
		t.Fatalf("X-Poll-Interval %q is not a positive number of seconds", hdr)
	}
	return n
}

// connectPolling creates a BOSH polling session (XEP-0124 §12), asking
// for it with attr='0' (hold or wait).
func connectPolling(t *testing.T, ctx context.Context, url, domain, attr string) *client.Session {
	t.Helper()
	s, err := client.Connect(ctx, client.Config{URL: url, Domain: domain, Wait: 10,
		CreateAttrs: map[string]string{attr: "0"}})
	if err != nil {
		t.Fatalf("connect a polling session: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// TestBOSHPollingSession: a BOSH client that cannot hold requests
// (XEP-0124 §12, hold='0') logs in through boshd in front of a real
// Prosody, chats both ways with a normal BOSH user, then idles following
// the advised poll interval: the interval grows from poll_min towards
// poll_max, and the session outlives an inactivity limit shorter than the
// interval it was advised. A second polling session (wait='0') that polls
// faster than 'polling' is ended with policy-violation.
func TestBOSHPollingSession(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, pollingConfig)
	an, bn := user(t, srv, "poller"), user(t, srv, "holder")
	bob := login(t, b.URL, srv, bn, "PLAIN")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := connectPolling(t, ctx, b.URL, srv.Domain, "hold")
	cr := alice.CreateResponse
	if !alice.Polling() || cr.Attrs["hold"] != "0" || cr.Attrs["requests"] != "1" {
		t.Fatalf("creation answer hold=%q requests=%q: not a polling session\n%s", cr.Attrs["hold"], cr.Attrs["requests"], cr.Raw)
	}
	if cr.Attrs["polling"] != "1" {
		t.Errorf("polling=%q, want the configured 1", cr.Attrs["polling"])
	}
	if cr.Attrs["inactivity"] != "3" {
		t.Errorf("inactivity=%q, want inactivity + polling = 3", cr.Attrs["inactivity"])
	}
	if n := advised(t, cr); n != 1 {
		t.Errorf("creation answer advises %d s, want poll_min 1", n)
	}

	// SASL, restart, bind: every answer is immediate, so Login polls and
	// must keep 'polling' between empty polls.
	if err := alice.Login(ctx, an, "pw-"+an, "PLAIN", "poll"); err != nil {
		t.Fatalf("login over a polling session: %v", err)
	}
	if !strings.HasPrefix(alice.JID, an+"@") {
		t.Fatalf("bound JID %q", alice.JID)
	}

	// poll sends one empty request after waiting d, and returns the answer.
	poll := func(d time.Duration) *client.Body {
		t.Helper()
		time.Sleep(d)
		body, err := alice.Request(ctx, nil)
		if err != nil {
			t.Fatalf("poll after %v: %v", d, err)
		}
		return body
	}

	// Bob → Alice: Alice gets it on a poll made at the advised pace.
	send(t, bob, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='to-poller'><body>are you there?</body></message>`, alice.JID))
	got := false
	for i, wait := 0, time.Duration(0); i < 5 && !got; i++ {
		body := poll(wait)
		wait = time.Duration(advised(t, body)) * time.Second
		got = strings.Contains(string(body.Raw), "to-poller")
		if got && wait != time.Second {
			t.Errorf("the answer with a message advises %v, want poll_min 1s", wait)
		}
	}
	if !got {
		t.Fatalf("the polling client did not receive the message")
	}

	// Alice → Bob: a request with a stanza is answered at once.
	if err := alice.Send(ctx, []byte(fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='from-poller'><body>yes</body></message>`, bob.JID))); err != nil {
		t.Fatalf("send from the polling session: %v", err)
	}
	expect(t, bob, 10*time.Second, "<message", "id='from-poller'", "from='"+alice.JID+"'")

	// Idle, following the advice: the interval grows, never past poll_max.
	var seq []int
	next := 1
	for start := time.Now(); time.Since(start) < 25*time.Second; {
		body := poll(time.Duration(next) * time.Second)
		if len(body.Payloads) > 0 {
			t.Fatalf("idle poll got %s", body.Raw)
		}
		next = advised(t, body)
		seq = append(seq, next)
		if next == 4 {
			break
		}
	}
	t.Logf("advised intervals while idle: %v", seq)
	for i := 1; i < len(seq); i++ {
		if seq[i] < seq[i-1] {
			t.Fatalf("advised interval fell while idle: %v", seq)
		}
	}
	if seq[0] != 1 || seq[len(seq)-1] != 4 {
		t.Fatalf("advised intervals %v: want from poll_min 1 to poll_max 4", seq)
	}

	// Following the advice means 4 s without a request, more than the
	// inactivity of 2 s (and the 3 s told at creation): still alive.
	body := poll(4 * time.Second)
	if n := advised(t, body); n != 4 {
		t.Errorf("after 4 more idle seconds the advice is %d s, want poll_max 4", n)
	}
	send(t, bob, fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='wake'><body>still there?</body></message>`, alice.JID))
	if body := poll(time.Second); !strings.Contains(string(body.Raw), "wake") {
		// The message may need one more poll to arrive from the server.
		if body = poll(time.Second); !strings.Contains(string(body.Raw), "wake") {
			t.Fatalf("no message after the long idle poll: %s", body.Raw)
		}
	}

	// wait='0' makes a polling session too; polling it too fast (two
	// empty polls in a row, the first answered empty, well within
	// 'polling' of each other) ends it with policy-violation.
	eve := connectPolling(t, ctx, b.URL, srv.Domain, "wait")
	if ecr := eve.CreateResponse; !eve.Polling() || ecr.Attrs["wait"] != "0" || ecr.Attrs["polling"] != "1" {
		t.Fatalf("wait='0' creation answer is not a polling session's\n%s", ecr.Raw)
	}
	if n := advised(t, eve.CreateResponse); n != 1 {
		t.Errorf("wait='0' creation answer advises %d s, want poll_min 1", n)
	}
	if _, err := eve.Request(ctx, nil); err != nil {
		t.Fatalf("first poll: %v", err)
	}
	_, err := eve.Request(ctx, nil)
	var te *client.TerminateError
	if !errors.As(err, &te) || te.Condition != "policy-violation" {
		t.Fatalf("second poll at once: %v, want policy-violation", err)
	}
}
