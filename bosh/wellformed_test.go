package bosh

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"boshd/bosh/internal/frontendtest"
	"boshd/xmppconn"
)

// TestUpstreamNotWellFormed: a server that sends bytes a strict XML parser
// refuses (issue 11) ends the session with a terminal answer the client
// can parse, condition remote-stream-error (XEP-0124 §17.2: fatal errors
// of the stream between boshd and the server) carrying boshd's
// <not-well-formed/>; the stanzas before the fault arrive, the bad bytes
// never do, and the log names the fault and its offset but not the
// stanza's content.
func TestUpstreamNotWellFormed(t *testing.T) {
	for _, tt := range frontendtest.UpstreamFaults {
		t.Run(tt.Name, func(t *testing.T) {
			log, hook := test.NewNullLogger()
			log.SetLevel(logrus.InfoLevel)
			h := newHarness(t, func(c *Config) { c.Log = log })
			sid, up, _ := h.open(10, 10, "")
			up.Push(t, "<message id='before'/>"+tt.Bad)

			var all string
			var last reply
			for rid := uint64(11); rid < 15 && last.attr("type") != "terminate"; rid++ {
				last = h.post(body(rid, sid, "", ""))
				all += last.raw
			}
			if last.attr("type") != "terminate" || last.attr("condition") != "remote-stream-error" {
				t.Fatalf("last answer %q, want a terminal remote-stream-error", last.raw)
			}
			if last.root == nil || last.root.FindElement("./stream:error/not-well-formed") == nil {
				t.Fatalf("no <stream:error><not-well-formed/> in %q", last.raw)
			}
			if !strings.Contains(all, "'before'") {
				t.Errorf("the stanza before the fault was lost: %q", all)
			}
			if strings.Contains(all, frontendtest.Secret) {
				t.Errorf("bytes of the broken stanza reached the client: %q", all)
			}
			if err := frontendtest.StrictParse(last.raw); err != nil {
				t.Errorf("terminal answer %q: %v", last.raw, err)
			}

			frontendtest.FaultLogged(t, hook.AllEntries())
		})
	}
}

// TestPayloadNotWellFormed: a BOSH payload that is not XML a strict parser
// accepts is refused with bad-request (XEP-0124 §17.2) and never reaches
// the server (issue 11), including what encoding/xml alone lets through:
// character references to surrogates, which it turns into U+FFFD while
// the raw bytes boshd relays keep them.
func TestPayloadNotWellFormed(t *testing.T) {
	payloads := map[string]string{
		"surrogate reference":              "<message xmlns='jabber:client'><body>&#xD800;</body></message>",
		"surrogate reference in attribute": "<message xmlns='jabber:client' id='&#xDFFF;'/>",
		"NUL reference":                    "<message xmlns='jabber:client'><body>&#0;</body></message>",
		"undefined entity":                 "<message xmlns='jabber:client'><body>&nbsp;</body></message>",
		"bare &":                           "<message xmlns='jabber:client'><body>fish & chips</body></message>",
		"control character":                "<message xmlns='jabber:client'><body>\x07</body></message>",
		"invalid UTF-8":                    "<message xmlns='jabber:client'><body>\xc3\x28</body></message>",
	}
	for name, payload := range payloads {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseBody([]byte(body(1, "s", "", payload))); !errors.Is(err, ErrBadBody) {
				t.Fatalf("ParseBody: %v, want ErrBadBody", err)
			}
			h := newHarness(t, nil)
			sid, up, _ := h.open(10, 1, "")
			r := h.post(body(11, sid, "", "<presence xmlns='jabber:client'/>"+payload))
			if r.attr("type") != "terminate" || r.attr("condition") != "bad-request" {
				t.Fatalf("answered %s, want a terminal bad-request", r.raw)
			}
			select {
			case el, ok := <-up.Received:
				if ok && el.Kind != xmppconn.KindEnd {
					t.Fatalf("forwarded %q", el.Raw)
				}
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}
