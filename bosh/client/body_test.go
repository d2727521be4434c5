package client

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
)

const hb = "xmlns='http://jabber.org/protocol/httpbind'"

func TestParseBody(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		attrs    map[string]string // checked keys only
		payloads []string
	}{
		{
			name:  "empty wrapper",
			in:    "<body " + hb + " sid='s1' rid='42'/>",
			attrs: map[string]string{"sid": "s1", "rid": "42", "xmlns": NSHTTPBind},
		},
		{
			name: "creation response with features",
			in: "<body " + hb + " xmlns:stream='" + NSStream + "' xmlns:xmpp='" + NSXBOSH + "' sid='a' wait='60' xmpp:restartlogic='true' xmpp:version='1.0'>" +
				"<stream:features><mechanisms xmlns='" + NSSASL + "'><mechanism>PLAIN</mechanism></mechanisms></stream:features></body>",
			attrs:    map[string]string{"xmpp:restartlogic": "true", "xmpp:version": "1.0", "xmlns:stream": NSStream, "wait": "60"},
			payloads: []string{"<stream:features><mechanisms xmlns='" + NSSASL + "'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"},
		},
		{
			name:  "xbosh under another prefix is keyed xmpp:",
			in:    "<body " + hb + " xmlns:x='" + NSXBOSH + "' x:restartlogic='true'/>",
			attrs: map[string]string{"xmpp:restartlogic": "true", "xmlns:x": NSXBOSH},
		},
		{
			name:  "prefixed wrapper",
			in:    "<h:body xmlns:h='" + NSHTTPBind + "' sid='s'/>",
			attrs: map[string]string{"sid": "s"},
		},
		{
			name: "stanzas byte-exact, whitespace between them",
			in: "<body " + hb + ">\n  <message from='a@b/c' to=\"d@e\" xmlns='jabber:client'><body>x &amp; y &#x263A; <![CDATA[<raw>]]></body></message>\n" +
				"  <presence/>\r\n<iq type='result' id='1'><query xmlns='jabber:iq:roster'><item jid='z@y'/></query></iq></body>\n",
			payloads: []string{
				"<message from='a@b/c' to=\"d@e\" xmlns='jabber:client'><body>x &amp; y &#x263A; <![CDATA[<raw>]]></body></message>",
				"<presence/>",
				"<iq type='result' id='1'><query xmlns='jabber:iq:roster'><item jid='z@y'/></query></iq>",
			},
		},
		{
			name:  "entities in attribute values are decoded",
			in:    "<body " + hb + " condition='a&amp;b&lt;&#65;&#x42;&quot;&apos;' text=\"it's\"/>",
			attrs: map[string]string{"condition": "a&b<AB\"'", "text": "it's"},
		},
		{
			name:  "prolog: BOM, declaration, comment, spaces",
			in:    "\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\n<!-- hi -->\n<body " + hb + " sid='p'/>\n\n",
			attrs: map[string]string{"sid": "p"},
		},
		{
			name:     "prefix declared on the payload itself",
			in:       "<body " + hb + "><s:error xmlns:s='" + NSStream + "'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error></body>",
			payloads: []string{"<s:error xmlns:s='" + NSStream + "'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>"},
		},
		{
			name:     "non-ASCII text and names",
			in:       "<body " + hb + "><message><body>héllo → 世界</body><données/></message></body>",
			payloads: []string{"<message><body>héllo → 世界</body><données/></message>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBody([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.attrs {
				if got := b.Attrs[k]; got != want {
					t.Errorf("Attrs[%q] = %q, want %q", k, got, want)
				}
			}
			var got []string
			for _, p := range b.Payloads {
				got = append(got, string(p))
			}
			if !slices.Equal(got, tt.payloads) {
				t.Errorf("payloads:\n got %q\nwant %q", got, tt.payloads)
			}
			if string(b.Raw) != tt.in {
				t.Error("Raw is not the input")
			}
		})
	}
}

func TestParseBodyRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"not XML", "HTTP/1.1 502 Bad Gateway"},
		{"HTML error page", "<html><body>502</body></html>"},
		{"wrong root", "<bodyx " + hb + "/>"},
		{"no namespace", "<body sid='x'/>"},
		{"wrong namespace", "<body xmlns='jabber:client'/>"},
		{"undeclared wrapper prefix", "<h:body sid='x'/>"},
		{"unclosed wrapper", "<body " + hb + ">"},
		{"unclosed child", "<body " + hb + "><message></body>"},
		{"mismatched end tag", "<body " + hb + "><a><b></a></b></body>"},
		{"wrong wrapper end", "<body " + hb + "><a/></bodyx>"},
		{"text in wrapper", "<body " + hb + ">hello<a/></body>"},
		{"entity in wrapper", "<body " + hb + ">&amp;</body>"},
		{"CDATA in wrapper", "<body " + hb + "><![CDATA[x]]></body>"},
		{"comment inside", "<body " + hb + "><a><!-- c --></a></body>"},
		{"PI inside", "<body " + hb + "><?php x ?></body>"},
		{"DTD", "<!DOCTYPE body><body " + hb + "/>"},
		{"DTD inside", "<body " + hb + "><!ENTITY x 'y'></body>"},
		{"unknown entity", "<body " + hb + "><a>&nbsp;</a></body>"},
		{"bad char ref", "<body " + hb + "><a>&#0;</a></body>"},
		{"bare ampersand", "<body " + hb + "><a>fish & chips</a></body>"},
		{"lt in attribute", "<body " + hb + " a='<'/>"},
		{"unquoted attribute", "<body " + hb + " a=1/>"},
		{"attribute without value", "<body " + hb + " a/>"},
		{"duplicate attribute", "<body " + hb + " a='1' a='2'/>"},
		{"no space between attributes", "<body " + hb + " a='1'b='2'/>"},
		{"undeclared prefix in payload", "<body " + hb + "><stream:features/></body>"},
		{"undeclared attribute prefix", "<body " + hb + "><a foo:bar='1'/></body>"},
		{"data after body", "<body " + hb + "/><body " + hb + "/>"},
		{"text after body", "<body " + hb + "/>x"},
		{"invalid UTF-8", "<body " + hb + "><a>\xff</a></body>"},
		{"control character", "<body " + hb + "><a>\x01</a></body>"},
		{"two colons", "<body " + hb + "><a:b:c xmlns:a='x'/></body>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBody([]byte(tt.in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBody = %+v, %v; want an error wrapping ErrMalformed", b, err)
			}
		})
	}
}

