package integration_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	ws "github.com/coder/websocket"
	"mellium.im/sasl"

	"boshd/bosh/client"
	"boshd/integration/servers"
)

// wsClient is a minimal RFC 7395 client: one WebSocket, one element per
// message.
type wsClient struct {
	t    *testing.T
	conn *ws.Conn
	JID  string
}

const framingNS = "urn:ietf:params:xml:ns:xmpp-framing"

// wsURL is the WebSocket endpoint of a boshd started by startBoshd.
func wsURL(b *boshd) string {
	return "ws" + strings.TrimPrefix(strings.TrimSuffix(b.URL, "/http-bind"), "http") + "/xmpp-websocket"
}

func wsDial(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, url, &ws.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatalf("websocket dial %s: %v", url, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, conn: c}
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, ws.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("websocket send: %v", err)
	}
}

func (c *wsClient) next(within time.Duration) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_, p, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("websocket read: %v", err)
	}
	return string(p)
}

// expect skips messages until one contains every one of want.
func (c *wsClient) expect(within time.Duration, want ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := c.next(time.Until(deadline))
		all := true
		for _, w := range want {
			all = all && strings.Contains(m, w)
		}
		if all {
			return m
		}
	}
}

// closed checks that the WebSocket ends with a normal closing handshake.
func (c *wsClient) closed() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, p, err := c.conn.Read(ctx)
		if err != nil {
			if s := ws.CloseStatus(err); s != ws.StatusNormalClosure {
				c.t.Fatalf("websocket ended with %v, want a normal closure", err)
			}
			return
		}
		c.t.Logf("after the end: %s", p)
	}
}

// element is enough of an element to read SASL and bind answers.
type element struct {
	XMLName xml.Name
	Text    string    `xml:",chardata"`
	Inner   []element `xml:",any"`
}

// open sends <open/> and returns the features that follow the server's <open/>.
func (c *wsClient) open(domain string) string {
	c.t.Helper()
	c.send(fmt.Sprintf("<open xmlns='%s' to='%s' version='1.0'/>", framingNS, domain))
	c.expect(10*time.Second, "<open ", framingNS, "id=")
	return c.expect(10*time.Second, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'")
}

// login authenticates (RFC 6120 §6), restarts the stream with a new
// <open/> (RFC 7395 §3.5) and binds a resource (RFC 6120 §7).
func (c *wsClient) login(srv *servers.Server, name, mech string) {
	c.t.Helper()
	features := c.open(srv.Domain)
	if !strings.Contains(features, ">"+mech+"<") {
		c.t.Fatalf("%s not offered: %s", mech, features)
	}
	m := sasl.Plain
	if mech == "SCRAM-SHA-1" {
		m = sasl.ScramSha1
	}
	neg := sasl.NewClient(m, sasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(name), []byte("pw-" + name), nil }))
	more, resp, err := neg.Step(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(fmt.Sprintf("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>", mech, base64.StdEncoding.EncodeToString(resp)))
	for {
		var el element
		if err := xml.Unmarshal([]byte(c.expect(10*time.Second, "urn:ietf:params:xml:ns:xmpp-sasl")), &el); err != nil {
			c.t.Fatal(err)
		}
		data, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Text))
		switch el.XMLName.Local {
		case "challenge":
			if more, resp, err = neg.Step(data); err != nil {
				c.t.Fatal(err)
			}
			c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(resp) + "</response>")
			continue
		case "success":
			if more {
				if _, _, err := neg.Step(data); err != nil {
					c.t.Fatalf("server signature: %v", err)
				}
			}
		default:
			c.t.Fatalf("SASL %s failed: %+v", mech, el)
		}
		break
	}
	if f := c.open(srv.Domain); !strings.Contains(f, "urn:ietf:params:xml:ns:xmpp-bind") {
		c.t.Fatalf("no bind after restart: %s", f)
	}
	c.send("<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	var iq element
	if err := xml.Unmarshal([]byte(c.expect(10*time.Second, "id='bind1'")), &iq); err != nil {
		c.t.Fatal(err)
	}
	if len(iq.Inner) == 0 || len(iq.Inner[0].Inner) == 0 {
		c.t.Fatalf("bind answer without a jid: %+v", iq)
	}
	c.JID = strings.TrimSpace(iq.Inner[0].Inner[0].Text)
	if !strings.HasPrefix(c.JID, name+"@") {
		c.t.Fatalf("bound %q", c.JID)
	}
}

