package bosh

import (
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// TestSessionLogs: a session's log entries at info level and above carry
// its shortened sid, the client's address and the domain, and never the
// SASL payload or a stanza's content, which only debug level may show.
func TestSessionLogs(t *testing.T) {
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.InfoLevel)
	h := newHarness(t, func(c *Config) { c.Log = log })
	sid, up, _ := h.open(10, 1, "")
	const secret = "c2VjcmV0LXBhc3N3b3Jk"
	h.post(body(11, sid, "", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+secret+"</auth>"))
	up.Next(t)
	h.post(body(12, sid, "", "<message xmlns='jabber:client' to='b@localhost'><body>"+secret+"</body></message>"))
	up.Next(t)
	h.post(body(13, sid, " type='terminate'", ""))

	var created, ended bool
	for _, e := range hook.AllEntries() {
		line, err := e.String()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, secret) {
			t.Errorf("a %s entry shows client content: %s", e.Level, line)
		}
		switch {
		case e.Message == "session created":
			created = true
		case strings.HasPrefix(e.Message, "session ended"):
			ended = true
		default:
			continue
		}
		if sidField, _ := e.Data["sid"].(string); sidField == "" || len(sidField) >= len(sid) || !strings.HasPrefix(sid, sidField) {
			t.Errorf("%q: sid field %q, want a shortened %q", e.Message, e.Data["sid"], sid)
		}
		if e.Data["remote"] != "127.0.0.1" || e.Data["domain"] != "localhost" {
			t.Errorf("%q: remote %v, domain %v", e.Message, e.Data["remote"], e.Data["domain"])
		}
	}
	if !created || !ended {
		t.Errorf("logged created=%v ended=%v; entries: %d", created, ended, len(hook.AllEntries()))
	}
}
