package bosh

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseBody(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		attrs    map[string]string // unqualified attributes expected
		restart  string            // xmpp:restart value expected
		payloads []string
		err      bool
	}{
		{
			name:  "strophe session creation",
			in:    `<body rid='1573741820' xmlns='http://jabber.org/protocol/httpbind' to='localhost' xml:lang='en' wait='60' hold='1' content='text/xml; charset=utf-8' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`,
			attrs: map[string]string{"rid": "1573741820", "to": "localhost", "wait": "60", "hold": "1", "ver": "1.6", "content": "text/xml; charset=utf-8"},
		},
		{
			name:     "payloads kept byte-exact",
			in:       `<body rid='2' sid='x' xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client' to="b@x" type='chat'><body>hi &amp; &#x1F600;</body></message>  <presence xmlns='jabber:client'/></body>`,
			attrs:    map[string]string{"rid": "2", "sid": "x"},
			payloads: []string{`<message xmlns='jabber:client' to="b@x" type='chat'><body>hi &amp; &#x1F600;</body></message>`, `<presence xmlns='jabber:client'/>`},
		},
		{
			name:    "restart attribute in xbosh namespace",
			in:      `<body rid='3' sid='x' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'/>`,
			attrs:   map[string]string{"rid": "3"},
			restart: "true",
		},
		{
			name:    "restart under a wrong namespace is still understood",
			in:      `<body rid='3' sid='x' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:bosh' xmpp:restart='1'/>`,
			attrs:   map[string]string{"rid": "3"},
			restart: "1",
		},
		{
			name:  "declaration, BOM and white space around",
			in:    "\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\n<body rid='4' xmlns='http://jabber.org/protocol/httpbind'/>\n",
			attrs: map[string]string{"rid": "4"},
		},
		{
			name:     "prefixed wrapper",
			in:       `<b:body xmlns:b='http://jabber.org/protocol/httpbind' rid='5'><iq xmlns='jabber:client' type='get' id='1'/></b:body>`,
			attrs:    map[string]string{"rid": "5"},
			payloads: []string{`<iq xmlns='jabber:client' type='get' id='1'/>`},
		},
		{
			name:     "payload using a prefix declared on the wrapper gets the declaration",
			in:       `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:c='jabber:client' xmlns:j='urn:x:j&amp;' rid='6'><c:message to='b@x'><c:body>hi</c:body><j:x j:a='1'/></c:message><c:presence/></body>`,
			attrs:    map[string]string{"rid": "6"},
			payloads: []string{`<c:message xmlns:c='jabber:client' xmlns:j='urn:x:j&amp;' to='b@x'><c:body>hi</c:body><j:x j:a='1'/></c:message>`, `<c:presence xmlns:c='jabber:client'/>`},
		},
		{
			name:     "payload declaring its own prefixes is untouched",
			in:       `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:c='jabber:client' rid='7'><c:iq xmlns:c='jabber:client'><q:q xmlns:q='urn:q'/></c:iq></body>`,
			attrs:    map[string]string{"rid": "7"},
			payloads: []string{`<c:iq xmlns:c='jabber:client'><q:q xmlns:q='urn:q'/></c:iq>`},
		},
		{name: "payload with an undeclared prefix", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><a><q:q/></a></body>`, err: true},
		{name: "prefix used outside its declaration", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><a><b xmlns:q='urn:q'/><q:q/></a></body>`, err: true},
		{name: "attribute twice on the wrapper", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1' sid='a' sid='b'/>`, err: true},
		{name: "attribute twice on a payload", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><message xmlns='jabber:client' to='a' to='b'/></body>`, err: true},
		{name: "body inside body", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><body/></body>`, err: true},
		{name: "empty input", in: ``, err: true},
		{name: "not xml", in: `hello`, err: true},
		{name: "wrong root", in: `<iq xmlns='http://jabber.org/protocol/httpbind' rid='1'/>`, err: true},
		{name: "wrong namespace", in: `<body xmlns='jabber:client' rid='1'/>`, err: true},
		{name: "no namespace", in: `<body rid='1'/>`, err: true},
		{name: "unclosed body", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>`, err: true},
		{name: "partial child", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><message></body>`, err: true},
		{name: "mismatched child", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><a></b></body>`, err: true},
		{name: "text in wrapper", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>hello</body>`, err: true},
		{name: "comment in wrapper", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><!-- x --></body>`, err: true},
		{name: "processing instruction inside", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><?pi x?></body>`, err: true},
		{name: "doctype", in: `<!DOCTYPE body [<!ENTITY a "aaaa">]><body xmlns='http://jabber.org/protocol/httpbind' rid='1'>&a;</body>`, err: true},
		{name: "undefined entity", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><m>&lol;</m></body>`, err: true},
		{name: "two roots", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'/><body xmlns='http://jabber.org/protocol/httpbind' rid='2'/>`, err: true},
		{name: "undeclared attribute prefix", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1' foo:bar='1'/>`, err: true},
		{name: "too deep", in: `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</body>`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBody([]byte(tt.in))
			if tt.err {
				if err == nil {
					t.Fatalf("ParseBody accepted %q", tt.in)
				}
				if !errors.Is(err, ErrBadBody) {
					t.Fatalf("error %v does not wrap ErrBadBody", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseBody: %v", err)
			}
			for k, want := range tt.attrs {
				if got, ok := b.Get(k); !ok || got != want {
					t.Errorf("attr %s = %q, %v; want %q", k, got, ok, want)
				}
			}
			if got, _ := b.GetNS(NSXBOSH, "restart"); got != tt.restart {
				t.Errorf("xmpp:restart = %q, want %q", got, tt.restart)
			}
			if len(b.Payloads) != len(tt.payloads) {
				t.Fatalf("got %d payloads %q, want %d", len(b.Payloads), b.Payloads, len(tt.payloads))
			}
			for i := range tt.payloads {
				if string(b.Payloads[i]) != tt.payloads[i] {
					t.Errorf("payload %d = %q, want %q", i, b.Payloads[i], tt.payloads[i])
				}
			}
		})
	}
}

// TestParseBodyManyAttributes: an element with very many attributes is
// parsed in linear time (the duplicate check and the prefix lookups must
// not be quadratic), a duplicate among them is still found, and the
// namespace declarations in scope are bounded. Linear time is asserted on
// the comparisons the name checks count, not on the clock: a quadratic
// check of 60000 attributes makes about 1.8e9 of them, a linear one at
// most maxDecls+2 per attribute.
func TestParseBodyManyAttributes(t *testing.T) {
	var attrs strings.Builder
	for i := 0; i < 60000; i++ {
		fmt.Fprintf(&attrs, " a%d=''", i)
	}
	var decls, uses strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&decls, " xmlns:p%d='urn:p'", i)
	}
	for i := 0; i < 60000; i++ {
		fmt.Fprintf(&uses, " p0:a%d=''", i)
	}
	tests := []struct {
		name, attrs string
		err         bool
	}{
		{"all distinct", attrs.String(), false},
		{"one duplicate at the end", attrs.String() + " a7=''", true},
		{"too many namespace declarations", decls.String(), true},
		// p0 is declared first, so every lookup walks all 256 declarations.
		{"many prefixed attributes, many declarations", decls.String()[:strings.Index(decls.String(), " xmlns:p256=")] + uses.String(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><x` + tt.attrs + `/></body>`
			var steps int
			_, err := parseBody([]byte(in), &steps)
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want error=%v", err, tt.err)
			}
			attrs := strings.Count(tt.attrs, "=")
			if limit := (maxDecls + 2) * attrs; steps > limit {
				t.Fatalf("%d comparisons for %d attributes, want at most %d (linear)", steps, attrs, limit)
			}
		})
	}
}

// FuzzParseBody checks that the parser never panics, that every payload it
// returns begins with '<' and ends with '>' and is a slice of the input
// unless it borrowed prefix declarations from the wrapper, and that a body
// rebuilt from the payloads parses to the same payloads (always, for a
// body with borrowed declarations: they make the payloads self-contained).
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`<body rid='1' xmlns='http://jabber.org/protocol/httpbind' to='localhost' wait='60' hold='1' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`,
		`<body rid='2' sid='s' xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client' to='a@b'><body>x &lt; y</body></message></body>`,
		`<body rid='3' sid='s' xmlns='http://jabber.org/protocol/httpbind' type='terminate'><presence type='unavailable' xmlns='jabber:client'/></body>`,
		`<?xml version='1.0'?><body xmlns='http://jabber.org/protocol/httpbind' rid='4'><a><![CDATA[<x>]]></a></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:c='jabber:client' rid='5'><c:message c:to='x'><c:body>hi</c:body></c:message></body>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ParseBody(in)
		if err != nil {
			return
		}
		var rebuilt bytes.Buffer
		rebuilt.WriteString("<body xmlns='" + NSHTTPBind + "'>")
		borrowed := false
		for _, p := range b.Payloads {
			if p[0] != '<' || p[len(p)-1] != '>' {
				t.Fatalf("payload %q is not an element", p)
			}
			if !bytes.Contains(in, p) {
				if !bytes.Contains(p, []byte(" xmlns:")) {
					t.Fatalf("payload %q is not cut from the input", p)
				}
				borrowed = true
			}
			rebuilt.Write(p)
		}
		rebuilt.WriteString("</body>")
		b2, err := ParseBody(rebuilt.Bytes())
		if err != nil {
			if borrowed {
				t.Fatalf("payloads with borrowed declarations are not self-contained: %v", err)
			}
			// Payloads may inherit a default namespace other than
			// httpbind's from the original wrapper.
			return
		}
		if len(b2.Payloads) != len(b.Payloads) {
			t.Fatalf("rebuilt body has %d payloads, want %d", len(b2.Payloads), len(b.Payloads))
		}
		for i := range b.Payloads {
			if !bytes.Equal(b.Payloads[i], b2.Payloads[i]) {
				t.Fatalf("payload %d changed: %q != %q", i, b2.Payloads[i], b.Payloads[i])
			}
		}
	})
}

func TestLowerVersion(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"1.6", "1.11", "1.6"},
		{"1.10", "1.9", "1.9"},
		{"1.11", "1.11", "1.11"},
		{"2.0", "1.11", "1.11"},
		{"junk", "1.11", "1.11"},
		{"1.12", "1.11", "1.11"},
	}
	for _, tt := range tests {
		if got := lowerVersion(tt.a, tt.b); got != tt.want {
			t.Errorf("lowerVersion(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestKeyMatches(t *testing.T) {
	// K(1) = hex(SHA-1("seed")), K(2) = hex(SHA-1(K(1))) (XEP-0124 §15.3).
	k1 := "c15e2d8e7e71d1cd35dd7e8ba3de8e59b35ac2d7" // not a real key of "seed"; any string works as a key
	k2 := sha1Hex(k1)
	if !keyMatches(k1, k2) {
		t.Fatal("a key does not match its successor")
	}
	if !keyMatches(k1, strings.ToUpper(k2)) {
		t.Fatal("key comparison is case-sensitive")
	}
	if keyMatches(k2, k1) {
		t.Fatal("keys match in the wrong order")
	}
}
