package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"boshd/integration/servers"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium (package chromium); the tests never use
// a downloaded browser.
const chromiumPath = "/usr/bin/chromium"

// chromiumFlags are the flags the issue prescribes: headless, and no
// network traffic of Chromium's own (without the background-networking
// flags it floods the closed network with requests that never succeed).
var chromiumFlags = []string{
	"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync",
}

// boshWait is the longest 'wait' boshd grants in these tests (bosh.max_wait).
// It is short so that the idle test outlasts it in seconds, not minutes.
const boshWait = 10

var (
	// webDir holds the test pages and their node_modules.
	webDir string
	// repoRoot is the module root (two levels up from this package).
	repoRoot string
)

// boshMode says which BOSH endpoint the browsers talk to: "boshd" (the
// default, and what CI runs) or "own" (Prosody's/ejabberd's mod_bosh, only
// for debugging the pages and the tests themselves).
func boshMode() string {
	if m := os.Getenv("BROWSER_BOSH"); m != "" {
		return m
	}
	return "boshd"
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	here := filepath.Dir(file)
	webDir = filepath.Join(here, "web")
	repoRoot = filepath.Clean(filepath.Join(here, "..", ".."))

	// The pages load Strophe.js and Converse.js from node_modules, which is
	// not committed: install it from package-lock.json when missing.
	deps := exec.Command("bash", filepath.Join(repoRoot, "scripts", "npm-deps.sh"), webDir)
	deps.Stdout, deps.Stderr = os.Stderr, os.Stderr
	if err := deps.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "browser: installing the pages' npm packages: %v\n", err)
		return 1
	}

	defer servers.RemoveBoshdBinary() // built by the first test that starts boshd
	return m.Run()
}

// xmppServer is what the tests need of a real XMPP server.
type xmppServer struct {
	domain   string
	c2sAddr  string // host:port of its client-to-server listener
	ownBOSH  string // URL of its own BOSH endpoint, when it has one
	register func(ctx context.Context, user, pass string) error
}

// env is one XMPP server, the BOSH endpoint under test in front of it, the
// web server of the pages (another origin, so that every BOSH request is
// a cross-origin one) and one browser.
type env struct {
	srv      *xmppServer
	app      *webApp // the test's web application, serving /app/ beside the pages
	boshURL  string
	boshdLog string // boshd's log file; "" with BROWSER_BOSH=own
	pageURL  string // origin of the pages, e.g. http://127.0.0.1:1234
	browser  context.Context
}

func newEnv(t *testing.T, srv *xmppServer) *env {
	t.Helper()
	e := &env{srv: srv, app: &webApp{passwords: map[string]string{}}}
	e.pageURL = servePages(t, e.app)
	switch boshMode() {
	case "own":
		if srv.ownBOSH == "" {
			t.Fatal("BROWSER_BOSH=own but this server has no BOSH endpoint of its own")
		}
		e.boshURL = srv.ownBOSH
	case "boshd":
		e.boshURL, e.boshdLog = startBoshd(t, srv, e.pageURL, nil)
		e.app.prebindURL = strings.TrimSuffix(e.boshURL, "/http-bind") + "/prebind"
	default:
		t.Fatalf("BROWSER_BOSH=%q: want boshd or own", boshMode())
	}
	t.Logf("BOSH endpoint under test: %s (pages served from %s)", e.boshURL, e.pageURL)
	e.browser = startBrowser(t)
	return e
}

// user is an account created for one scenario.
type user struct {
	name, pass, jid string
}

// users registers fresh accounts named after the scenario, so that no
// scenario sees another one's roster or messages.
func (e *env) users(t *testing.T, scenario string, names ...string) []user {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var us []user
	for _, n := range names {
		u := user{name: strings.ToLower(scenario + "-" + n), pass: "pw-" + n}
		u.jid = u.name + "@" + e.srv.domain
		if err := e.srv.register(ctx, u.name, u.pass); err != nil {
			t.Fatalf("register %s: %v", u.jid, err)
		}
		us = append(us, u)
	}
	return us
}

