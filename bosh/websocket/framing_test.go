package websocket

import (
	"errors"
	"testing"

	"boshd/xmppconn"
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
		ns      string
		local   string
	}{
		{name: "open", in: "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>", ns: NSFraming, local: "open"},
		{name: "close with whitespace", in: "\n <close xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\"/> \n", ns: NSFraming, local: "close"},
		{name: "stanza", in: "<message xmlns='jabber:client' to='a@b'><body>hi &amp; bye</body></message>", ns: nsClient, local: "message"},
		{name: "stanza inheriting", in: "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>", ns: "", local: "iq"},
		{name: "sasl", in: "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>", ns: "urn:ietf:params:xml:ns:xmpp-sasl", local: "auth"},
		{name: "prefixed", in: "<x:message xmlns:x='jabber:client'/>", ns: nsClient, local: "message"},
		{name: "whitespace only", in: "  \n"},
		{name: "old draft header", in: "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='example.com'>", wantErr: ErrNotWellFormed},
		{name: "two elements", in: "<a/><b/>", wantErr: ErrNotWellFormed},
		{name: "incomplete", in: "<message><body>hi</body>", wantErr: ErrNotWellFormed},
		{name: "mismatched", in: "<a></b>", wantErr: ErrNotWellFormed},
		{name: "text before", in: "hi<a/>", wantErr: ErrNotWellFormed},
		{name: "text after", in: "<a/>hi", wantErr: ErrNotWellFormed},
		{name: "bad entity", in: "<a>&nope;</a>", wantErr: ErrNotWellFormed},
		{name: "comment", in: "<a><!-- c --></a>", wantErr: ErrRestrictedXML},
		{name: "xml declaration", in: "<?xml version='1.0'?><a/>", wantErr: ErrRestrictedXML},
		{name: "doctype", in: "<!DOCTYPE a><a/>", wantErr: ErrRestrictedXML},
		{name: "too deep", in: "<a><a><a><a><a></a></a></a></a></a>", wantErr: ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tt.in), 4)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseMessage(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMessage(%q): %v", tt.in, err)
			}
			if m.Name.Space != tt.ns || m.Name.Local != tt.local {
				t.Errorf("name = %v, want {%s %s}", m.Name, tt.ns, tt.local)
			}
		})
	}
}

// TestServerElements is a transcript: what the server sends on its TCP
// stream (as xmppconn splits it) and the exact WebSocket message each
// becomes (RFC 7395 §3.3.3).
func TestServerElements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind xmppconn.Kind
		out  string
	}{
		{"stanza gets jabber:client", "<message from='a@b'><body>x</body></message>", xmppconn.KindStanza,
			"<message xmlns='jabber:client' from='a@b'><body>x</body></message>"},
		{"stanza keeps its namespace", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", xmppconn.KindStanza,
			"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"},
		{"empty stanza", "<presence/>", xmppconn.KindStanza, "<presence xmlns='jabber:client'/>"},
		{"features get the stream prefix", "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>", xmppconn.KindFeatures,
			"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"},
		{"other prefix", "<s:features/>", xmppconn.KindFeatures, "<s:features xmlns:s='http://etherx.jabber.org/streams'/>"},
		{"prefix already declared", "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>", xmppconn.KindFeatures,
			"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"},
		{"error", "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>", xmppconn.KindError,
			"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			el := xmppconn.Element{Kind: tt.kind, Raw: []byte(tt.in), NameEnd: nameEnd([]byte(tt.in))}
			if s, err := xmppconn.StartTag(el.Raw); err == nil {
				for _, a := range s.Attr {
					if a.Name.Space == "" && a.Name.Local == "xmlns" {
						el.HasXMLNS = true
					}
				}
			}
			if got := string(appendElement(nil, el)); got != tt.out {
				t.Errorf("got  %s\nwant %s", got, tt.out)
			}
			if _, err := ParseMessage([]byte(tt.out), 0); err != nil {
				t.Errorf("the message does not stand alone: %v", err)
			}
		})
	}
}

func TestOpenAndClose(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"server header", appendOpen(nil, xmppconn.Header{From: "example.com", ID: "s'1", Version: "1.0", Lang: "en"}),
			"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.com' id='s&apos;1' version='1.0' xml:lang='en'/>"},
		{"close", appendClose(nil, ""), "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"},
		{"see other", appendClose(nil, "wss://other.example/xmpp-websocket"),
			"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='wss://other.example/xmpp-websocket'/>"},
		{"stream error", appendStreamError(nil, &Condition{"host-unknown", "a<b"}),
			"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>a&lt;b</text></stream:error>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("got  %s\nwant %s", tt.got, tt.want)
			}
		})
	}
	m, err := ParseMessage([]byte("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' xml:lang='de'/>"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if o := parseOpen(m); o != (Open{To: "example.com", Lang: "de", Version: "1.0"}) {
		t.Errorf("parseOpen = %+v", o)
	}
}
