package browser

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"boshd/integration/servers"
)

// TestConverseReconnectsThroughHAProxy: Converse.js, with auto_reconnect
// on, logs in through HAProxy running the shipped deploy/haproxy.cfg in
// front of three boshd nodes. The node holding its session is killed
// (SIGKILL): its next request is answered item-not-found by a live node,
// and Converse logs in again by itself, through HAProxy, onto a live node
// (a sid naming another node), without showing the login form; a message
// sent to the user afterwards shows in its chat.
func TestConverseReconnectsThroughHAProxy(t *testing.T) {
	if boshMode() != "boshd" {
		t.Skip("BROWSER_BOSH=own: the fleet test is about boshd nodes")
	}
	deadline := time.Now().Add(120 * time.Second)
	srv := servers.Prosody(t, servers.Options{})
	pageURL := servePages(t, nil) // no web application: no pre-binding here
	f := servers.StartFleet(t, servers.FleetOptions{
		HAProxyConfig: filepath.Join(repoRoot, "deploy", "haproxy.cfg"),
		Config: func(name, listen string) string {
			return fmt.Sprintf("[http]\nlisten = %q\ncors_origins = [%q]\n[bosh]\nmax_wait = \"%ds\"\n[cluster]\nnode_id = %q\n[[domain]]\nname = %q\nroutes = [%q]\n[log]\nlevel = \"debug\"\n",
				listen, pageURL, boshWait, name, srv.Domain, srv.Addr)
		},
	})
	e := &env{
		srv:     &xmppServer{domain: srv.Domain, c2sAddr: srv.Addr, register: srv.Register},
		boshURL: "http://" + f.LB.Addr + "/http-bind",
		pageURL: pageURL,
		browser: startBrowser(t),
	}
	us := e.users(t, "fleet", "alice", "bob")
	alice, bob := us[0], us[1]
	sa, b := e.strophe(t, "alice-strophe", deadline), e.strophe(t, "bob", deadline)
	sa.connect(e, alice, nil)
	b.connect(e, bob, nil)
	subscribeBoth(t, sa, b, alice, bob)
	evalJS[[]stropheStatus](sa, "H.disconnect()")

	a := e.openTab(t, "alice-converse", "/converse.html?reconnect=1&bosh="+e.boshURL, "document.querySelector('#converse-login-jid') !== null", deadline)
	a.typeInto("#converse-login-jid", alice.jid)
	a.typeInto("#converse-login-password", alice.pass)
	a.click("#converse-login [type=submit]", 10*time.Second)
	a.waitFor("window.boshdTest.connected() && window.boshdTest.sid() !== ''", 20*time.Second, "Converse logged in")
	sid := evalJS[string](a, "window.boshdTest.sid()")
	name, _, _ := strings.Cut(sid, ".")
	victim := f.Node(name)
	if victim == nil {
		t.Fatalf("Converse's sid %q names no node", sid)
	}
	contact := fmt.Sprintf(`converse-roster a.open-chat[data-jid=%s]`, js(bob.jid))
	a.click(contact, 20*time.Second)

	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	a.waitFor(fmt.Sprintf("window.boshdTest.connected() && /^n[0-9]+\\./.test(window.boshdTest.sid()) && !window.boshdTest.sid().startsWith(%s)", js(name+".")),
		30*time.Second, "Converse logged in again on a live node")
	t.Logf("Converse: %s killed, new sid %s %v later", name, evalJS[string](a, "window.boshdTest.sid()"), time.Since(killed).Round(time.Millisecond))
	if evalJS[bool](a, "document.querySelector('#converse-login-jid') !== null") {
		t.Fatal("Converse shows the login form after the kill; want a reconnect by itself")
	}

	b.send(alice.jid, "Still there after your node died?")
	a.click(contact, 20*time.Second)
	a.waitFor(`Array.from(document.querySelectorAll('converse-chat .chat-msg__text')).some(el => el.textContent.includes('Still there after your node died?'))`,
		20*time.Second, "bob's message after the reconnect")
	textarea := "converse-chat form.chat-message-form textarea"
	a.waitFor(fmt.Sprintf("document.querySelector(%s) !== null", js(textarea)), 10*time.Second, "the chat's message box")
	a.typeInto(textarea, "Yes, on another node"+kb.Enter)
	wantBodies(t, "bob", b.waitBodies(alice.jid, 1, 15*time.Second), []string{"Yes, on another node"})
}
