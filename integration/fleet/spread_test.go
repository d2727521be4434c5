package fleet_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"boshd/bosh/httppoll"
)

// sidFormat is the node-tagged sid of the contract: the node, a dot, and
// the 128-bit random part (URL-safe Base64).
var sidFormat = regexp.MustCompile(`^n[123]\.[A-Za-z0-9_-]{22}$`)

// TestSessionsSpreadAndChatAcrossNodes: logins through HAProxy land on
// every node (leastconn), each sid names its node, and users on every pair
// of boshd nodes (and so of ejabberd nodes: n1 and n3 use the first, n2
// the second) chat with each other.
func TestSessionsSpreadAndChatAcrossNodes(t *testing.T) {
	f := startFleet(t, "", 0)
	names := f.users(t, "spread", 6)
	byNode := f.loginAll(t, names)
	for _, a := range nodeNames {
		for _, b := range nodeNames {
			if a != b {
				chat(t, byNode[a][0], byNode[b][0], a+"-to-"+b)
			}
		}
	}
}

// TestForeignSIDIsItemNotFound: a node asked about a session another node
// holds (as after a load balancer's mistake) answers at once with the
// normal XEP-0124 §17.2 item-not-found terminate, HTTP 200 and XML.
func TestForeignSIDIsItemNotFound(t *testing.T) {
	f := startFleet(t, "", 0)
	name := f.users(t, "foreign", 1)[0]
	s := f.login(t, name)
	owner := f.nodeOf(t, s.SID)
	for _, n := range f.Nodes {
		if n == owner {
			continue
		}
		body := fmt.Sprintf(`<body rid='%d' sid='%s' xmlns='http://jabber.org/protocol/httpbind'/>`, s.RID()+100, s.SID)
		status, hdr, got := post(t, "http://"+n.Addr+"/http-bind", "text/xml; charset=utf-8", body)
		if status != 200 || !strings.Contains(got, "type='terminate'") || !strings.Contains(got, "condition='item-not-found'") {
			t.Errorf("%s asked for %s's session: %d %q", n.Name, owner.Name, status, got)
		}
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
			t.Errorf("%s: Content-Type %q", n.Name, ct)
		}
	}
}

// TestPollingRoutedByNodeID: an XEP-0025 session made through HAProxy
// gets an identifier naming its node ("n2:" + 32 hex digits), its later
// requests reach that node (a wrong node would answer 0:0), and an
// identifier of a node's unknown session is answered 0:0.
func TestPollingRoutedByNodeID(t *testing.T) {
	// Empty polls are answered at once, to keep the test short.
	f := startFleet(t, "[poll]\nhold_cap = \"0s\"\n", 0)
	keys := httppoll.KeyChain("fleet-seed", 10)
	open := "<stream:stream to='" + f.Domain + "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	idOf := func(hdr map[string][]string) string {
		for _, c := range hdr["Set-Cookie"] {
			if v, ok := strings.CutPrefix(c, "ID="); ok {
				id, _, _ := strings.Cut(v, ";")
				return id
			}
		}
		return ""
	}
	seen := map[string]bool{}
	for i := range 3 {
		status, hdr, body := post(t, f.Poll, "application/x-www-form-urlencoded", "0;"+keys[0]+","+open)
		id := idOf(hdr)
		if status != 200 || !regexp.MustCompile(`^n[123]:[0-9a-f]{32}$`).MatchString(id) {
			t.Fatalf("poll session %d: %d, ID %q, %q", i, status, id, body)
		}
		seen[id[:2]] = true
		// Every later request must reach the same node to be answered.
		for k := 1; k < 4; k++ {
			status, hdr, body := post(t, f.Poll, "application/x-www-form-urlencoded", id+";"+keys[k]+",")
			if got := idOf(hdr); status != 200 || got != id {
				t.Fatalf("poll %d of %s: %d, ID %q, %q", k, id, status, got, body)
			}
		}
	}
	t.Logf("XEP-0025 sessions landed on %v", seen)
	_, hdr, _ := post(t, f.Poll, "application/x-www-form-urlencoded", "n2:0123456789abcdef0123456789abcdef;"+keys[1]+",")
	if got := idOf(hdr); got != httppoll.IDUnknown {
		t.Fatalf("unknown session of n2: ID %q, want %s", got, httppoll.IDUnknown)
	}
}
