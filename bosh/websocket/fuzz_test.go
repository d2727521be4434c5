package websocket

import (
	"bytes"
	"testing"
)

// FuzzParseMessage: ParseMessage never panics, and a message it accepts is
// a slice of its input that parses again to the same element.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>",
		"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
		"<message xmlns='jabber:client' to='a@b'><body>hi</body></message>",
		"<a/><b/>", "<a>", "<!-- x --><a/>", " ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := ParseMessage(p, 16)
		if err != nil || m.Raw == nil {
			return
		}
		if !bytes.Contains(p, m.Raw) {
			t.Fatalf("Raw %q is not part of the input %q", m.Raw, p)
		}
		again, err := ParseMessage(m.Raw, 16)
		if err != nil || again.Name != m.Name {
			t.Fatalf("reparse of %q: %v, %v (was %v)", m.Raw, again.Name, err, m.Name)
		}
	})
}
