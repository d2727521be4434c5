package httppoll

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"

	"boshd/bosh/internal/frontendtest"
	"boshd/xmppconn"
)

// FuzzParseRequest checks the request parser's invariant: whatever it
// accepts, it prints back (AppendRequest) to bytes that parse to the same
// request, and it never panics. Seeds in testdata/fuzz/FuzzParseRequest.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("0,<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"))
	f.Add([]byte("0;VvxEk07IFy6hUmG/PPBlTLE2fiA=,"))
	f.Add([]byte("7776:2054;C+7Hteo/D9vJXQ3UfzxbwnXaijM=;Tr697Eff02+32FZp38Xaq2+3Bv4=,<presence/>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			return
		}
		if r.ID == "" {
			t.Fatalf("accepted an empty identifier in %q", body)
		}
		again, err := ParseRequest(AppendRequest(nil, r))
		if err != nil {
			t.Fatalf("%q parsed to %+v, which prints to something unparsable: %v", body, r, err)
		}
		if again.ID != r.ID || again.Key != r.Key || again.NewKey != r.NewKey || !bytes.Equal(again.XML, r.XML) {
			t.Fatalf("round trip of %q: %+v became %+v", body, r, again)
		}
	})
}

// FuzzClientStream feeds arbitrary stream bytes, cut into polls at
// arbitrary places, to a session after its header. Invariants: boshd never
// fails internally (-1:0 would hide a recovered panic), answers either the
// session's identifier, -2:0 for a broken stream, or 0:0 once it ended,
// and forwards only whole, well-formed elements.
func FuzzClientStream(f *testing.F) {
	f.Add([]byte("<message to='a@b'><body>hi</body></message>"), uint16(7), uint16(20))
	f.Add([]byte("<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq><presence/>"), uint16(0), uint16(3))
	f.Add([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), uint16(5), uint16(5))
	f.Add([]byte("<message><body>x</message>"), uint16(2), uint16(9))
	f.Add([]byte("<presence/></stream:stream>"), uint16(11), uint16(11))
	f.Add([]byte("<message to='a&amp;b'><body>&#0; &#xD800; &nbsp; & \x01 \xff ]]> &#x1F600; é</body></message>"), uint16(20), uint16(40))
	f.Add([]byte("<stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><presence/>"), uint16(30), uint16(60))
	f.Fuzz(func(t *testing.T, stream []byte, cut1, cut2 uint16) {
		synctest.Test(t, func(t *testing.T) { fuzzClientStream(t, stream, cut1, cut2) })
	})
}

// fuzzClientStream is one input of FuzzClientStream, inside a synctest
// bubble (the upstream is xmpptest's in-memory server).
func fuzzClientStream(t *testing.T, stream []byte, cut1, cut2 uint16) {
	p := newHarness(t, func(c *Config) { c.HoldCap = -1 })
	id, up := p.open()
	a, b := int(cut1)%(len(stream)+1), int(cut2)%(len(stream)+1)
	if a > b {
		a, b = b, a
	}
	ended := false
	for _, part := range [][]byte{stream[:a], stream[a:b], stream[b:]} {
		r := p.post(id + "," + string(part))
		switch {
		case r.id == IDServerError:
			t.Fatalf("internal error on %q", stream)
		case ended && r.id != IDUnknown:
			t.Fatalf("answered %s after the session ended", r.id)
		case r.id == IDBadRequest, r.id == IDUnknown:
			ended = true
		case r.id != id:
			t.Fatalf("answered %s", r.id)
		}
		if strings.HasSuffix(r.body, "</stream:stream>") {
			ended = true
		}
	}
	var sp xmppconn.Splitter
	sp.Write([]byte(clientHeader))
	sp.Write([]byte(up.sentText()))
	for {
		_, ok, err := sp.Next()
		if err != nil {
			t.Fatalf("forwarded bytes that are not whole elements: %v", err)
		}
		if !ok {
			break
		}
	}
	// Issue 11: what reaches the server is XML a strict parser
	// accepts (but for non-ASCII names, where encoding/xml follows
	// XML 1.0's fourth edition and boshd the fifth).
	doc := clientHeader + up.sentText() + "</stream:stream>"
	if err := frontendtest.StrictParse(doc); err != nil && !(strings.Contains(err.Error(), "invalid XML name") && strings.ContainsFunc(doc, func(r rune) bool { return r >= 0x80 })) {
		t.Fatalf("forwarded %q, which encoding/xml refuses: %v", up.sentText(), err)
	}
}