// TestWebSocketLoginAndChat: a WebSocket user (PLAIN or SCRAM-SHA-1,
// restart, bind) chats with a BOSH user of the same boshd, both ways, and
// the BOSH user sees the WebSocket user's unavailable presence once it
// sends <close/>, which boshd answers with <close/> and a normal closure.
func TestWebSocketLoginAndChat(t *testing.T) {
	for _, kind := range kinds {
		for _, mech := range []string{"PLAIN", "SCRAM-SHA-1"} {
			t.Run(kind+"/"+mech, func(t *testing.T) {
				srv := shared(t, kind)
				b := startBoshd(t, srv, "")
				an, bn := user(t, srv, "wsalice"), user(t, srv, "bosh")
				alice := wsDial(t, wsURL(b))
				alice.login(srv, an, mech)
				bob := login(t, b.URL, srv, bn, "PLAIN")

				alice.send(fmt.Sprintf("<presence xmlns='jabber:client' to='%s'/>", bob.JID))
				expect(t, bob, 10*time.Second, "<presence", "from='"+alice.JID+"'")
				for i := 0; i < 3; i++ {
					alice.send(fmt.Sprintf("<message xmlns='jabber:client' to='%s' type='chat' id='w%d'><body>over ws &amp; %d</body></message>", bob.JID, i, i))
					expect(t, bob, 10*time.Second, "<message", fmt.Sprintf("id='w%d'", i), fmt.Sprintf("over ws &amp; %d", i))
					send(t, bob, fmt.Sprintf("<message xmlns='jabber:client' to='%s' type='chat' id='b%d'><body>over bosh %d</body></message>", alice.JID, i, i))
					got := alice.expect(10*time.Second, "<message", fmt.Sprintf("id='b%d'", i))
					if !strings.Contains(got, "xmlns='jabber:client'") && !strings.Contains(got, `xmlns="jabber:client"`) {
						t.Fatalf("stanza without its namespace: %s", got)
					}
				}

				alice.send("<close xmlns='" + framingNS + "'/>")
				alice.expect(10*time.Second, "<close xmlns='"+framingNS+"'/>")
				alice.closed()
				expect(t, bob, 10*time.Second, "<presence", "type='unavailable'", "from='"+alice.JID+"'")
			})
		}
	}
}

// TestWebSocketUpstreamKilled: the XMPP server dies mid-session; the
// WebSocket client gets remote-connection-failed, <close/> and a normal
// closure at once.
func TestWebSocketUpstreamKilled(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			var srv *servers.Server
			if kind == "prosody" {
				srv = servers.Prosody(t, servers.Options{})
			} else {
				srv = servers.Ejabberd(t, servers.Options{})
			}
			b := startBoshd(t, srv, "")
			name := user(t, srv, "wsvictim")
			c := wsDial(t, wsURL(b))
			c.login(srv, name, "PLAIN")
			if err := srv.Kill(); err != nil {
				t.Fatal(err)
			}
			c.expect(8*time.Second, "<stream:error", "<remote-connection-failed ")
			c.expect(5*time.Second, "<close xmlns='"+framingNS+"'/>")
			c.closed()
		})
	}
}

// TestWebSocketRefusals: through the binary, an unserved domain is
// host-unknown, and a handshake without the 'xmpp' subprotocol is refused
// (the Origin check is in bosh/websocket's TestHandshake: startBoshd's
// config allows every origin).
func TestWebSocketRefusals(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, "")
	c := wsDial(t, wsURL(b))
	c.send("<open xmlns='" + framingNS + "' to='unserved.example' version='1.0'/>")
	c.expect(5*time.Second, "<open ")
	c.expect(5*time.Second, "<host-unknown ")
	c.expect(5*time.Second, "<close ")
	c.closed()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tt := range []struct {
		proto  []string
		origin string
		status int
	}{{nil, "", http.StatusBadRequest}, {[]string{"chat"}, "", http.StatusBadRequest}} {
		hdr := http.Header{}
		if tt.origin != "" {
			hdr.Set("Origin", tt.origin)
		}
		conn, resp, err := ws.Dial(ctx, wsURL(b), &ws.DialOptions{Subprotocols: tt.proto, HTTPHeader: hdr})
		if conn != nil {
			conn.CloseNow()
		}
		if resp == nil || resp.StatusCode != tt.status {
			t.Errorf("proto %v origin %q: %v %v, want %d", tt.proto, tt.origin, resp, err, tt.status)
		}
	}
}

// TestHostMetaThroughBoshd: /.well-known/host-meta.json lists both
// endpoints with CORS, and the WebSocket one it names works.
func TestHostMetaThroughBoshd(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, "")
	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(b.URL, "/http-bind")+"/.well-known/host-meta.json", nil)
	req.Header.Set("Origin", "https://page.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("no CORS header")
	}
	var doc struct{ Links []struct{ Rel, Href string } }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, l := range doc.Links {
		links[l.Rel] = l.Href
	}
	if links["urn:xmpp:alt-connections:xbosh"] != b.URL {
		t.Errorf("BOSH link %q, want %q", links["urn:xmpp:alt-connections:xbosh"], b.URL)
	}
	wsLink := links["urn:xmpp:alt-connections:websocket"]
	if wsLink != wsURL(b) {
		t.Fatalf("WebSocket link %q, want %q", wsLink, wsURL(b))
	}
	c := wsDial(t, wsLink)
	c.open(srv.Domain)
}

