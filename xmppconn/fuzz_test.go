package xmppconn

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzSplitter checks the splitter's invariants on any input:
//   - it never panics;
//   - cutting the input into different pieces gives the same elements and
//     the same kind of error (the limits included);
//   - every Raw starts with '<' and ends with '>', the name ends at
//     NameEnd, and the Raws appear in the input in order (the splitter
//     only ever drops bytes, it never invents or reorders them);
//   - splitting the concatenated Raws again gives the same elements.
//
// Seeds live in testdata/fuzz/FuzzSplitter; run with
// go test -fuzz FuzzSplitter ./xmppconn.
func FuzzSplitter(f *testing.F) {
	for _, name := range []string{"prosody-c2s.xml", "ejabberd-c2s.xml", "prosody-streamerror.xml"} {
		f.Add(readFixture(f, name), uint64(1))
	}
	f.Add(streamOpen+"<message to='a>b'><![CDATA[<x>]]></message>  <?xml version='1.0'?>"+streamOpen+"<stream:features/>"+streamClose, uint64(7))
	f.Fuzz(func(t *testing.T, in string, seed uint64) {
		newSplitter := func() *Splitter { return &Splitter{MaxElementBytes: 300, MaxDepth: 6} }
		whole, werr := split(newSplitter(), []byte(in), func() int { return len(in) })
		r := rand.New(rand.NewPCG(seed, seed>>32))
		pieces, perr := split(newSplitter(), []byte(in), func() int { return 1 + r.IntN(1+int(seed%64)) })

		if class(werr) != class(perr) {
			t.Fatalf("whole input: %v; in pieces: %v", werr, perr)
		}
		if !sameElements(whole, pieces) {
			t.Fatalf("whole input gave %d elements, pieces %d:\n%q\n%q", len(whole), len(pieces), raws(whole), raws(pieces))
		}
		rest := []byte(in)
		var again []byte
		for i, el := range whole {
			raw := el.Raw
			if len(raw) < 2 || raw[0] != '<' || raw[len(raw)-1] != '>' {
				t.Fatalf("element %d: Raw %q does not look like an element", i, raw)
			}
			if el.Kind != KindEnd && (el.NameEnd > len(raw) || !bytes.HasSuffix(raw[:el.NameEnd], []byte(el.Name))) {
				t.Fatalf("element %d: name %q does not end at %d in %q", i, el.Name, el.NameEnd, raw)
			}
			j := bytes.Index(rest, raw)
			if j < 0 {
				t.Fatalf("element %d: Raw %q is not in the rest of the input", i, raw)
			}
			rest = rest[j+len(raw):]
			again = append(again, raw...)
		}
		if werr == nil {
			els, err := split(newSplitter(), again, func() int { return len(again) })
			if err != nil || !sameElements(whole, els) {
				t.Fatalf("splitting the Raws again: %v, %q; want %q", err, raws(els), raws(whole))
			}
		}
	})
}

// class names the sentinel an error wraps.
func class(err error) error {
	for _, e := range []error{ErrTooLarge, ErrTooDeep, ErrNotWellFormed} {
		if errors.Is(err, e) {
			return e
		}
	}
	return err
}

func sameElements(a, b []Element) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Name != b[i].Name || a[i].NameEnd != b[i].NameEnd ||
			a[i].HasXMLNS != b[i].HasXMLNS || !bytes.Equal(a[i].Raw, b[i].Raw) {
			return false
		}
	}
	return true
}

func raws(els []Element) []string {
	var s []string
	for _, el := range els {
		s = append(s, string(el.Raw))
	}
	return s
}

// FuzzParseHeader checks that a stream header parser never panics, keeps
// the bytes it was given in Raw, and only accepts a header whose start tag
// is stream:stream in the streams namespace (RFC 6120 §4.8.1); StartTag and
// ParseHeader agree on whether there is a start tag at all.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' from='example.com' version='1.0' xml:lang='en'>`))
	f.Add([]byte(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='example.com'>`))
	f.Add([]byte(`<s:stream xmlns:s='urn:wrong' to='x'>`))
	f.Add([]byte(`<stream:stream to='a' to='b'>`))
	f.Add([]byte(`<x:foo xmlns:x='http://etherx.jabber.org/streams'>`))
	f.Add([]byte(`<!-- c --><?pi?><stream:stream`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := ParseHeader(raw)
		if !bytes.Equal(h.Raw, raw) {
			t.Fatalf("Raw = %q, want the input", h.Raw)
		}
		start, startErr := StartTag(raw)
		if startErr != nil && err == nil {
			t.Fatalf("ParseHeader accepted %q without a start tag (%v)", raw, startErr)
		}
		if err == nil && (start.Name.Local != "stream") {
			t.Fatalf("ParseHeader accepted a <%s:%s> start tag", start.Name.Space, start.Name.Local)
		}
	})
}
