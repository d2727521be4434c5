package xmppconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/stream"
)

func TestOpen(t *testing.T) {
	prosodyErr := readFixture(t, "prosody-streamerror.xml")
	tests := []struct {
		name   string
		policy TLSPolicy
		params StreamParams
		server func(p *peer)
		check  func(t *testing.T, s *Stream, err error)
	}{
		{
			name:   "starttls offered, TLS off: offer removed",
			policy: TLSOff,
			server: func(p *peer) { p.open("abc", featuresStartTLS); p.drain() },
			check: func(t *testing.T, s *Stream, err error) {
				must(t, err)
				if got := string(s.Features()); got != featuresSASL {
					t.Errorf("features\n%s\nwant\n%s", got, featuresSASL)
				}
				want := Header{Raw: []byte(serverHeader("abc")), ID: "abc", From: "example.net", Version: "1.0", Lang: "en"}
				if h := s.Header(); !bytes.Equal(h.Raw, want.Raw) || h.ID != want.ID || h.From != want.From || h.Version != want.Version || h.Lang != want.Lang {
					t.Errorf("header %+v\nwant %+v", h, want)
				}
				if s.Secure() {
					t.Error("Secure() = true without TLS")
				}
			},
		},
		{
			name:   "starttls not offered, TLS optional",
			server: func(p *peer) { p.open("abc", featuresBind); p.drain() },
			check: func(t *testing.T, s *Stream, err error) {
				must(t, err)
				if got := string(s.Features()); got != featuresBind {
					t.Errorf("features %s, want them unchanged: %s", got, featuresBind)
				}
			},
		},
		{
			name:   "starttls not offered, TLS required",
			policy: TLSRequired,
			server: func(p *peer) { p.open("abc", featuresSASL); p.drain() },
			check: func(t *testing.T, s *Stream, err error) {
				if err == nil || !strings.Contains(err.Error(), "does not offer") {
					t.Fatalf("error %v, want 'does not offer'", err)
				}
			},
		},
		{
			name: "escaped header attributes",
			params: StreamParams{
				To: "example.net", From: "a'b&c<d>\"e@example.net", Lang: "en\n", Version: "1.0",
			},
			server: func(p *peer) {
				if p.expect(xmlDecl + "<stream:stream to='example.net' from='a&apos;b&amp;c&lt;d&gt;&quot;e@example.net' version='1.0' xml:lang='en&#xA;' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>") {
					p.send(serverHeader("x") + featuresBind)
				}
				p.drain()
			},
			check: func(t *testing.T, s *Stream, err error) { must(t, err) },
		},
		{
			name:   "stream error instead of features (real Prosody bytes)",
			server: func(p *peer) { p.expect(clientOpen); p.send(prosodyErr) },
			check: func(t *testing.T, s *Stream, err error) {
				var se *StreamError
				if !errors.As(err, &se) {
					t.Fatalf("error %v, want a *StreamError", err)
				}
				if se.Condition != "undefined-condition" || se.Text != "No stream features to proceed with" {
					t.Errorf("condition %q text %q", se.Condition, se.Text)
				}
				if want := prosodyErr[strings.Index(prosodyErr, "<stream:error>"):strings.Index(prosodyErr, "</stream:stream>")]; string(se.Raw) != want {
					t.Errorf("Raw %q, want %q", se.Raw, want)
				}
			},
		},
		{
			name: "stream error instead of a header",
			server: func(p *peer) {
				p.expect(clientOpen)
				p.send("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0'><stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
			},
			check: func(t *testing.T, s *Stream, err error) {
				if !errors.Is(err, stream.HostUnknown) {
					t.Fatalf("error %v, want host-unknown", err)
				}
			},
		},
		{
			name: "starttls refused",
			server: func(p *peer) {
				if p.open("abc", featuresStartTLS) && p.expect(startTLSRequest) {
					p.send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>")
				}
			},
			check: func(t *testing.T, s *Stream, err error) {
				if err == nil || !strings.Contains(err.Error(), "<failure/>") {
					t.Fatalf("error %v, want <failure/>", err)
				}
			},
		},
		{
			name: "bytes after proceed",
			server: func(p *peer) {
				if p.open("abc", featuresStartTLS) && p.expect(startTLSRequest) {
					p.send(proceed + "<message/>")
				}
				p.drain()
			},
			check: func(t *testing.T, s *Stream, err error) {
				if err == nil || !strings.Contains(err.Error(), "after <proceed/>") {
					t.Fatalf("error %v, want unexpected bytes after <proceed/>", err)
				}
			},
		},
		{
			name: "pre-1.0 server",
			server: func(p *peer) {
				p.expect(clientOpen)
				p.send("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='old' from='example.net'>")
				p.drain()
			},
			check: func(t *testing.T, s *Stream, err error) {
				must(t, err)
				if s.Features() != nil || s.Header().ID != "old" || s.Header().Version != "" {
					t.Errorf("features %q header %+v, want no features", s.Features(), s.Header())
				}
			},
		},
		{
			name:   "pre-1.0 client",
			params: StreamParams{To: "example.net"},
			server: func(p *peer) {
				p.expect(xmlDecl + "<stream:stream to='example.net' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
				p.send(serverHeader("old"))
				p.drain()
			},
			check: func(t *testing.T, s *Stream, err error) {
				must(t, err)
				if s.Features() != nil {
					t.Errorf("features %q on a pre-1.0 stream", s.Features())
				}
			},
		},
		{
			name:   "pre-1.0 server, TLS required",
			policy: TLSRequired,
			server: func(p *peer) {
				p.expect(clientOpen)
				p.send("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='old'>")
				p.drain()
			},
			check: func(t *testing.T, s *Stream, err error) {
				if err == nil || !strings.Contains(err.Error(), "pre-1.0") {
					t.Fatalf("error %v, want pre-1.0 refused", err)
				}
			},
		},
		{
			name:   "not well-formed",
			server: func(p *peer) { p.expect(clientOpen); p.send(serverHeader("abc") + "<stream:features><<") },
			check: func(t *testing.T, s *Stream, err error) {
				if !errors.Is(err, ErrNotWellFormed) {
					t.Fatalf("error %v, want ErrNotWellFormed", err)
				}
			},
		},
		{
			name: "stream prefix bound to another namespace",
			server: func(p *peer) {
				p.expect(clientOpen)
				p.send("<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client' version='1.0'>" + featuresBind)
			},
			check: func(t *testing.T, s *Stream, err error) {
				if err == nil || !strings.Contains(err.Error(), "urn:wrong") {
					t.Fatalf("error %v, want a namespace error", err)
				}
			},
		},
		{
			name:   "server hangs up",
			server: func(p *peer) { p.expect(clientOpen) },
			check: func(t *testing.T, s *Stream, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("error %v, want ErrUnexpectedEOF", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.server)
			d := srv.dialer()
			d.TLS = tt.policy
			p := tt.params
			if p.To == "" {
				p = StreamParams{To: "example.net", Version: "1.0"}
			}
			s, err := d.Open(context.Background(), p)
			if s != nil {
				defer s.Close()
			}
			tt.check(t, s, err)
		})
	}
}

// TestOpenBounded checks that Open gives up at the Dialer's Timeout or
// when its context ends, whichever comes first, against a server that
// accepts and then says nothing.
func TestOpenBounded(t *testing.T) {
	silent := func(p *peer) { p.ignore() }
	t.Run("timeout", func(t *testing.T) {
		d := newServer(t, silent).dialer()
		d.Timeout = 200 * time.Millisecond
		within(t, 2*time.Second, "Open", func() {
			_, err := d.Open(context.Background(), StreamParams{To: "example.net", Version: "1.0"})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want DeadlineExceeded", err)
			}
		})
	})
	t.Run("cancel", func(t *testing.T) {
		d := newServer(t, silent).dialer()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		within(t, 2*time.Second, "Open", func() {
			_, err := d.Open(ctx, StreamParams{To: "example.net", Version: "1.0"})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want Canceled", err)
			}
		})
	})
}

