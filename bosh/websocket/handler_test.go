package websocket

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// harness is boshd's WebSocket endpoint in front of a scripted XMPP server
// ("localhost"), served over a real loopback HTTP server.
type harness struct {
	h   *Handler
	up  *xmpptest.Server
	srv *httptest.Server
	url string
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	up := xmpptest.Start(t)
	cfg := Config{
		FrontEnd: relay.FrontEnd{Domains: &relay.Domains{
			Dialer: &xmppconn.Dialer{Routes: map[string][]string{"localhost": {up.Addr}}, Timeout: 5 * time.Second},
			Served: []string{"localhost"},
		}},
		Origins: []string{"https://chat.example"},
	}
	if mod != nil {
		mod(&cfg)
	}
	h := New(cfg)
	srv := httptest.NewServer(h)
	hs := &harness{h: h, up: up, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
		up.Close()
	})
	return hs
}

// client is the browser's side of one WebSocket.
type client struct {
	t    *testing.T
	conn *ws.Conn
}

func (hs *harness) dial(t *testing.T) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := ws.Dial(ctx, hs.url, &ws.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	if c.Subprotocol() != "xmpp" {
		t.Fatalf("subprotocol %q, want xmpp", c.Subprotocol())
	}
	t.Cleanup(func() { c.CloseNow() })
	return &client{t: t, conn: c}
}

func (c *client) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, ws.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next returns the next message, failing after 5s.
func (c *client) next() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, p, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != ws.MessageText {
		c.t.Fatalf("got a %v message", typ)
	}
	return string(p)
}

// expect reads one message and checks it contains each of want.
func (c *client) expect(want ...string) string {
	c.t.Helper()
	got := c.next()
	for _, w := range want {
		if !strings.Contains(got, w) {
			c.t.Fatalf("message %s\nlacks %s", got, w)
		}
	}
	return got
}

// closed checks that the server closed the WebSocket, with the closing
// handshake (a normal closure status).
func (c *client) closed() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, p, err := c.conn.Read(ctx)
	if err == nil {
		c.t.Fatalf("got %s, want the connection closed", p)
	}
	if s := ws.CloseStatus(err); s != ws.StatusNormalClosure {
		c.t.Fatalf("close status %v (%v), want normal closure", s, err)
	}
}

const (
	openMsg  = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
	closeMsg = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
)

// open opens a stream and returns the upstream connection.
func (c *client) open(hs *harness) *xmpptest.Conn {
	c.t.Helper()
	c.send(openMsg)
	c.expect("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'", "from='localhost'", "id='stream-1'", "version='1.0'")
	c.expect("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>", "PLAIN")
	return hs.up.NextConn(c.t)
}

// TestSessionTranscript walks a whole session: open, stanzas both ways,
// restart (RFC 7395 §3.5), close answered with close (§3.6).
func TestSessionTranscript(t *testing.T) {
	hs := newHarness(t, nil)
	c := hs.dial(t)
	up := c.open(hs)
	if el := up.Next(t); el.Kind != xmppconn.KindHeader {
		t.Fatalf("upstream got %v first", el.Kind)
	}

	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>")
	if el := up.Next(t); string(el.Raw) != "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>" {
		t.Fatalf("upstream got %q, want the auth byte-exact", el.Raw)
	}
	up.Push(t, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")

	c.send(openMsg)
	if el := up.Next(t); el.Kind != xmppconn.KindHeader {
		t.Fatalf("restart: upstream got %v, want a new header", el.Kind)
	}
	c.expect("<open ", "id='stream-2'")
	c.expect("<stream:features xmlns:stream=")

	up.Push(t, "<message from='bob@localhost'><body>hi</body></message>")
	if got := c.next(); got != "<message xmlns='jabber:client' from='bob@localhost'><body>hi</body></message>" {
		t.Fatalf("got %s", got)
	}
	c.send("<presence/>")
	if el := up.Next(t); string(el.Raw) != "<presence/>" {
		t.Fatalf("upstream got %q", el.Raw)
	}

	c.send(closeMsg)
	if got := c.next(); got != closeMsg {
		t.Fatalf("got %s, want %s", got, closeMsg)
	}
	c.closed()
	if el := up.Next(t); el.Kind != xmppconn.KindEnd {
		t.Fatalf("upstream got %v, want the stream closed", el.Kind)
	}
}

// TestRefusals: each way a stream cannot start ends with <open/>, the
// stream error, <close/> and the closing handshake.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name, first, condition string
		mod                    func(*Config)
	}{
		{name: "unserved domain", first: "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='evil.example' version='1.0'/>", condition: "host-unknown"},
		{name: "not well-formed", first: "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost'", condition: "not-well-formed"},
		{name: "old framing", first: "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='localhost'>", condition: "not-well-formed"},
		{name: "open in wrong namespace", first: "<open to='localhost'/>", condition: "invalid-namespace"},
		{name: "stanza first", first: "<presence/>", condition: "not-authorized"},
		{name: "server unreachable", first: openMsg, condition: "remote-connection-failed", mod: func(c *Config) {
			c.Domains.Dialer.Routes["localhost"] = []string{"127.0.0.1:1"}
		}},
		{name: "per-address limit", first: openMsg, condition: "policy-violation", mod: func(c *Config) {
			c.MaxSessionsPerAddress = 1
			c.Counter = relay.NewCounter()
			res, _ := relay.NewRegistry[int](0, 1, c.Counter).Reserve("127.0.0.1")
			_ = res // holds the only place for 127.0.0.1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, tt.mod)
			c := hs.dial(t)
			c.send(tt.first)
			c.expect("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'")
			c.expect("<stream:error xmlns:stream='http://etherx.jabber.org/streams'><" + tt.condition + " ")
			c.expect(closeMsg)
			c.closed()
		})
	}
}