// TestParseBuildRoundTrip checks that what AppendBody builds parses back.
func TestParseBuildRoundTrip(t *testing.T) {
	attrs := []Attr{{"rid", "1"}, {"sid", "a'b\"c<d>&e"}, {"xmpp:restart", "true"}, {"to", "example.net"}}
	payloads := [][]byte{[]byte("<message xmlns='jabber:client'><body>&lt;hi&gt;</body></message>"), []byte("<presence/>")}
	raw := AppendBody(nil, attrs, payloads...)
	b, err := ParseBody(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	for _, a := range attrs {
		if b.Attrs[a.Name] != a.Value {
			t.Errorf("%s = %q, want %q", a.Name, b.Attrs[a.Name], a.Value)
		}
	}
	if b.Attrs["xmlns:xmpp"] != NSXBOSH {
		t.Errorf("xmpp prefix not declared: %s", raw)
	}
	if len(b.Payloads) != 2 || !bytes.Equal(b.Payloads[0], payloads[0]) || !bytes.Equal(b.Payloads[1], payloads[1]) {
		t.Errorf("payloads %q", b.Payloads)
	}
}

func TestAppendBody(t *testing.T) {
	tests := []struct {
		name     string
		attrs    []Attr
		payloads []string
		want     string
	}{
		{"empty", nil, nil, "<body xmlns='" + NSHTTPBind + "'/>"},
		{"escaped", []Attr{{"a", `<&'">`}}, nil, "<body a='&lt;&amp;&apos;&quot;&gt;' xmlns='" + NSHTTPBind + "'/>"},
		{"own xmlns kept", []Attr{{"xmlns", "urn:other"}}, nil, "<body xmlns='urn:other'/>"},
		{"xmpp prefix declared once", []Attr{{"xmpp:restart", "true"}, {"xmlns:xmpp", "urn:odd"}}, nil,
			"<body xmpp:restart='true' xmlns:xmpp='urn:odd' xmlns='" + NSHTTPBind + "'/>"},
		{"payloads verbatim", []Attr{{"rid", "5"}}, []string{"<a>", "</a>"}, "<body rid='5' xmlns='" + NSHTTPBind + "'><a></a></body>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps [][]byte
			for _, p := range tt.payloads {
				ps = append(ps, []byte(p))
			}
			if got := string(AppendBody(nil, tt.attrs, ps...)); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMergeAttrs(t *testing.T) {
	base := []Attr{{"rid", "1"}, {"sid", "s"}, {"key", "k"}}
	got := mergeAttrs(base, map[string]string{"key": "", "sid": "other", "pause": "5", "ack": "3"})
	want := []Attr{{"rid", "1"}, {"sid", "other"}, {"ack", "3"}, {"pause", "5"}}
	if !slices.Equal(got, want) {
		t.Errorf("mergeAttrs = %v, want %v", got, want)
	}
	if base[2] != (Attr{"key", "k"}) {
		t.Error("mergeAttrs modified its input")
	}
}

func TestAppendRequest(t *testing.T) {
	got := string(appendRequest(nil, 7, "s'id", "k1", "k2", 6, [][]byte{[]byte("<a/>")}))
	want := "<body rid='7' sid='s&apos;id' key='k1' newkey='k2' ack='6' xmlns='" + NSHTTPBind + "'><a/></body>"
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if got := string(appendRequest(nil, 8, "s", "", "", 0, nil)); got != "<body rid='8' sid='s' xmlns='"+NSHTTPBind+"'/>" {
		t.Errorf("poll: %s", got)
	}
}

// oracle parses a body with encoding/xml: the wrapper's attributes keyed
// like Body.Attrs and the payloads cut at the decoder's offsets.
func oracle(raw []byte) (map[string]string, []string, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	var root *xml.StartElement
	var stack []xml.Name
	var payloads []string
	attrs := map[string]string{}
	start := int64(0)
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			if root == nil || len(stack) != 0 {
				return nil, nil, errors.New("incomplete")
			}
			return attrs, payloads, nil
		}
		if err != nil {
			return nil, nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == nil {
				t = t.Copy()
				root = &t
				for _, a := range t.Attr {
					k := a.Name.Local
					if a.Name.Space != "" {
						k = a.Name.Space + ":" + k
						for _, d := range t.Attr {
							if d.Name.Space == "xmlns" && d.Name.Local == a.Name.Space && d.Value == NSXBOSH {
								k = "xmpp:" + a.Name.Local
							}
						}
					}
					attrs[k] = a.Value
				}
				continue
			}
			if len(stack) == 0 {
				start = off
			}
			stack = append(stack, t.Name)
		case xml.EndElement:
			if len(stack) == 0 {
				continue // the wrapper's end
			}
			if stack[len(stack)-1] != t.Name {
				return nil, nil, fmt.Errorf("mismatched </%s>", t.Name.Local)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				payloads = append(payloads, string(raw[start:d.InputOffset()]))
			}
		}
	}
}

// FuzzParseBody checks ParseBody against encoding/xml: whatever ParseBody
// accepts, encoding/xml accepts too, with the same attributes and the same
// payload boundaries; and ParseBody never panics.
func FuzzParseBody(f *testing.F) {
	seeds := []string{
		"<body " + hb + "/>",
		"<body " + hb + " sid='a' rid=\"1\"><message xmlns='jabber:client'><body>hi &amp; bye</body></message><presence/></body>",
		"<body " + hb + " xmlns:stream='" + NSStream + "' xmlns:xmpp='" + NSXBOSH + "' xmpp:version='1.0'><stream:features/></body>",
		"<?xml version='1.0'?><body " + hb + " a='&#38;&#x26;'>\n<a><![CDATA[<]]></a>\n</body>",
		"<h:body xmlns:h='" + NSHTTPBind + "'><x:y xmlns:x='u'><x:z/></x:y></h:body>",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := ParseBody(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		attrs, payloads, oerr := oracle(raw)
		if oerr != nil {
			t.Fatalf("ParseBody accepted what encoding/xml rejects (%v):\n%q", oerr, raw)
		}
		if !maps.Equal(attrs, b.Attrs) {
			t.Fatalf("attributes differ:\nParseBody %v\nencoding/xml %v", b.Attrs, attrs)
		}
		var got []string
		for _, p := range b.Payloads {
			got = append(got, string(p))
		}
		if !slices.Equal(got, payloads) {
			t.Fatalf("payloads differ:\nParseBody %q\nencoding/xml %q", got, payloads)
		}
		// Payloads are subslices of the input.
		for _, p := range b.Payloads {
			if !strings.Contains(string(raw), string(p)) {
				t.Fatalf("payload %q is not in the input", p)
			}
		}
	})
}
