package browser

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// artifactsDir is where screenshots go (git-ignored; CI may keep it).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot, "integration", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// click clicks the first element matching the CSS selector sel, waiting up
// to timeout for it to become visible.
func (tb *tab) click(sel string, timeout time.Duration) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("(el => el && el.offsetParent !== null)(document.querySelector(%s))", js(sel)), timeout, "visible "+sel)
	if err := tb.run(chromedp.Click(chromedp.CSS(sel))); err != nil {
		tb.t.Fatalf("%s: click %s: %v", tb.name, sel, err)
	}
}

// typeInto types text (which may end in kb.Enter) into the element sel.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	if err := tb.run(chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		tb.t.Fatalf("%s: type into %s: %v", tb.name, sel, err)
	}
}

func (tb *tab) run(a chromedp.Action[chromedp.Void]) error {
	ctx, cancel := tb.runCtx()
	defer cancel()
	return chromedp.Do(ctx, a)
}

// screenshot saves a PNG of the tab's viewport and logs its path.
func (tb *tab) screenshot(path string) {
	tb.t.Helper()
	ctx, cancel := tb.runCtx()
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Errorf("%s: screenshot: %v", tb.name, err)
		return
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tb.t.Errorf("%s: %v", tb.name, err)
		return
	}
	tb.t.Logf("screenshot: %s", path)
}

// testConverseUI: the full Converse.js UI logs in through the BOSH endpoint
// under test, opens a chat with a contact from the roster, sends a message
// the contact (a Strophe.js client) receives, and shows the contact's reply;
// after a page reload it restores the same BOSH session and chats on.
func testConverseUI(t *testing.T, e *env, deadline time.Time) {
	us := e.users(t, "converse", "alice", "bob")
	alice, bob := us[0], us[1]

	// Make them contacts first, so that bob is in alice's roster.
	sa, b := e.strophe(t, "alice-strophe", deadline), e.strophe(t, "bob", deadline)
	sa.connect(e, alice, nil)
	b.connect(e, bob, nil)
	subscribeBoth(t, sa, b, alice, bob)
	evalJS[[]stropheStatus](sa, "H.disconnect()")

	shotPath := filepath.Join(artifactsDir(t), strings.ReplaceAll(t.Name(), "/", "-")+".png")
	a := e.openTab(t, "alice-converse", "/converse.html?bosh="+e.boshURL, "document.querySelector('#converse-login-jid') !== null", deadline)
	t.Cleanup(func() {
		if t.Failed() {
			a.screenshot(shotPath)
		}
	})
	a.typeInto("#converse-login-jid", alice.jid)
	a.typeInto("#converse-login-password", alice.pass)
	a.click("#converse-login [type=submit]", 10*time.Second)

	contact := fmt.Sprintf(`converse-roster a.open-chat[data-jid=%s]`, js(bob.jid))
	a.click(contact, 20*time.Second)
	textarea := "converse-chat form.chat-message-form textarea"
	a.waitFor(fmt.Sprintf("document.querySelector(%s) !== null", js(textarea)), 10*time.Second, "the chat's message box")
	a.typeInto(textarea, "Hello Bob, from Converse"+kb.Enter)

	wantBodies(t, "bob", b.waitBodies(alice.jid, 1, 15*time.Second), []string{"Hello Bob, from Converse"})
	from := evalJS[string](b, "H.messages[0].from")
	b.send(from, "Hi Alice, Strophe here")
	a.waitFor(`Array.from(document.querySelectorAll('converse-chat .chat-msg__text')).some(el => el.textContent.includes('Hi Alice, Strophe here'))`,
		15*time.Second, "bob's reply in the Converse chat")
	a.waitFor(`Array.from(document.querySelectorAll('converse-chat .chat-msg__text')).some(el => el.textContent.includes('Hello Bob, from Converse'))`,
		5*time.Second, "alice's own message in the Converse chat")

	// Converse really used the BOSH endpoint under test, cross-origin.
	used := evalJS[bool](a, fmt.Sprintf("performance.getEntriesByType('resource').some(r => r.name.startsWith(%s) && r.initiatorType === 'xmlhttprequest')", js(e.boshURL)))
	if !used {
		t.Fatalf("Converse made no XHR to %s", e.boshURL)
	}
	a.screenshot(shotPath)

	// A page reload: Converse restores its BOSH session (keepalive, from
	// sessionStorage) instead of showing the login form again; the same
	// sid, and the chat carries on both ways.
	sid := evalJS[string](a, "window.boshdTest.sid()")
	if sid == "" {
		t.Fatal("Converse's connection has no BOSH sid")
	}
	a.reload("window.boshdTest !== undefined && window.boshdTest.connected()")
	if got := evalJS[string](a, "window.boshdTest.sid()"); got != sid {
		t.Fatalf("after a reload Converse's sid is %q; want the restored session %q", got, sid)
	}
	if evalJS[bool](a, "document.querySelector('#converse-login-jid') !== null") {
		t.Fatal("after a reload Converse shows the login form; want the session restored")
	}
	b.send(from, "Still there after your reload?")
	a.click(contact, 20*time.Second)
	a.waitFor(`Array.from(document.querySelectorAll('converse-chat .chat-msg__text')).some(el => el.textContent.includes('Still there after your reload?'))`,
		15*time.Second, "bob's message after the reload")
	a.waitFor(fmt.Sprintf("document.querySelector(%s) !== null", js(textarea)), 10*time.Second, "the chat's message box after the reload")
	a.typeInto(textarea, "Yes, same session"+kb.Enter)
	wantBodies(t, "bob", b.waitBodies(alice.jid, 2, 15*time.Second), []string{"Hello Bob, from Converse", "Yes, same session"})
	if got := evalJS[string](a, "window.boshdTest.sid()"); got != sid {
		t.Fatalf("Converse's sid changed from %q to %q after the reload", sid, got)
	}
}
