package integration_test

import (
	"bytes"
	"context"
	"errors"
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

// TestClientAgainstPeerBOSH proves boshd's BOSH client (package
// bosh/client) against the connection managers built into the real
// servers, Prosody's mod_bosh and ejabberd's mod_bosh, before boshd is in
// the picture: two users log in with each SASL mechanism (XEP-0206 §5),
// exchange messages both ways through held requests (XEP-0124 §8) and
// terminate (§13). If the client passes here, a failure against boshd is
// boshd's.
func TestClientAgainstPeerBOSH(t *testing.T) {
	t.Parallel()
	starts := []struct {
		name  string
		start func(testing.TB, servers.Options) *servers.Server
	}{
		{"prosody", servers.Prosody},
		{"ejabberd", servers.Ejabberd},
	}
	for _, st := range starts {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			srv := st.start(t, servers.Options{OwnBOSH: true})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			users := map[string]string{"alice": "alice-pw", "bob": "b0b pass&'<"}
			if err := srv.RegisterMany(ctx, users); err != nil {
				t.Fatal(err)
			}
			variants := []struct {
				name, mech string
				config     func(*client.Config)
			}{
				{"PLAIN", "PLAIN", func(*client.Config) {}},
				{"SCRAM-SHA-1", "SCRAM-SHA-1", func(*client.Config) {}},
				// Key sequencing (XEP-0124 §15, switching sequences every
				// three requests, §15.5) and acknowledgements (§9.2).
				{"keys-and-acks", "SCRAM-SHA-1", func(c *client.Config) { c.Keys, c.KeyCount, c.Ack = true, 4, true }},
			}
			for _, v := range variants {
				config := v.config
				if st.name == "ejabberd" {
					// ejabberd's mod_bosh holds a request that overtook
					// an earlier one until its next request (the earlier
					// one is held for 'wait', then answered without
					// releasing the later one), and answers the client's
					// retransmission with other-request: a
					// ping-pong whose poll and message race each other
					// ends the session now and then (1 run in 4 here
					// under load). A longer head start for the earlier
					// request keeps them in order; boshd itself takes
					// them in any order (bosh/TestPayloadsForwardedInRIDOrder).
					config = func(c *client.Config) {
						v.config(c)
						c.WriteGap = ejabberdWriteGap
					}
				}
				t.Run(v.name, func(t *testing.T) {
					chat(t, srv, v.mech, users, config)
				})
			}
			t.Run("wrong-password", func(t *testing.T) {
				s, err := client.Connect(ctx, client.Config{URL: srv.BOSHURL, Domain: srv.Domain})
				if err != nil {
					t.Fatal(err)
				}
				err = s.Login(ctx, "alice", "not-the-password", "SCRAM-SHA-1", "r")
				var se *client.SASLError
				if !errors.As(err, &se) || se.Condition != "not-authorized" {
					t.Fatalf("Login with a wrong password: %v, want SASL not-authorized", err)
				}
				if err := s.Close(ctx); err != nil {
					t.Fatalf("Close after failed login: %v", err)
				}
			})
		})
	}
}

// ejabberdWriteGap is the head start a new request gives the one before
// it against ejabberd's own BOSH (client.Config.WriteGap).
const ejabberdWriteGap = 25 * time.Millisecond

