package bosh

import (
	"fmt"
	"testing"

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
