package xmppconn

import (
	"fmt"
	"strings"
	"testing"
)

// benchStream is a realistic mix of what a server sends a chat client:
// chat messages with receipts and chat states, presences with caps and
// vCard hashes, a roster push, pings, stream management acks and whitespace
// keepalives, one 50-item roster result.
func benchStream() (stream []byte, elements int) {
	var b strings.Builder
	b.WriteString(streamOpen)
	for i := range 40 {
		fmt.Fprintf(&b, "<message xml:lang='en' to='alice@example.net/web' from='bob%d@example.net/phone' type='chat' id='m%d'><body>Hello Alice, this is message number %d &amp; some more text to make it a typical chat line.</body><active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/><stanza-id xmlns='urn:xmpp:sid:0' id='a1b2c3d4-%d' by='alice@example.net'/></message>", i, i, i, i)
		fmt.Fprintf(&b, "<presence from='bob%d@example.net/phone' to='alice@example.net/web'><show>away</show><status>on the road</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='q2+bHJ4+S2DB9CbqzmDNFCAXmMk='/><x xmlns='vcard-temp:x:update'><photo>0123456789abcdef0123456789abcdef01234567</photo></x></presence>", i)
		if i%4 == 0 {
			fmt.Fprintf(&b, "<iq type='get' id='ping%d' from='example.net' to='alice@example.net/web'><ping xmlns='urn:xmpp:ping'/></iq>", i)
			b.WriteString("<r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='42'/>\n")
		}
	}
	b.WriteString("<iq type='result' id='roster1' to='alice@example.net/web'><query xmlns='jabber:iq:roster' ver='17'>")
	for i := range 50 {
		fmt.Fprintf(&b, "<item jid='contact%d@example.org' name='Contact %d' subscription='both'><group>Friends</group></item>", i, i)
	}
	b.WriteString("</query></iq>")
	stream = []byte(b.String())

	var sp Splitter
	els, err := split(&sp, stream, func() int { return len(stream) })
	if err != nil {
		panic(err)
	}
	return stream, len(els) - 1 // the header is set up once, below
}

// BenchmarkSplitter measures the server-to-client hot path: the stream is
// fed in 4 KiB pieces, as socket reads deliver it, and every element is
// taken out. bytes/op is throughput; allocs/op divided by elements/op should
// stay 1 (each element's Raw).
func BenchmarkSplitter(b *testing.B) {
	stream, n := benchStream()
	header := len(streamOpen)
	body := stream[header:]
	var sp Splitter
	sp.Write(stream[:header])
	if _, ok, err := sp.Next(); !ok || err != nil {
		b.Fatal(ok, err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got := 0
		for p := body; len(p) > 0; {
			k := min(4096, len(p))
			sp.Write(p[:k])
			p = p[k:]
			for {
				_, ok, err := sp.Next()
				if err != nil {
					b.Fatal(err)
				}
				if !ok {
					break
				}
				got++
			}
		}
		if got != n {
			b.Fatalf("%d elements, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n), "elements/op")
}
