package bosh

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/xmppconn"
)

// benchRequests are request bodies as Strophe.js sends them in a chat
// session: the empty poll that keeps a request held (most requests), one
// carrying a chat message, and one carrying a batch of stanzas.
func benchRequests() map[string][]byte {
	msg := "<message xmlns='jabber:client' to='bob@example.net/web' type='chat' id='a1b2c3'><body>Hello Bob, this is a chat line of typical length &amp; an entity.</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/></message>"
	batch := ""
	for i := range 10 {
		batch += fmt.Sprintf("<message xmlns='jabber:client' to='bob%d@example.net' type='chat' id='m%d'><body>line %d</body></message>", i, i, i)
	}
	head := "<body rid='4090123456' xmlns='http://jabber.org/protocol/httpbind' sid='6f1b6a3e0c9d4b2a8e7f5d3c1b0a9e8d'"
	return map[string][]byte{
		"poll":    []byte(head + "/>"),
		"message": []byte(head + ">" + msg + "</body>"),
		"batch10": []byte(head + ">" + batch + "</body>"),
	}
}

// BenchmarkParseBody measures the client-to-server hot path: every request
// of every session is parsed once.
func BenchmarkParseBody(b *testing.B) {
	for _, name := range []string{"poll", "message", "batch10"} {
		raw := benchRequests()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := ParseBody(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuildResponse measures the server-to-client hot path: the
// wrapper around upstream stanzas that answers a held request, as
// Session.build makes it (here without per-session attributes).
func BenchmarkBuildResponse(b *testing.B) {
	msg := xmppconn.Element{Kind: xmppconn.KindStanza, Name: "message", NameEnd: len("<message"),
		Raw: []byte("<message to='alice@example.net/web' from='bob@example.net/phone' type='chat' id='a1b2c3'><body>Hello Alice, this is a chat line of typical length.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>")}
	pres := xmppconn.Element{Kind: xmppconn.KindStanza, Name: "presence", NameEnd: len("<presence"),
		Raw: []byte("<presence from='carol@example.net/pc' to='alice@example.net/web'><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='q2+bHJ4+S2DB9CbqzmDNFCAXmMk='/></presence>")}
	cases := []struct {
		name string
		els  []xmppconn.Element
	}{
		{"empty", nil},
		{"message", []xmppconn.Element{msg}},
		{"batch10", []xmppconn.Element{msg, pres, msg, pres, msg, pres, msg, pres, msg, pres}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				var w responseBuilder
				w.start(elementsLen(c.els))
				w.elements(c.els)
				n = len(w.buf)
			}
			b.SetBytes(int64(n))
		})
	}
}

// BenchmarkHoldPath measures the hold path over a real HTTP/1.1
// connection, as a message reaches a browser: each iteration the server
// sends a stanza upstream, the held empty poll is answered with it, and the
// client sends its next empty poll on the same keep-alive connection, which
// is held again (XEP-0124 §8). One request held and one answered per
// iteration, client and fake server included (raw writes and a fixed read
// buffer, so that the client adds few allocations of its own). "parked"
// answers on taken-over connections (hold.go); "net/http" holds in await,
// the listener of HeldConns unserved.
func BenchmarkHoldPath(b *testing.B) {
	for _, mode := range []string{"parked", "net/http"} {
		b.Run(mode, func(b *testing.B) {
			h := newHarnessServing(b, nil, mode == "parked")
			sid, up, _ := h.open(10, 60, "")
			c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 4096)
			req := make([]byte, 0, 512)
			rid := uint64(11)
			poll := func() {
				bd := body(rid, sid, "", "")
				req = fmt.Appendf(req[:0], "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s", len(bd), bd)
				rid++
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
			}
			const msg = "<message from='bob@localhost/phone' to='alice@localhost/web' type='chat'><body>Hello Alice, this is a chat line of typical length.</body></message>"
			poll()
			b.ReportAllocs()
			for b.Loop() {
				up.Push(b, msg)
				readRawAnswer(b, c, buf)
				poll()
			}
			if mode == "parked" {
				for end := time.Now().Add(time.Second); h.h.held.Open() == 0 && time.Now().Before(end); {
					time.Sleep(time.Millisecond) // the last poll is on its way to being parked
				}
			}
			if parked := h.h.held.Open(); (parked != 0) != (mode == "parked") {
				b.Fatalf("%d requests parked in mode %s", parked, mode)
			}
		})
	}
}

// readRawAnswer reads one HTTP/1.1 answer with a Content-Length into buf.
func readRawAnswer(b *testing.B, c net.Conn, buf []byte) {
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			b.Fatal(err)
		}
		n += m
		head, rest, ok := bytes.Cut(buf[:n], []byte("\r\n\r\n"))
		if !ok {
			continue
		}
		_, cl, _ := bytes.Cut(head, []byte("Content-Length: "))
		cl, _, _ = bytes.Cut(cl, []byte("\r\n"))
		want, err := strconv.Atoi(string(cl))
		if err != nil {
			b.Fatalf("answer without Content-Length: %q", head)
		}
		if len(rest) >= want {
			return
		}
	}
}

// BenchmarkMalformedRequest measures answering a body that does not parse,
// at the Info level boshd runs at: the debug entry it would log must not
// be built (relay.FrontEnd.LogRequest), so what remains is the answer.
func BenchmarkMalformedRequest(b *testing.B) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.InfoLevel)
	h := newHarnessServing(b, func(c *Config) { c.Log = log.WithField("frontend", "bosh") }, false)
	p := (*protocol)(h.h)
	r := httptest.NewRequest(http.MethodPost, "/http-bind", nil)
	raw := []byte("<body rid='1' xmlns='http://jabber.org/protocol/httpbind'")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		p.ServePost(w, r, raw)
	}
}

// discardWriter is an http.ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
