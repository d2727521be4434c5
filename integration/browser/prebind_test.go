package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
)

// prebindSecret is boshd's [prebind] secret in these tests; only the web
// application's server knows it, never the page.
const prebindSecret = "browser-test-prebind-secret"

// webApp stands in for a web application with its own login: it keeps its
// users' XMPP passwords on the server and, at /app/prebind?jid=JID (the
// page's prebind_url, on the page's own origin), asks boshd to pre-bind
// that user with the shared secret and returns boshd's JSON {jid, sid,
// rid} to the page, as Converse.js expects. A real application would know
// the user from its own session cookie instead of a query parameter.
type webApp struct {
	prebindURL string // boshd's pre-binding endpoint, set before any page loads

	mu        sync.Mutex
	passwords map[string]string // by bare JID
	results   []string          // boshd's answers, in order
}

func (a *webApp) addUser(u user) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.passwords[u.jid] = u.pass
}

func (a *webApp) answers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.results...)
}

func (a *webApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/app/prebind" {
		http.NotFound(w, r)
		return
	}
	jid := r.URL.Query().Get("jid")
	a.mu.Lock()
	pass, ok := a.passwords[jid]
	a.mu.Unlock()
	if !ok {
		http.Error(w, "not logged in to the web application", http.StatusForbidden)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	body := url.Values{"jid": {jid + "/converse"}, "password": {pass}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.prebindURL, strings.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+prebindSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a.mu.Lock()
	a.results = append(a.results, string(raw))
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	w.Write(raw)
}

// testConversePrebind: Converse.js with authentication: 'prebind' fetches
// its session from the web application's prebind_url (which asked boshd's
// /prebind with the secret), attaches to it without showing a login form,
// and chats both ways with a contact (a Strophe.js client).
func testConversePrebind(t *testing.T, e *env, deadline time.Time) {
	if e.app.prebindURL == "" {
		t.Skip("pre-binding is boshd's; BROWSER_BOSH=own has none")
	}
	us := e.users(t, "prebind", "alice", "bob")
	alice, bob := us[0], us[1]
	e.app.addUser(alice)

	sa, b := e.strophe(t, "alice-strophe", deadline), e.strophe(t, "bob", deadline)
	sa.connect(e, alice, nil)
	b.connect(e, bob, nil)
	subscribeBoth(t, sa, b, alice, bob)
	evalJS[[]stropheStatus](sa, "H.disconnect()")

	prebindURL := "/app/prebind?jid=" + url.QueryEscape(alice.jid)
	page := fmt.Sprintf("/converse.html?bosh=%s&prebind=%s&jid=%s", url.QueryEscape(e.boshURL), url.QueryEscape(prebindURL), url.QueryEscape(alice.jid))
	shotPath := filepath.Join(artifactsDir(t), strings.ReplaceAll(t.Name(), "/", "-")+".png")
	a := e.openTab(t, "alice-converse-prebind", page, "window.boshdTest !== undefined && window.boshdTest.connected()", deadline)
	t.Cleanup(func() {
		if t.Failed() {
			a.screenshot(shotPath)
		}
	})

	answers := e.app.answers()
	if len(answers) != 1 {
		t.Fatalf("the web application pre-bound %d times (%q); want once", len(answers), answers)
	}
	var res struct {
		JID, SID string
		RID      uint64
	}
	if err := json.Unmarshal([]byte(answers[0]), &res); err != nil || res.SID == "" {
		t.Fatalf("boshd's pre-binding answer %q: %v", answers[0], err)
	}
	if got := evalJS[string](a, "window.boshdTest.sid()"); got != res.SID {
		t.Fatalf("Converse's BOSH sid is %q; want the pre-bound session %q", got, res.SID)
	}
	if got := evalJS[string](a, "window.boshdTest.jid()"); got != alice.jid+"/converse" {
		t.Fatalf("Converse's JID is %q; want the pre-bound %s/converse", got, alice.jid)
	}
	if evalJS[bool](a, "document.querySelector('#converse-login-password') !== null") {
		t.Fatal("Converse shows a password field; want the pre-bound session used")
	}

	// Converse's initial presence goes out over the pre-bound session; until
	// the server has it, a message to alice's bare JID would be stored
	// offline (RFC 6121 §8.5.2.2), so bob waits for it.
	b.waitFor(fmt.Sprintf("H.presences.some(p => p.from === %s && p.type === 'available')", js(alice.jid+"/converse")),
		15*time.Second, "the pre-bound Converse's available presence")
	contact := fmt.Sprintf(`converse-roster a.open-chat[data-jid=%s]`, js(bob.jid))
	a.click(contact, 20*time.Second)
	b.send(alice.jid, "Hello pre-bound Alice")
	a.waitFor(`Array.from(document.querySelectorAll('converse-chat .chat-msg__text')).some(el => el.textContent.includes('Hello pre-bound Alice'))`,
		15*time.Second, "bob's message in the Converse chat")
	textarea := "converse-chat form.chat-message-form textarea"
	a.waitFor(fmt.Sprintf("document.querySelector(%s) !== null", js(textarea)), 10*time.Second, "the chat's message box")
	a.typeInto(textarea, "Hi Bob, no password asked"+kb.Enter)
	wantBodies(t, "bob", b.waitBodies(alice.jid, 1, 15*time.Second), []string{"Hi Bob, no password asked"})
	a.screenshot(shotPath)
}