// TestStreamErrors: during a session, bad input and a lost server end it
// with the right condition, then <close/> and the closing handshake.
func TestStreamErrors(t *testing.T) {
	tests := []struct {
		name      string
		act       func(c *client, up *xmpptest.Conn)
		condition string
	}{
		{"not well-formed", func(c *client, _ *xmpptest.Conn) { c.send("<message><body>") }, "not-well-formed"},
		{"two elements", func(c *client, _ *xmpptest.Conn) { c.send("<presence/><presence/>") }, "not-well-formed"},
		{"comment", func(c *client, _ *xmpptest.Conn) { c.send("<presence><!-- x --></presence>") }, "restricted-xml"},
		{"binary message", func(c *client, _ *xmpptest.Conn) {
			c.conn.Write(context.Background(), ws.MessageBinary, []byte("<presence/>"))
		}, "unsupported-encoding"},
		{"starttls", func(c *client, _ *xmpptest.Conn) { c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") }, "policy-violation"},
		{"upstream killed", func(_ *client, up *xmpptest.Conn) { up.Close() }, "remote-connection-failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			c := hs.dial(t)
			up := c.open(hs)
			tt.act(c, up)
			c.expect("<stream:error xmlns:stream='http://etherx.jabber.org/streams'><" + tt.condition + " ")
			c.expect(closeMsg)
			c.closed()
		})
	}
}

// TestServerStreamError: the server's own stream error is relayed with its
// prefix declared, then <close/>.
func TestServerStreamError(t *testing.T) {
	hs := newHarness(t, nil)
	c := hs.dial(t)
	up := c.open(hs)
	up.Push(t, "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
	if got := c.next(); got != "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>" {
		t.Fatalf("got %s", got)
	}
	c.expect(closeMsg)
	c.closed()
}

// TestShutdown ends live sessions with system-shutdown, or with
// <close see-other-uri/> when one is configured (RFC 7395 §3.6.1), and
// closes their upstream streams.
func TestShutdown(t *testing.T) {
	for _, uri := range []string{"", "wss://other.example/xmpp-websocket"} {
		t.Run("see-other-uri="+uri, func(t *testing.T) {
			hs := newHarness(t, func(c *Config) { c.SeeOtherURI = uri })
			c := hs.dial(t)
			up := c.open(hs)
			up.Next(t) // the header
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				done <- hs.h.Shutdown(ctx)
			}()
			if uri == "" {
				c.expect("<system-shutdown ")
				c.expect(closeMsg)
			} else {
				c.expect("see-other-uri='" + uri + "'")
			}
			c.closed()
			if err := <-done; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if el := up.Next(t); el.Kind != xmppconn.KindEnd {
				t.Fatalf("upstream got %v, want the stream closed", el.Kind)
			}
			if n := hs.h.Sessions(); n != 0 {
				t.Fatalf("%d sessions left", n)
			}
		})
	}
}

// TestHandshake: the 'xmpp' subprotocol is required and the Origin must be
// allowed.
func TestHandshake(t *testing.T) {
	hs := newHarness(t, nil)
	tests := []struct {
		name   string
		proto  []string
		origin string
		status int
	}{
		{"no subprotocol", nil, "", http.StatusBadRequest},
		{"other subprotocol", []string{"chat"}, "", http.StatusBadRequest},
		{"foreign origin", []string{"xmpp"}, "https://evil.example", http.StatusForbidden},
		{"allowed origin", []string{"xmpp"}, "https://chat.example", http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			c, resp, err := ws.Dial(ctx, hs.url, &ws.DialOptions{Subprotocols: tt.proto, HTTPHeader: hdr})
			if c != nil {
				c.CloseNow()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, err)
			}
		})
	}
	resp, err := http.Get(hs.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: status %d, want 426", resp.StatusCode)
	}
}

// TestDeadPeer: a client that stops answering pings (here: it stops
// reading, so its pongs never come) loses its session, and the upstream
// stream is closed; one that reads keeps its session across pings.
func TestDeadPeer(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.PingInterval = 20 * time.Millisecond
		c.PingTimeout = 100 * time.Millisecond
	})
	alive := hs.dial(t)
	alive.open(hs)
	readCtx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	go alive.conn.Read(readCtx) // answers pings until the test ends

	dead := hs.dial(t)
	up := dead.open(hs)
	up.Next(t) // the header
	if el := up.Next(t); el.Kind != xmppconn.KindEnd {
		t.Fatalf("upstream got %v, want the dead client's stream closed", el.Kind)
	}
	if n := hs.h.Sessions(); n != 1 {
		t.Fatalf("%d sessions, want the live one only", n)
	}
}

// TestMessageTooLarge: a message over MaxBodyBytes ends the session (the
// WebSocket closes with 1009, RFC 6455 §7.4.1) without being read whole,
// and the upstream stream is closed.
func TestMessageTooLarge(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.MaxBodyBytes = 4096 })
	c := hs.dial(t)
	up := c.open(hs)
	up.Next(t) // the header
	c.send("<message><body>" + strings.Repeat("x", 8192) + "</body></message>")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := c.conn.Read(ctx)
		if err != nil {
			if s := ws.CloseStatus(err); s != ws.StatusMessageTooBig {
				t.Fatalf("closed with %v (%v), want 1009", s, err)
			}
			break
		}
	}
	if el := up.Next(t); el.Kind != xmppconn.KindEnd {
		t.Fatalf("upstream got %v, want the stream closed", el.Kind)
	}
}
