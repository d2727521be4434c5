package client

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// TestStreams: the client's side of XEP-0124 §16 on the fake CM, which
// names its first stream 'one' and answers an add-stream request with
// stream 'two'. Each case sends one request on a session with both
// streams and checks what the request named and what the client made of
// the answer.
func TestStreams(t *testing.T) {
	const msg = "<message xmlns='jabber:client' id='m'/>"
	tests := []struct {
		name string
		// do sends the request; answer is the fake CM's answer to it.
		do     func(s *Session) error
		answer string
		// wantAttrs must be on the request (value "" for absent).
		wantAttrs map[string]string
		// after checks the session.
		after func(t *testing.T, s *Session, got []streamStanza)
	}{
		{
			name:      "send on a stream",
			do:        func(s *Session) error { return s.SendStream(testContext(t), "two", []byte(msg)) },
			answer:    wrap(" stream='two'", "<message id='reply'/>"),
			wantAttrs: map[string]string{"stream": "two"},
			after: func(t *testing.T, s *Session, got []streamStanza) {
				if len(got) != 1 || got[0].stream != "two" || !strings.Contains(got[0].raw, "reply") {
					t.Fatalf("delivered %v, want the reply on stream two", got)
				}
			},
		},
		{
			name:      "send to all",
			do:        func(s *Session) error { return s.Send(testContext(t), []byte(msg)) },
			answer:    wrap(" stream='one'", "<message id='reply'/>"),
			wantAttrs: map[string]string{"stream": ""},
			after: func(t *testing.T, s *Session, got []streamStanza) {
				if len(got) != 1 || got[0].stream != "one" {
					t.Fatalf("delivered %v, want the reply on stream one", got)
				}
			},
		},
		{
			name:      "close a stream",
			do:        func(s *Session) error { return s.CloseStream(testContext(t), "two") },
			answer:    wrap(" type='terminate' stream='two'"),
			wantAttrs: map[string]string{"stream": "two", "type": "terminate"},
			after: func(t *testing.T, s *Session, _ []streamStanza) {
				if err := s.StreamErr("two"); !errors.Is(err, ErrClosed) {
					t.Fatalf("StreamErr = %v, want ErrClosed", err)
				}
				if err := s.Err(); err != nil {
					t.Fatalf("the session ended with its stream: %v", err)
				}
			},
		},
		{
			name:   "the CM ends a stream",
			do:     func(s *Session) error { return s.Send(testContext(t)) },
			answer: wrap(" type='terminate' condition='remote-connection-failed' stream='two'"),
			after: func(t *testing.T, s *Session, _ []streamStanza) {
				var te *TerminateError
				if err := s.StreamErr("two"); !errors.As(err, &te) || te.Condition != "remote-connection-failed" {
					t.Fatalf("StreamErr = %v, want remote-connection-failed", err)
				}
				if err := s.Err(); err != nil {
					t.Fatalf("the session ended with its stream: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCM(t, func(f *fakeCM) { f.createAttrs = " stream='one'" })
			var mu sync.Mutex
			var got []streamStanza
			c := testConfig(t, f)
			c.OnStreamStanza = func(_ *Session, stream string, p []byte) {
				mu.Lock()
				got = append(got, streamStanza{stream, string(p)})
				mu.Unlock()
			}
			s, err := Connect(testContext(t), c)
			if err != nil {
				t.Fatal(err)
			}
			var last *Body
			f.setHook(func(f *fakeCM, b *Body, raw []byte) (int, string, bool) {
				last = b
				if b.Attrs["to"] == "other.example" {
					return 200, wrap(" stream='two' from='other.example'", "<stream:features><bind xmlns='"+NSBind+"'/></stream:features>"), true
				}
				return 200, tt.answer, true
			})
			name, err := s.AddStream(testContext(t), "other.example", "")
			if err != nil || name != "two" {
				t.Fatalf("AddStream = %q, %v", name, err)
			}
			if !strings.Contains(string(s.StreamFeatures("two")), "bind") {
				t.Fatalf("features of stream two: %s", s.StreamFeatures("two"))
			}
			if err := tt.do(s); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.wantAttrs {
				if last.Attrs[k] != v {
					t.Errorf("request %s=%q, want %q: %s", k, last.Attrs[k], v, last.Raw)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			tt.after(t, s, got)
		})
	}
}

// TestAddStreamWithoutSupport: a CM that named no stream does not
// support §16 (§16.2); AddStream says so without asking.
func TestAddStreamWithoutSupport(t *testing.T) {
	f := newFakeCM(t)
	s, err := Connect(testContext(t), testConfig(t, f))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddStream(testContext(t), "other.example", ""); !errors.Is(err, ErrNoStreams) {
		t.Fatalf("AddStream = %v, want ErrNoStreams", err)
	}
}

// TestAddStreamRefused: the CM refuses the stream with a terminate naming
// it; AddStream fails with the condition and the session goes on.
func TestAddStreamRefused(t *testing.T) {
	f := newFakeCM(t, func(f *fakeCM) { f.createAttrs = " stream='one'" })
	s, err := Connect(testContext(t), testConfig(t, f))
	if err != nil {
		t.Fatal(err)
	}
	f.setHook(func(*fakeCM, *Body, []byte) (int, string, bool) {
		return 200, wrap(" type='terminate' condition='policy-violation' stream='x'"), true
	})
	_, err = s.AddStream(testContext(t), "other.example", "")
	var te *TerminateError
	if !errors.As(err, &te) || te.Condition != "policy-violation" {
		t.Fatalf("AddStream = %v, want policy-violation", err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("the session ended: %v", err)
	}
}

// streamStanza is a delivered stanza and its stream.
type streamStanza struct{ stream, raw string }