// TestRestart checks XEP-0206 §5: a new header over the same connection,
// without an XML declaration, answered by a new header and features.
func TestRestart(t *testing.T) {
	srv := newServer(t, func(p *peer) {
		if !p.open("id1", featuresSASL) || !p.expect("<auth/>") {
			return
		}
		p.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		if !p.expect(clientHeader) {
			return
		}
		p.send(serverHeader("id2") + featuresBind)
		p.drain()
	})
	s := openStream(t, srv.dialer())
	must(t, s.Send([]byte("<auth/>")))
	el, err := s.Next()
	must(t, err)
	if el.Name != "success" {
		t.Fatalf("got %q, want <success/>", el.Raw)
	}
	must(t, s.Restart())
	for _, want := range []Element{
		{Kind: KindHeader, Raw: []byte(serverHeader("id2"))},
		{Kind: KindFeatures, Raw: []byte(featuresBind)},
	} {
		el, err := s.Next()
		must(t, err)
		if el.Kind != want.Kind || !bytes.Equal(el.Raw, want.Raw) {
			t.Errorf("got %v %q, want %v %q", el.Kind, el.Raw, want.Kind, want.Raw)
		}
	}
	if id := s.Header().ID; id != "id2" {
		t.Errorf("Header().ID = %q after restart, want id2", id)
	}
}