// servePages serves web/ on a free loopback port, and app (when not nil)
// under /app/, and returns its origin.
func servePages(t *testing.T, app http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(webDir)))
	if app != nil {
		mux.Handle("/app/", app)
	}
	srv := &http.Server{Handler: noCache(mux), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "http://" + l.Addr().String()
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// startBoshd starts boshd (servers.StartBoshd) in front of srv and
// returns its BOSH URL once it answers, and the path of its log. With
// certs, boshd serves HTTPS (and wss:).
func startBoshd(t *testing.T, srv *xmppServer, pageOrigin string, certs *servers.CertFiles) (string, string) {
	t.Helper()
	tlsConf, scheme := "", "http"
	if certs != nil {
		tlsConf, scheme = fmt.Sprintf("tls_cert = %q\ntls_key = %q\n", certs.Cert, certs.Key), "https"
	}
	b := servers.StartBoshd(t, servers.BoshdOptions{Config: func(listen string) string {
		return fmt.Sprintf(`[http]
listen = %q
path = "/http-bind"
cors_origins = [%q]
`+tlsConf+`

[bosh]
max_wait = "%ds"
inactivity = "60s"

[prebind]
secret = %q

[upstream]
tls = "optional"
insecure_skip_verify = true
dial_timeout = "10s"

[[domain]]
name = %q
routes = [%q]

[log]
level = "debug"
`, listen, pageOrigin, boshWait, prebindSecret, srv.domain, srv.c2sAddr)
	}})
	return scheme + "://" + b.Addr + "/http-bind", b.LogFile
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startBrowser starts Debian's Chromium headless with a fresh profile and
// the flags that keep it off the network except for the pages' requests.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Debian's chromium is needed (apt-get install chromium): %v", err)
	}
	profile, err := os.MkdirTemp("", "boshd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Exactly the flags, not chromedp's longer default list; with
	// the profile, the window size (for screenshots) and the DevTools port
	// that chromedp adds to drive the browser.
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromiumPath)}
	for _, f := range chromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	opts = append(opts, chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to exit
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first action starts the browser; its lifetime is browserCtx's.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if p := chromedp.FromContext(browserCtx).Browser.Process(); p != nil {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid)); err == nil {
			t.Logf("chromium: %s", strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " "))
		}
	}
	return browserCtx
}

// tab is one browser tab, i.e. one user's client.
type tab struct {
	t        *testing.T
	name     string
	ctx      context.Context
	deadline time.Time
	boshdLog string // for the failure report: boshd's lines about this tab's session

	consoleMu sync.Mutex
	console   []string // the page's console messages and exceptions, bounded

	offsiteMu sync.Mutex
	offsite   []string // URLs the tab requested beyond loopback, bounded
}

// recordOffsite records every URL the tab requests (documents, scripts,
// images, XHR, WebSocket; from Chromium's network events, so also requests
// that fail) whose host is not a loopback address, for tests that require
// a page to work without the internet.
func (tb *tab) recordOffsite() error {
	return chromedp.Listen(tb.ctx, func(ev any) {
		var u string
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			u = ev.Request.URL
		case *network.EventWebSocketCreated:
			u = ev.URL
		default:
			return
		}
		if loopbackURL(u) {
			return
		}
		tb.offsiteMu.Lock()
		if len(tb.offsite) < 100 {
			tb.offsite = append(tb.offsite, u)
		}
		tb.offsiteMu.Unlock()
	})
}

// offsiteRequests are the URLs beyond loopback the tab requested so far.
func (tb *tab) offsiteRequests() []string {
	tb.offsiteMu.Lock()
	defer tb.offsiteMu.Unlock()
	return slices.Clone(tb.offsite)
}

// loopbackURL says whether fetching rawURL stays on this machine: a URL
// with a loopback host (127.0.0.0/8, ::1, localhost), or one that names no
// host to reach (data:, blob:, about:).
func loopbackURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// collectConsole records the tab's console messages and uncaught
// exceptions until t ends; a failed test gets them in its log.
func (tb *tab) collectConsole(t *testing.T) {
	ctx, cancel := context.WithCancel(tb.ctx)
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleDebug {
				continue
			}
			line := m.String()
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			tb.consoleMu.Lock()
			tb.console = append(tb.console, line)
			if len(tb.console) > 200 {
				tb.console = tb.console[len(tb.console)-200:]
			}
			tb.consoleMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// openTab opens path (relative to the page origin) in a new tab of the
// browser and waits until expr is true there. The tab closes when t ends;
// if t failed, its Strophe traffic log is written to the test log.
func (e *env) openTab(t *testing.T, name, path, readyExpr string, deadline time.Time) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser)
	tb := &tab{t: t, name: name, ctx: ctx, deadline: deadline, boshdLog: e.boshdLog}
	t.Cleanup(func() {
		if t.Failed() {
			tb.dump()
		}
		cancel()
	})
	// The first run attaches the tab, and the tab lives as long as the
	// context of that run: so no deadline on it (chromedp's Run says so).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	tb.collectConsole(t)
	if err := tb.recordOffsite(); err != nil {
		t.Fatalf("%s: listen to network events: %v", name, err)
	}
	tb.navigate(e.pageURL+path, readyExpr)
	return tb
}