// chat logs alice and bob in with mech, has them exchange messages in both
// directions, then play ping-pong (each answers the moment the other's
// message arrives, the pattern that makes a client's next poll and its
// answer race to the CM), and closes both sessions.
func chat(t *testing.T, srv *servers.Server, mech string, users map[string]string, config func(*client.Config)) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	login := func(user string) *client.Session {
		c := client.Config{URL: srv.BOSHURL, Domain: srv.Domain, Wait: 10, HTTPClient: traceClient(t, user)}
		config(&c)
		s, err := client.Connect(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if s.Params.Requests < 2 {
			t.Errorf("%s: creation response %s: want requests ≥ 2", user, s.CreateResponse.Raw)
		}
		if err := s.Login(ctx, user, users[user], mech, "peers"); err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if want := user + "@" + srv.Domain + "/peers"; s.JID != want {
			t.Errorf("%s: bound JID %q, want %q", user, s.JID, want)
		}
		return s
	}
	alice, bob := login("alice"), login("bob")

	var wg sync.WaitGroup
	runErr := make([]error, 2)
	for i, s := range []*client.Session{alice, bob} {
		wg.Go(func() { runErr[i] = s.Run(ctx) })
	}
	for _, s := range []*client.Session{alice, bob} {
		if err := s.Send(ctx, []byte("<presence xmlns='jabber:client'/>")); err != nil {
			t.Fatal(err)
		}
	}

	exchange := func(from, to *client.Session, text string) {
		t.Helper()
		msg := fmt.Sprintf("<message xmlns='jabber:client' type='chat' id='%s' to='%s'><body>%s</body></message>", text, to.JID, text)
		if err := from.Send(ctx, []byte(msg)); err != nil {
			t.Fatalf("send %s: %v", text, err)
		}
		got := awaitStanza(t, ctx, to, func(st []byte) bool {
			return bytes.HasPrefix(st, []byte("<message")) && bytes.Contains(st, []byte("<body>"+text+"</body>"))
		})
		if !bytes.Contains(got, []byte(from.JID)) {
			t.Errorf("message %s arrived without from=%s: %s", text, from.JID, got)
		}
	}
	for i := range 3 {
		exchange(alice, bob, fmt.Sprintf("a2b-%d", i))
		exchange(bob, alice, fmt.Sprintf("b2a-%d", i))
	}
	// Two messages in one request arrive in order.
	m := func(id string) []byte {
		return fmt.Appendf(nil, "<message xmlns='jabber:client' type='chat' to='%s'><body>%s</body></message>", bob.JID, id)
	}
	if err := alice.Send(ctx, m("first"), m("second")); err != nil {
		t.Fatal(err)
	}
	awaitStanza(t, ctx, bob, func(st []byte) bool { return bytes.Contains(st, []byte("<body>first</body>")) })
	awaitStanza(t, ctx, bob, func(st []byte) bool {
		if bytes.Contains(st, []byte("<body>first</body>")) {
			t.Error("first message delivered twice")
		}
		return bytes.Contains(st, []byte("<body>second</body>"))
	})

	// Ping-pong: bob answers each ping as soon as it arrives.
	const rounds = 30
	pongs := make(chan error, 1)
	go func() {
		for i := range rounds {
			want := fmt.Appendf(nil, "<body>ping-%d</body>", i)
			st, err := nextStanza(ctx, bob, func(st []byte) bool { return bytes.Contains(st, want) })
			if err == nil {
				err = bob.Send(ctx, fmt.Appendf(nil, "<message xmlns='jabber:client' type='chat' to='%s'><body>pong-%d</body></message>", alice.JID, i))
			}
			if err != nil {
				pongs <- fmt.Errorf("bob, round %d: %w (last %s)", i, err, st)
				return
			}
		}
		pongs <- nil
	}()
	for i := range rounds {
		if err := alice.Send(ctx, fmt.Appendf(nil, "<message xmlns='jabber:client' type='chat' to='%s'><body>ping-%d</body></message>", bob.JID, i)); err != nil {
			t.Fatal(err)
		}
		want := fmt.Appendf(nil, "<body>pong-%d</body>", i)
		if _, err := nextStanza(ctx, alice, func(st []byte) bool { return bytes.Contains(st, want) }); err != nil {
			t.Fatalf("alice, round %d: %v", i, err)
		}
	}
	if err := <-pongs; err != nil {
		t.Fatal(err)
	}

	for _, s := range []*client.Session{alice, bob} {
		if err := s.Close(ctx, []byte("<presence xmlns='jabber:client' type='unavailable'/>")); err != nil {
			t.Errorf("close %s: %v", s.JID, err)
		}
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for _, s := range []*client.Session{alice, bob} {
			for range s.Receive() {
			}
		}
	}()
	wg.Wait()
	<-drained
	for i, err := range runErr {
		if !errors.Is(err, client.ErrClosed) {
			t.Errorf("Run of session %d ended with %v, want ErrClosed", i, err)
		}
	}
}

// nextStanza reads s's stanzas until match accepts one.
func nextStanza(ctx context.Context, s *client.Session, match func([]byte) bool) ([]byte, error) {
	for {
		select {
		case st, ok := <-s.Receive():
			if !ok {
				return nil, fmt.Errorf("%s: session ended: %v", s.JID, s.Err())
			}
			if match(st) {
				return st, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", s.JID, ctx.Err())
		}
	}
}

// awaitStanza reads s's stanzas until match accepts one.
func awaitStanza(t *testing.T, ctx context.Context, s *client.Session, match func([]byte) bool) []byte {
	t.Helper()
	var seen []string
	for {
		select {
		case st, ok := <-s.Receive():
			if !ok {
				t.Fatalf("%s: session ended (%v) before the stanza arrived; saw %s", s.JID, s.Err(), strings.Join(seen, "\n"))
			}
			if match(st) {
				return st
			}
			seen = append(seen, string(st))
		case <-ctx.Done():
			t.Fatalf("%s: stanza did not arrive; saw %s", s.JID, strings.Join(seen, "\n"))
		}
	}
}

// traceClient logs every request and answer of a session when BOSH_TRACE
// is set, for debugging a peer's behaviour; else it is the default client.
func traceClient(t *testing.T, who string) *http.Client {
	if os.Getenv("BOSH_TRACE") == "" {
		return nil
	}
	return &http.Client{Transport: &tracer{t: t, who: who, next: client.NewTransport()}}
}

type tracer struct {
	t    *testing.T
	who  string
	next http.RoundTripper
}

func (tr *tracer) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	start := time.Now()
	tr.t.Logf("%s %s → %s", start.Format("15:04:05.000"), tr.who, body)
	resp, err := tr.next.RoundTrip(r)
	if err != nil {
		tr.t.Logf("%s %s ← error %v", time.Now().Format("15:04:05.000"), tr.who, err)
		return resp, err
	}
	ans, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(ans))
	tr.t.Logf("%s %s ← %d (%v) %s", time.Now().Format("15:04:05.000"), tr.who, resp.StatusCode, time.Since(start).Round(time.Millisecond), ans)
	return resp, nil
}
