package xmppconn

import "testing"

// TestParseHeader reads the headers both sides of a stream send (RFC 6120
// §4.7) and refuses one whose prefix is not bound to the streams namespace
// (§4.8.1).
func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want Header
		ok   bool
	}{
		{"server", "<?xml version='1.0'?><stream:stream from='example.com' id='abc' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
			Header{ID: "abc", From: "example.com", Version: "1.0", Lang: "en"}, true},
		{"client", "<stream:stream to='example.com' from='alice@example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
			Header{To: "example.com", From: "alice@example.com", Version: "1.0"}, true},
		{"other prefix, escaped value", `<s:stream to="a&amp;b" xmlns:s="http://etherx.jabber.org/streams">`,
			Header{To: "a&b"}, true},
		{"pre-1.0", "<stream:stream to='example.com' xmlns:stream='http://etherx.jabber.org/streams'>",
			Header{To: "example.com"}, true},
		{"wrong namespace", "<stream:stream to='example.com' xmlns:stream='urn:other'>", Header{To: "example.com"}, false},
		{"prefix not declared", "<stream:stream to='example.com'>", Header{To: "example.com"}, false},
		{"cut", "<stream:stream to='exa", Header{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHeader([]byte(tc.raw))
			if (err == nil) != tc.ok {
				t.Fatalf("error %v, want ok=%v", err, tc.ok)
			}
			if string(h.Raw) != tc.raw {
				t.Errorf("Raw %q", h.Raw)
			}
			if h.ID != tc.want.ID || h.From != tc.want.From || h.To != tc.want.To ||
				h.Version != tc.want.Version || h.Lang != tc.want.Lang {
				t.Errorf("got %+v, want %+v", h, tc.want)
			}
		})
	}
}