// TestWebSocketShutdown: SIGTERM ends a logged-in WebSocket session with
// system-shutdown, <close/> and a normal closure, the server sees the
// stream close (a BOSH contact gets the unavailable presence), and boshd
// exits cleanly.
func TestWebSocketShutdown(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, "")
	an, bn := user(t, srv, "wsdown"), user(t, srv, "watch")
	c := wsDial(t, wsURL(b))
	c.login(srv, an, "PLAIN")
	b2 := startBoshd(t, srv, "") // the watcher must outlive the first boshd
	bob := login(t, b2.URL, srv, bn, "PLAIN")
	c.send(fmt.Sprintf("<presence xmlns='jabber:client' to='%s'/>", bob.JID))
	expect(t, bob, 10*time.Second, "<presence", "from='"+c.JID+"'")

	b.Signal(syscall.SIGTERM)
	c.expect(5*time.Second, "<stream:error", "<system-shutdown ")
	c.expect(5*time.Second, "<close xmlns='"+framingNS+"'/>")
	c.closed()
	expect(t, bob, 10*time.Second, "<presence", "type='unavailable'", "from='"+c.JID+"'")
	select {
	case <-b.Exited():
		if b.ExitErr() != nil {
			t.Fatalf("boshd exited with %v", b.ExitErr())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("boshd still running 10s after SIGTERM")
	}
}

// TestWebSocketDraining: while boshd drains (SIGTERM with
// cluster.shutdown_grace), a new WebSocket <open/> is refused with
// system-shutdown, or sent elsewhere with <close see-other-uri/> when
// websocket.see_other_uri is set, and a session opened before goes on
// chatting until a second SIGTERM ends the drain.
func TestWebSocketDraining(t *testing.T) {
	for _, uri := range []string{"", "wss://other.example/xmpp-websocket"} {
		t.Run("see_other_uri="+uri, func(t *testing.T) {
			srv := shared(t, "prosody")
			b := startBoshd(t, srv, fmt.Sprintf("[cluster]\nshutdown_grace = \"30s\"\n[websocket]\nsee_other_uri = %q\n", uri))
			an, bn := user(t, srv, "wsdrain"), user(t, srv, "drainwatch")
			alice := wsDial(t, wsURL(b))
			alice.login(srv, an, "PLAIN")
			b2 := startBoshd(t, srv, "") // the watcher outlives the drained boshd
			bob := login(t, b2.URL, srv, bn, "PLAIN")

			b.Signal(syscall.SIGTERM)
			waitDraining(t, b)
			late := wsDial(t, wsURL(b))
			late.send(fmt.Sprintf("<open xmlns='%s' to='%s' version='1.0'/>", framingNS, srv.Domain))
			late.expect(5*time.Second, "<open ", framingNS)
			if uri == "" {
				late.expect(5*time.Second, "<stream:error", "<system-shutdown ")
				late.expect(5*time.Second, "<close xmlns='"+framingNS+"'/>")
			} else {
				late.expect(5*time.Second, "<close xmlns='"+framingNS+"' see-other-uri='"+uri+"'/>")
			}
			late.closed()

			alice.send(fmt.Sprintf("<message xmlns='jabber:client' to='%s' type='chat' id='d1'><body>still here</body></message>", bob.JID))
			expect(t, bob, 10*time.Second, "<message", "id='d1'", "still here")
			send(t, bob, fmt.Sprintf("<message xmlns='jabber:client' to='%s' type='chat' id='d2'><body>me too</body></message>", alice.JID))
			alice.expect(10*time.Second, "<message", "id='d2'")

			b.Signal(syscall.SIGTERM) // the second ends the drain
			if uri == "" {
				alice.expect(5*time.Second, "<system-shutdown ")
			} else {
				alice.expect(5*time.Second, "see-other-uri='"+uri+"'")
			}
			select {
			case <-b.Exited():
				if b.ExitErr() != nil {
					t.Fatalf("boshd exited with %v", b.ExitErr())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("boshd still running 10s after the second SIGTERM")
			}
		})
	}
}

// TestWebSocketSharesLimits: the per-address session limit covers BOSH and
// WebSocket together (one counter): with one session allowed per address
// and a BOSH session open, a WebSocket <open/> from the same address is
// refused with policy-violation, and accepted again once the BOSH session
// is gone.
func TestWebSocketSharesLimits(t *testing.T) {
	srv := shared(t, "prosody")
	b := startBoshd(t, srv, "[bosh]\nmax_sessions_per_address = 1\nper_address_exempt = []\n")
	name := user(t, srv, "wslimit")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, client.Config{URL: b.URL, Domain: srv.Domain, Wait: 10})
	if err != nil {
		t.Fatalf("BOSH connect: %v", err)
	}
	c := wsDial(t, wsURL(b))
	c.send("<open xmlns='" + framingNS + "' to='" + srv.Domain + "' version='1.0'/>")
	c.expect(5*time.Second, "<open ")
	c.expect(5*time.Second, "<policy-violation ")
	c.expect(5*time.Second, "<close ")
	c.closed()

	if err := s.Close(ctx); err != nil {
		t.Fatalf("BOSH close: %v", err)
	}
	c2 := wsDial(t, wsURL(b))
	c2.login(srv, name, "PLAIN")
}
