package httppoll

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/internal/frontendtest"
	"boshd/xmppconn"
)

// TestUpstreamNotWellFormed: a server that sends bytes a strict XML parser
// refuses (issue 11) ends the session: the client gets the stanzas before
// the fault, a stream error and the end of its stream, never the bad
// bytes, so that everything it was sent parses as one well-formed stream;
// its next poll is answered 0:0. The log names the fault and its offset,
// not the stanza's content. The upstream is a real xmppconn stream to the
// scripted server, so the bytes go through the splitter.
func TestUpstreamNotWellFormed(t *testing.T) {
	for _, tt := range frontendtest.UpstreamFaults {
		t.Run(tt.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newHarness(t, func(c *Config) { c.HoldCap = 100 * time.Millisecond })
				p.h.config().Log.(*logrus.Logger).SetLevel(logrus.InfoLevel)

				id, up := p.open()
				stream := serverHeader + serverFeatures
				up.stanza("<message id='before'/>" + tt.Bad)
				for i := 0; i < 50 && !strings.HasSuffix(stream, "</stream:stream>"); i++ {
					r := p.post(id + ",")
					if r.id != id {
						t.Fatalf("poll answered %s %q before the end of the stream", r.id, r.body)
					}
					stream += r.body
				}
				if !strings.HasSuffix(stream, "<internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"+
					xmppconn.Fault(xmppconn.ErrNotWellFormed)+"</text></stream:error></stream:stream>") {
					t.Fatalf("the stream ends %q, want a stream error and the end", stream[max(0, len(stream)-300):])
				}
				if !strings.Contains(stream, "'before'") {
					t.Errorf("the stanza before the fault was lost: %q", stream)
				}
				if strings.Contains(stream, frontendtest.Secret) {
					t.Errorf("bytes of the broken stanza reached the client: %q", stream)
				}
				if err := frontendtest.StrictParse(stream); err != nil {
					t.Errorf("what the client was sent is not well-formed: %v\n%q", err, stream)
				}
				if r := p.post(id + ","); r.id != IDUnknown {
					t.Errorf("after the end: %s", r.id)
				}
				frontendtest.FaultLogged(t, p.logs.AllEntries())
			})
		})
	}
}

// TestClientNotWellFormed: XEP-0025 §3.1.3: a client payload that is not
// well-formed XML (issue 11: the same checks as the server's bytes, in
// xmppconn's splitter) is refused with -2:0 and ends the session; nothing
// of it reaches the server, and the stanzas of the same request before it
// are not forwarded either, since the request is refused as a whole.
func TestClientNotWellFormed(t *testing.T) {
	tests := []struct{ name, payload string }{
		{"bare &", "<message><body>fish & chips</body></message>"},
		{"NUL reference", "<message><body>&#0;</body></message>"},
		{"surrogate reference", "<message><body>&#xD800;</body></message>"},
		{"undefined entity", "<message><body>&nbsp;</body></message>"},
		{"control character", "<message><body>\x07</body></message>"},
		{"invalid UTF-8", "<message><body>\xc3\x28</body></message>"},
		{"in an attribute", "<message to='a&b'/>"},
		{"]]> in text", "<message><body>]]></body></message>"},
		{"after a good stanza", "<presence/><message><body>\x00</body></message>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newHarness(t, nil)
				id, f := p.open()
				if r := p.post(id + "," + tt.payload); r.id != IDBadRequest {
					t.Fatalf("answered %s %q, want -2:0", r.id, r.body)
				}
				synctest.Wait()
				if got := f.sentText(); got != "" || !f.isClosed() {
					t.Fatalf("forwarded %q (closed %v); want nothing and the upstream closed", got, f.isClosed())
				}
				if r := p.post(id + ","); r.id != IDUnknown {
					t.Fatalf("after the refusal: %s", r.id)
				}
			})
		})
	}
	// The same characters, escaped, are fine.
	synctest.Test(t, func(t *testing.T) {
		p := newHarness(t, nil)
		id, f := p.open()
		const ok = "<message to='a&amp;b'><body>fish &amp; chips &#xE9; é &lt;&gt;</body></message>"
		if r := p.post(id + "," + ok); r.id != id {
			t.Fatalf("answered %s", r.id)
		}
		if got := f.sentText(); got != ok {
			t.Fatalf("forwarded %q, want %q", got, ok)
		}
	})
}