func (tb *tab) navigate(url, readyExpr string) {
	tb.t.Helper()
	ctx, cancel := context.WithDeadline(tb.ctx, tb.deadline)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.t.Fatalf("%s: navigate %s: %v", tb.name, url, err)
	}
	tb.waitFor(readyExpr, 20*time.Second, "page ready")
}

// reload reloads the page and waits until readyExpr is true again.
func (tb *tab) reload(readyExpr string) {
	tb.t.Helper()
	ctx, cancel := context.WithDeadline(tb.ctx, tb.deadline)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		tb.t.Fatalf("%s: reload: %v", tb.name, err)
	}
	tb.waitFor(readyExpr, 20*time.Second, "page ready after reload")
}

// evalJS evaluates expr in the tab (awaiting a promise result) and decodes
// the result into T; it fails the test on any error.
func evalJS[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := tryEvalJS[T](tb, expr)
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, shorten(expr), err)
	}
	return v
}

func tryEvalJS[T any](tb *tab, expr string) (T, error) {
	ctx, cancel := context.WithDeadline(tb.ctx, tb.deadline)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// runCtx is a context for one action in the tab, bounded by the
// scenario's deadline.
func (tb *tab) runCtx() (context.Context, context.CancelFunc) {
	return context.WithDeadline(tb.ctx, tb.deadline)
}

// do evaluates expr for its side effect.
func (tb *tab) do(expr string) {
	tb.t.Helper()
	evalJS[chromedp.Void](tb, "void ("+expr+")")
}

// waitFor polls the JavaScript expression cond until it is true, failing
// the test after timeout with what (and the tab's state) in the message.
func (tb *tab) waitFor(cond string, timeout time.Duration, what string) {
	tb.t.Helper()
	if err := tb.tryWaitFor(cond, timeout); err != nil {
		tb.t.Fatalf("%s: waiting %v for %s (%s): %v", tb.name, timeout, what, cond, err)
	}
}

func (tb *tab) tryWaitFor(cond string, timeout time.Duration) error {
	ctx, cancel := context.WithDeadline(tb.ctx, tb.deadline)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	return err
}

// dump writes the tab's recorded Strophe state to the test log: what the
// browser saw is the most useful thing when a scenario fails.
func (tb *tab) dump() {
	tb.consoleMu.Lock()
	if len(tb.console) > 0 {
		tb.t.Logf("%s: console:\n  %s", tb.name, strings.Join(tb.console, "\n  "))
	}
	tb.consoleMu.Unlock()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.H ? JSON.stringify({
		statuses: H.statuses, messages: H.messages, presences: H.presences,
		info: H.conn ? H.info() : null, traffic: H.traffic.slice(-60)}, null, 1) : document.body.innerText.slice(0, 3000)`))
	if err != nil {
		tb.t.Logf("%s: could not read the page state: %v", tb.name, err)
		return
	}
	tb.t.Logf("%s: page state at failure:\n%s", tb.name, s)

	// What boshd logged about this tab's session: the other half of the
	// story (the suite's boshd logs at debug level).
	sid, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.H && H.conn && H.conn._proto && H.conn._proto.sid || ''`))
	if err != nil || sid == "" || tb.boshdLog == "" {
		return
	}
	b, err := os.ReadFile(tb.boshdLog)
	if err != nil {
		tb.t.Logf("%s: boshd log: %v", tb.name, err)
		return
	}
	// boshd logs the sid's first 8 characters.
	short := "sid=" + sid[:min(8, len(sid))]
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, short) {
			lines = append(lines, l)
		}
	}
	tb.t.Logf("%s: boshd's log lines for sid %s, last 150:\n%s", tb.name, sid, tailLines(strings.Join(lines, "\n"), 150))
}

// js renders v as a JavaScript literal (JSON is a subset).
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
