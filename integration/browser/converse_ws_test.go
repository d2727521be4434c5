package browser

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"boshd/integration/servers"
)

// wsURLOf is the WebSocket endpoint of the boshd whose BOSH URL is boshURL.
func wsURLOf(boshURL string) string {
	u := strings.Replace(boshURL, "http", "ws", 1) // http→ws, https→wss
	return strings.TrimSuffix(u, "/http-bind") + "/xmpp-websocket"
}

// converseChat makes alice and bob contacts, then logs alice in with
// Converse.js on the page query (which chooses the endpoints) and has her
// chat with bob, a Strophe.js user on boshd's BOSH endpoint, both ways.
// before runs on alice's Converse tab before she logs in. It returns the
// chat, still connected.
func converseChat(t *testing.T, e *env, scenario, query string, deadline time.Time, before func(*tab)) chat {
	t.Helper()
	us := e.users(t, scenario, "alice", "bob")
	alice, bob := us[0], us[1]
	sa, b := e.strophe(t, "alice-strophe", deadline), e.strophe(t, "bob", deadline)
	sa.connect(e, alice, nil)
	b.connect(e, bob, nil)
	subscribeBoth(t, sa, b, alice, bob)
	evalJS[[]stropheStatus](sa, "H.disconnect()")

	shotPath := filepath.Join(artifactsDir(t), strings.ReplaceAll(t.Name(), "/", "-")+".png")
	a := e.openTab(t, "alice-converse", "/converse.html?"+query, "document.querySelector('#converse-login-jid') !== null", deadline)
	t.Cleanup(func() {
		if t.Failed() {
			a.screenshot(shotPath)
		}
	})
	if before != nil {
		before(a)
	}
	a.typeInto("#converse-login-jid", alice.jid)
	a.typeInto("#converse-login-password", alice.pass)
	a.click("#converse-login [type=submit]", 10*time.Second)

	contact := fmt.Sprintf(`converse-roster a.open-chat[data-jid=%s]`, js(bob.jid))
	a.click(contact, 30*time.Second)
	textarea := "converse-chat form.chat-message-form textarea"
	a.waitFor(fmt.Sprintf("document.querySelector(%s) !== null", js(textarea)), 10*time.Second, "the chat's message box")
	a.typeInto(textarea, "Hello Bob, "+scenario+kb.Enter)
	wantBodies(t, "bob", b.waitBodies(alice.jid, 1, 15*time.Second), []string{"Hello Bob, " + scenario})
	b.send(evalJS[string](b, "H.messages[0].from"), "Hi Alice, Strophe here")
	a.waitFor(`Array.from(document.querySelectorAll('converse-chat .chat-msg__text')).some(el => el.textContent.includes('Hi Alice, Strophe here'))`,
		15*time.Second, "bob's reply in the Converse chat")
	a.screenshot(shotPath)
	return chat{a: a, b: b, alice: alice, bob: bob}
}

// chat is alice on Converse.js and bob on Strophe.js, talking.
type chat struct {
	a, b       *tab
	alice, bob user
}

// wantTransport checks which transport and URL Converse's connection uses.
func wantTransport(t *testing.T, a *tab, transport, service string) {
	t.Helper()
	if got := evalJS[string](a, "window.boshdTest.transport()"); got != transport {
		t.Fatalf("Converse uses %s, want %s", got, transport)
	}
	if got := evalJS[string](a, "window.boshdTest.service()"); got != service {
		t.Fatalf("Converse's service is %q, want %q", got, service)
	}
}

// wantLogged checks that boshd logged line (its sessions are the proof that
// the transport really went through it).
func wantLogged(t *testing.T, logPath, line string) {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), line) {
		t.Fatalf("boshd's log (%s) has no %q", logPath, line)
	}
}

// testConverseWebSocket: Converse.js given websocket_url (and no BOSH URL)
// logs in over boshd's RFC 7395 endpoint and chats with a BOSH user of the
// same boshd.
func testConverseWebSocket(t *testing.T, e *env, deadline time.Time) {
	ws := wsURLOf(e.boshURL)
	a := converseChat(t, e, "convws", "ws="+url.QueryEscape(ws), deadline, nil).a
	wantTransport(t, a, "websocket", ws)
	wantLogged(t, e.boshdLog, "websocket session started")
}

// testConverseHostMeta: Converse.js given only the user's JID finds both
// endpoints through XEP-0156 (https://<domain>/.well-known/host-meta),
// keeps the wss: one and logs in over it. boshd serves HTTPS here (Converse
// takes only https:/wss: links); the browser's request for the domain's
// host-meta is sent to that boshd instead of DNS (DevTools Fetch rewrites
// the URL, invisibly to the page), so that the document, its CORS headers
// and the endpoints in it are boshd's own.
func testConverseHostMeta(t *testing.T, e *env, deadline time.Time) {
	certs, err := servers.WriteCerts(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	boshURL, logPath := startBoshd(t, e.srv, e.pageURL, &certs)
	base := strings.TrimSuffix(boshURL, "/http-bind")
	var mu sync.Mutex
	var rewritten []string
	redirect := func(a *tab) {
		// The test CA is not in Chromium's trust store.
		sctx, scancel := a.runCtx()
		defer scancel()
		if _, err := chromedp.Call(sctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
			t.Fatalf("Security.setIgnoreCertificateErrors: %v", err)
		}
		ctx, cancel := context.WithCancel(a.ctx)
		t.Cleanup(cancel)
		events := chromedp.Events(ctx, fetch.RequestPaused)
		pattern := "https://" + e.srv.domain + "/.well-known/*"
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
			t.Fatalf("Fetch.enable: %v", err)
		}
		done := make(chan struct{})
		t.Cleanup(func() { cancel(); <-done })
		go func() {
			defer close(done)
			for ev, err := range events {
				if err != nil {
					return
				}
				u, _ := url.Parse(ev.Request.URL)
				to := base + u.Path
				mu.Lock()
				rewritten = append(rewritten, ev.Request.URL+" -> "+to)
				mu.Unlock()
				chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID, URL: to})
			}
		}()
	}
	a := converseChat(t, e, "convhostmeta", "discover=1", deadline, redirect).a
	wantTransport(t, a, "websocket", wsURLOf(boshURL))
	wantLogged(t, logPath, "websocket session started")
	mu.Lock()
	defer mu.Unlock()
	if len(rewritten) == 0 {
		t.Fatal("Converse never asked for host-meta")
	}
	t.Logf("host-meta: %s", strings.Join(rewritten, "; "))
}
