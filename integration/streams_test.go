package integration_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"boshd/bosh/client"
)

// streamStanza is a stanza and the 'stream' of the answer that carried it.
type streamStanza struct {
	stream, raw string
}

// TestMultipleStreams: XEP-0124 §16 through the real boshd binary in front
// of real Prosody and ejabberd. One BOSH session carries two streams, each
// logged in to its own account (SASL, restart naming the stream, bind);
// each user sends the other a message on its own stream, and it arrives
// in an answer naming the recipient's stream; then one stream is
// terminated (§16.5) and the other still carries messages.
func TestMultipleStreams(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			srv := shared(t, kind)
			b := startBoshd(t, srv, "")
			an, bn := user(t, srv, "alice"), user(t, srv, "bob")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			got := make(chan streamStanza, 64)
			s, err := client.Connect(ctx, client.Config{URL: b.URL, Domain: srv.Domain, Wait: 10,
				OnStreamStanza: func(_ *client.Session, stream string, p []byte) {
					got <- streamStanza{stream, string(p)}
				}})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			first := s.Params.Stream
			if first == "" {
				t.Fatalf("creation response names no stream: %s", s.CreateResponse.Raw)
			}
			if err := s.Login(ctx, an, "pw-"+an, "SCRAM-SHA-1", "one"); err != nil {
				t.Fatalf("login %s on the first stream: %v", an, err)
			}
			second, err := s.AddStream(ctx, srv.Domain, "")
			if err != nil {
				t.Fatalf("add stream: %v", err)
			}
			if second == first {
				t.Fatalf("second stream has the first's name %q", first)
			}
			bobJID, err := s.LoginStream(ctx, second, bn, "pw-"+bn, "PLAIN", "two")
			if err != nil {
				t.Fatalf("login %s on the second stream: %v", bn, err)
			}
			aliceJID := s.JID
			if !strings.HasPrefix(aliceJID, an+"@") || !strings.HasPrefix(bobJID, bn+"@") {
				t.Fatalf("bound JIDs %q, %q", aliceJID, bobJID)
			}
			keepRunning(t, s)

			// await waits for a stanza with id, and checks the stream
			// its answer named.
			await := func(id, wantStream string) {
				t.Helper()
				timeout := time.After(15 * time.Second)
				for {
					select {
					case st := <-got:
						if !strings.Contains(st.raw, "id='"+id+"'") {
							continue
						}
						if st.stream != wantStream {
							t.Fatalf("%s arrived in an answer naming stream %q, want %q: %s", id, st.stream, wantStream, st.raw)
						}
						return
					case <-timeout:
						t.Fatalf("no stanza %s within 15s", id)
					}
				}
			}
			sendOn := func(stream, to, id string) {
				t.Helper()
				msg := fmt.Sprintf(`<message xmlns='jabber:client' to='%s' type='chat' id='%s'><body>%s</body></message>`, to, id, id)
				if err := s.SendStream(ctx, stream, []byte(msg)); err != nil {
					t.Fatalf("send %s: %v", id, err)
				}
			}

			for i := range 2 {
				a2b, b2a := fmt.Sprintf("a2b%d", i), fmt.Sprintf("b2a%d", i)
				sendOn(first, bobJID, a2b)
				await(a2b, second)
				sendOn(second, aliceJID, b2a)
				await(b2a, first)
			}

			// Terminating the second stream leaves the first working.
			if err := s.CloseStream(ctx, second, []byte(`<presence type='unavailable' xmlns='jabber:client'/>`)); err != nil {
				t.Fatalf("close the second stream: %v", err)
			}
			if err := s.StreamErr(second); !errors.Is(err, client.ErrClosed) {
				t.Fatalf("second stream's end: %v", err)
			}
			if err := s.Err(); err != nil {
				t.Fatalf("the session ended with its second stream: %v", err)
			}
			sendOn(first, aliceJID, "after-close")
			await("after-close", first)
		})
	}
}