// TestNextEnds checks how a stream ends as seen by the reader.
func TestNextEnds(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		send  string
		want  []Kind
		check func(err error) error
	}{
		{
			name:  "closing tag",
			send:  " <message/>\n " + streamClose,
			want:  []Kind{KindStanza, KindEnd},
			check: func(err error) error { return errIs(err, io.EOF) },
		},
		{
			name: "stream error",
			send: "<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>" + streamClose,
			want: []Kind{KindError},
			check: func(err error) error {
				var se *StreamError
				if !errors.As(err, &se) || se.Condition != "system-shutdown" {
					return fmt.Errorf("error %v, want a system-shutdown *StreamError", err)
				}
				return nil
			},
		},
		{
			name:  "connection closed",
			send:  "<message/><iq",
			want:  []Kind{KindStanza},
			check: func(err error) error { return errIs(err, io.ErrUnexpectedEOF) },
		},
		{
			name:  "element too large",
			limit: 1000,
			send:  "<message>" + strings.Repeat("x", 2000),
			check: func(err error) error { return errIs(err, ErrTooLarge) },
		},
		{
			name:  "not well-formed",
			send:  "<message></iq>",
			check: func(err error) error { return errIs(err, ErrNotWellFormed) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(p *peer) {
				if p.open("id", featuresBind) {
					p.send(tt.send)
				}
			})
			d := srv.dialer()
			d.MaxElementBytes = tt.limit
			s := openStream(t, d)
			for _, k := range tt.want {
				el, err := s.Next()
				if err != nil || el.Kind != k {
					t.Fatalf("got %v %q, %v; want %v", el.Kind, el.Raw, err, k)
				}
			}
			_, err := s.Next()
			if err := tt.check(err); err != nil {
				t.Fatal(err)
			}
			if _, err2 := s.Next(); err2 != err {
				t.Errorf("Next after the end: %v, want the same error again", err2)
			}
		})
	}
}

