package client

import (
	"bytes"
	"slices"
	"testing"
)

// TestAttach: a session logged in by one Session (as a pre-binding web
// application does) is continued by another made with Attach from its
// sid, last rid and JID: the first request carries lastRID+1 and the sid,
// and stanzas flow both ways.
func TestAttach(t *testing.T) {
	f := newFakeCM(t, echo)
	c := testConfig(t, f)
	pre := loggedIn(t, f, c)
	last := pre.RID() - 1
	seen := len(f.reqs())

	s, err := Attach(c, pre.SID, last, pre.JID)
	if err != nil {
		t.Fatal(err)
	}
	if s.JID != pre.JID || s.SID != pre.SID || s.RID() != last+1 {
		t.Fatalf("attached session jid %q sid %q next rid %d; want %q %q %d", s.JID, s.SID, s.RID(), pre.JID, pre.SID, last+1)
	}
	running(t, s)
	msg := []byte("<message xmlns='jabber:client' to='bob@example.net'><body>hi</body></message>")
	if err := s.Send(testContext(t), msg); err != nil {
		t.Fatal(err)
	}
	if got := next(t, s); !bytes.Equal(got, msg) {
		t.Fatalf("received %s, want the echo %s", got, msg)
	}
	reqs := f.reqs()[seen:]
	if len(reqs) == 0 || ridOf(t, reqs[0]) != last+1 || reqs[0].Attrs["sid"] != pre.SID {
		t.Fatalf("first request after attach: %v; want rid %d, sid %s", reqs, last+1, pre.SID)
	}
}

func TestAttachRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Config
		sid  string
		rid  uint64
	}{
		{"no sid", Config{URL: "http://127.0.0.1:1/"}, "", 5},
		{"no url", Config{}, "s", 5},
		{"rid at the limit", Config{URL: "http://127.0.0.1:1/"}, "s", maxRID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Attach(tt.c, tt.sid, tt.rid, ""); err == nil {
				t.Fatal("Attach succeeded")
			}
		})
	}
}

// TestMechanisms: the mechanisms of the features, before and after login
// (RFC 6120 §6.4.1: none are offered once authenticated).
func TestMechanisms(t *testing.T) {
	f := newFakeCM(t)
	s, err := Connect(testContext(t), testConfig(t, f))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Mechanisms(); !slices.Equal(got, []string{"SCRAM-SHA-1", "PLAIN"}) {
		t.Fatalf("Mechanisms() = %v before login", got)
	}
	if err := s.Login(testContext(t), f.user, f.pass, "PLAIN", ""); err != nil {
		t.Fatal(err)
	}
	if got := s.Mechanisms(); got != nil {
		t.Fatalf("Mechanisms() = %v after login, want none", got)
	}
}