func TestClose(t *testing.T) {
	// answering is a server that closes its side when the client does.
	answering := func(p *peer) {
		if p.open("id", featuresBind) && p.expect(streamClose) {
			p.send(streamClose)
		}
	}
	silent := func(p *peer) {
		if p.open("id", featuresBind) {
			p.ignore()
		}
	}
	t.Run("server answers, no reader", func(t *testing.T) {
		s := openStream(t, newServer(t, answering).dialer())
		within(t, time.Second, "Close", func() { must(t, s.Close()) })
		if err := errIs(s.Send([]byte("<presence/>")), ErrClosed); err != nil {
			t.Error("Send after Close:", err)
		}
		if err := errIs(s.Restart(), ErrClosed); err != nil {
			t.Error("Restart after Close:", err)
		}
		if _, err := s.Next(); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("server answers, reader sees the end", func(t *testing.T) {
		s := openStream(t, newServer(t, answering).dialer())
		got := make(chan error, 1)
		go func() {
			el, err := s.Next()
			if err == nil && el.Kind != KindEnd {
				err = fmt.Errorf("got %v, want KindEnd", el.Kind)
			}
			if err == nil {
				_, err = s.Next()
				err = errIs(err, io.EOF)
			}
			got <- err
		}()
		time.Sleep(50 * time.Millisecond) // let the reader block in Next
		within(t, time.Second, "Close", func() { must(t, s.Close()) })
		if err := <-got; err != nil {
			t.Error(err)
		}
	})
	t.Run("silent server, Close unblocks Next", func(t *testing.T) {
		d := newServer(t, silent).dialer()
		d.CloseTimeout = 200 * time.Millisecond
		s := openStream(t, d)
		got := make(chan error, 1)
		go func() {
			_, err := s.Next()
			got <- err
		}()
		time.Sleep(50 * time.Millisecond)
		within(t, time.Second, "Close", func() { must(t, s.Close()) })
		select {
		case err := <-got:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Next: %v, want ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Next still blocked after Close")
		}
	})
	t.Run("silent server, no reader", func(t *testing.T) {
		d := newServer(t, silent).dialer()
		d.CloseTimeout = 200 * time.Millisecond
		s := openStream(t, d)
		start := time.Now()
		must(t, s.Close())
		if el := time.Since(start); el < 150*time.Millisecond || el > time.Second {
			t.Errorf("Close took %v, want about the CloseTimeout (200ms)", el)
		}
	})
	t.Run("concurrent and repeated", func(t *testing.T) {
		s := openStream(t, newServer(t, answering).dialer())
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		must(t, s.Close())
	})
	t.Run("from the reader goroutine", func(t *testing.T) {
		srv := newServer(t, func(p *peer) {
			if p.open("id", featuresBind) {
				p.send("<message/>")
				if p.expect(streamClose) {
					p.send(streamClose)
				}
			}
		})
		s := openStream(t, srv.dialer())
		_, err := s.Next()
		must(t, err)
		within(t, time.Second, "Close", func() { must(t, s.Close()) })
	})
}

// TestSendConcurrent checks that Sends from many goroutines never
// interleave on the wire.
func TestSendConcurrent(t *testing.T) {
	const goroutines, each = 8, 40
	received := make(chan int, 1)
	srv := newServer(t, func(p *peer) {
		if !p.open("id", featuresBind) {
			return
		}
		n := 0
		for {
			el, err := p.next()
			if err != nil {
				p.t.Errorf("server: %v", err)
				break
			}
			if el.Kind == KindEnd {
				break
			}
			n++
		}
		received <- n
		p.send(streamClose)
	})
	d := srv.dialer()
	d.MaxElementBytes = 1 << 20
	s := openStream(t, d)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				// Some large enough to need several writes.
				body := strings.Repeat("x", (g*each+i)%7*20000)
				if err := s.Send(fmt.Appendf(nil, "<message id='%d-%d'><body>%s</body></message>", g, i, body)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	must(t, s.Close())
	if n := <-received; n != goroutines*each {
		t.Errorf("server received %d elements, want %d", n, goroutines*each)
	}
}

// TestSendTimeout checks that a server that stops reading cannot block
// Send beyond the WriteTimeout.
func TestSendTimeout(t *testing.T) {
	stop := make(chan struct{})
	srv := newServer(t, func(p *peer) {
		if p.open("id", featuresBind) {
			<-stop
		}
	})
	defer close(stop)
	d := srv.dialer()
	d.WriteTimeout = 200 * time.Millisecond
	d.CloseTimeout = 100 * time.Millisecond
	s := openStream(t, d)
	big := make([]byte, 64<<20)
	within(t, 3*time.Second, "Send", func() {
		if err := s.Send(big); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Send: %v, want a deadline error", err)
		}
	})
}

// TestReady checks that Ready reports an element already buffered, without
// reading, and that Next then returns it.
func TestReady(t *testing.T) {
	srv := newServer(t, func(p *peer) {
		if !p.open("id", featuresBind) {
			return
		}
		if !p.expect("<presence/>") {
			return
		}
		// One write: one read brings both elements.
		p.send("<message/><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
		p.drain()
	})
	s := openStream(t, srv.dialer())
	if s.Ready() {
		t.Fatal("Ready before anything was sent")
	}
	must(t, s.Send([]byte("<presence/>")))
	el, err := s.Next()
	must(t, err)
	if el.Name != "message" {
		t.Fatalf("got %q", el.Raw)
	}
	if !s.Ready() || !s.Ready() {
		t.Fatal("Ready = false with <stream:error/> buffered")
	}
	el, err = s.Next()
	if err != nil || el.Kind != KindError {
		t.Fatalf("got %v %q %v, want the stream error", el.Kind, el.Raw, err)
	}
	if s.Ready() {
		t.Error("Ready after the stream ended")
	}
}

// TestIdleStreamMemory checks that a stream that has read a large element
// does not keep a large buffer while it waits for the next one: thousands
// of idle streams must stay cheap.
func TestIdleStreamMemory(t *testing.T) {
	srv := newServer(t, func(p *peer) {
		if !p.open("id", featuresBind) {
			return
		}
		p.send("<message><body>" + strings.Repeat("x", 200<<10) + "</body></message>")
		if p.expect("<presence/>") {
			p.send("<iq/>")
		}
		p.drain()
	})
	s := openStream(t, srv.dialer())
	el, err := s.Next()
	must(t, err)
	if len(el.Raw) < 200<<10 {
		t.Fatalf("read %d bytes", len(el.Raw))
	}
	must(t, s.Send([]byte("<presence/>")))
	// The read that brings <iq/> happens after the buffer was let go.
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if c := cap(s.sp.buf); c > keepBufCap {
		t.Errorf("buffer of %d bytes kept after a large element, want at most %d", c, keepBufCap)
	}
}

// TestIdleStreamHoldsNoBuffer checks that a plain TCP stream with nothing
// pending waits for the server without a read buffer, and that elements
// still arrive whole afterwards, including one larger than the pooled
// buffer.
func TestIdleStreamHoldsNoBuffer(t *testing.T) {
	waiting := make(chan bool, 16)
	idleWaitHook = func(sp *Splitter) {
		select {
		case waiting <- sp.buf == nil:
		default:
		}
	}
	t.Cleanup(func() { idleWaitHook = nil })
	big := "<message><body>" + strings.Repeat("y", 3*initBufCap) + "</body></message>"
	srv := newServer(t, func(p *peer) {
		if !p.open("id", featuresBind) {
			return
		}
		p.send("<message/>")
		if p.expect("<presence/>") {
			p.send(big)
		}
		p.drain()
	})
	s := openStream(t, srv.dialer())
	el, err := s.Next()
	must(t, err)
	if string(el.Raw) != "<message/>" {
		t.Fatalf("got %q", el.Raw)
	}
	for len(waiting) > 0 {
		<-waiting // waits during Open and the first Next
	}
	got := make(chan Element, 1)
	go func() {
		el, err := s.Next()
		if err != nil {
			t.Error(err)
		}
		got <- el
	}()
	select {
	case nilBuf := <-waiting:
		if !nilBuf {
			t.Error("an idle stream waits holding its read buffer")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reader never waited without a buffer")
	}
	must(t, s.Send([]byte("<presence/>")))
	select {
	case el := <-got:
		if string(el.Raw) != big {
			t.Errorf("got %d bytes, want the %d-byte message", len(el.Raw), len(big))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no element after the wait")
	}
}
