package browser

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// demoRun is one run of demo/run.sh (what `make demo` runs), in its own
// process group as a shell would start it, with its output parsed.
type demoRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	exited chan struct{} // closed when the script has exited
	err    error         // its exit status, once exited is closed

	mu    sync.Mutex
	lines []string
	ready chan struct{} // closed when it printed its "Ctrl-C stops" line
	eof   chan struct{} // closed when its output ended

	url, stateDir        string
	boshdPID, prosodyPID int
	passwords            map[string]string // user (bare JID) -> password
	domain               string
}

var (
	demoOpenRE    = regexp.MustCompile(`Open\s+(http://\S+/)`)
	demoAccountRE = regexp.MustCompile(`(\w+)@(\S+)\s+password (\S+)`)
	demoBoshdRE   = regexp.MustCompile(`\(boshd, pid (\d+)\)`)
	demoProsodyRE = regexp.MustCompile(`Prosody c2s on \S+, domain \S+ \(pid (\d+)\)`)
	demoStateRE   = regexp.MustCompile(`Ctrl-C stops boshd and Prosody and removes (\S+)\.$`)
)

// startDemo starts demo/run.sh with its state under runtimeDir and waits
// until it says it is ready. The test's cleanup kills its process group if
// it is still running.
func startDemo(t *testing.T, runtimeDir string, timeout time.Duration) *demoRun {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &demoRun{t: t, exited: make(chan struct{}), ready: make(chan struct{}), eof: make(chan struct{}), passwords: map[string]string{}}
	d.cmd = exec.Command("bash", filepath.Join(repoRoot, "demo", "run.sh"))
	d.cmd.Dir = repoRoot
	d.cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir)
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // as a shell runs a job
	if err := d.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Fatalf("start demo/run.sh: %v", err)
	}
	pw.Close()
	go func() {
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	go func() {
		defer close(d.eof)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.line(sc.Text())
		}
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.signalGroup(ctrlC())
			select {
			case <-d.exited:
			case <-time.After(15 * time.Second):
				t.Errorf("demo/run.sh did not stop within 15s of Ctrl-C; killing its process group")
				d.signalGroup(syscall.SIGKILL)
				<-d.exited
			}
		}
		<-d.eof
		// Whatever went wrong, nothing the run started outlives the test.
		for _, pid := range []int{d.boshdPID, d.prosodyPID} {
			if d.running(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("demo/run.sh output:\n%s", d.output())
		}
	})
	select {
	case <-d.ready:
	case <-d.exited:
		<-d.eof
		t.Fatalf("demo/run.sh exited (%v) before it was ready:\n%s", d.err, d.output())
	case <-time.After(timeout):
		t.Fatalf("demo/run.sh not ready within %v:\n%s", timeout, d.output())
	}
	if d.url == "" || d.stateDir == "" || d.boshdPID == 0 || d.prosodyPID == 0 || len(d.passwords) != 2 {
		t.Fatalf("demo/run.sh printed no URL, state dir, pids or two accounts:\n%s", d.output())
	}
	return d
}

// line records one line of the script's output and parses what it announces.
func (d *demoRun) line(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, s)
	if m := demoOpenRE.FindStringSubmatch(s); m != nil {
		d.url = m[1]
	}
	if m := demoAccountRE.FindStringSubmatch(s); m != nil {
		d.passwords[m[1]] = m[3]
		d.domain = m[2]
	}
	if m := demoBoshdRE.FindStringSubmatch(s); m != nil {
		d.boshdPID, _ = strconv.Atoi(m[1])
	}
	if m := demoProsodyRE.FindStringSubmatch(s); m != nil {
		d.prosodyPID, _ = strconv.Atoi(m[1])
	}
	if m := demoStateRE.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		d.stateDir = m[1]
		close(d.ready)
	}
}

func (d *demoRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// signalGroup signals the script's process group, as a terminal does.
func (d *demoRun) signalGroup(sig syscall.Signal) {
	syscall.Kill(-d.cmd.Process.Pid, sig)
}

// ctrlC is the signal a terminal's Ctrl-C sends, SIGINT; unless this test
// was started with SIGINT ignored (e.g. as a background job of a
// non-interactive shell), which the script then inherits and cannot trap:
// SIGTERM then, which it handles the same way.
func ctrlC() syscall.Signal {
	if signal.Ignored(os.Interrupt) {
		return syscall.SIGTERM
	}
	return syscall.SIGINT
}

// running says whether pid is a live process of this run (a zombie, or
// another program that reused the pid, has no command line naming the
// run's state dir).
func (d *demoRun) running(pid int) bool {
	if pid == 0 || d.stateDir == "" {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), d.stateDir)
}

// gone fails unless the process pid of this run ends within the time given.
func (d *demoRun) gone(t *testing.T, what string, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for d.running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs %v after its demo stopped", what, pid, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDemo is the README's first command, tried as a newcomer would: run
// `make demo`'s script, kill it with kill -9 and run it again (it must clean
// up after the killed run by itself), then log in to the page it prints as
// alice and as bob (Converse.js, in two separate browser profiles, through
// the boshd it started), chat both ways, and press Ctrl-C: nothing it
// started may be left running, and its state directory must be gone. The
// page must work offline: no request of its tabs leaves loopback.
func TestDemo(t *testing.T) {
	runtimeDir := t.TempDir()

	first := startDemo(t, runtimeDir, 3*time.Minute) // may run npm ci and go build
	t.Logf("first run ready at %s (boshd %d, Prosody %d); kill -9 of the script", first.url, first.boshdPID, first.prosodyPID)
	first.cmd.Process.Kill() // the script only, not its group: its children stay behind
	<-first.exited

	d := startDemo(t, runtimeDir, time.Minute)
	t.Logf("second run ready at %s (boshd %d, Prosody %d)", d.url, d.boshdPID, d.prosodyPID)
	// The second run stopped what the killed one left behind and removed
	// its state.
	first.gone(t, "the killed run's boshd", first.boshdPID, 5*time.Second)
	first.gone(t, "the killed run's Prosody", first.prosodyPID, 5*time.Second)
	if _, err := os.Stat(first.stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the killed run's state %s is still there (%v)", first.stateDir, err)
	}

	deadline := time.Now().Add(60 * time.Second)
	browser := startBrowser(t)
	alice := converseLogin(t, &env{pageURL: strings.TrimSuffix(d.url, "/"), browser: browser}, d, "alice", deadline)
	// bob in a browser context of his own: Converse keeps its session in
	// the origin's storage, which two users of one profile would share.
	bobCtx, cancelBob := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelBob)
	if err := chromedp.Do(bobCtx); err != nil {
		t.Fatalf("new browser context for bob: %v", err)
	}
	bob := converseLogin(t, &env{pageURL: strings.TrimSuffix(d.url, "/"), browser: bobCtx}, d, "bob", deadline)

	// alice and bob are contacts from the start: each opens a chat with the
	// other from the contact list.
	alice.openChat("bob@" + d.domain)
	bob.openChat("alice@" + d.domain)
	alice.typeInto(converseTextarea, "Hello Bob, this is the demo"+kb.Enter)
	bob.waitChatText("Hello Bob, this is the demo", 15*time.Second)
	bob.typeInto(converseTextarea, "Hi Alice, it works"+kb.Enter)
	alice.waitChatText("Hi Alice, it works", 15*time.Second)

	// The page talked to the boshd the demo started, on the page's origin.
	for _, tb := range []*tab{alice, bob} {
		if !evalJS[bool](tb, "performance.getEntriesByType('resource').some(r => r.name === location.origin + '/http-bind' && r.initiatorType === 'xmlhttprequest')") {
			t.Fatalf("%s: Converse made no XHR to %shttp-bind", tb.name, d.url)
		}
	}
	alice.screenshot(filepath.Join(artifactsDir(t), "TestDemo-alice.png"))

	// The demo works offline: neither the page nor anything it loaded
	// (scripts, styles, fonts, images, the BOSH requests) asked for a URL
	// beyond this machine, before login (the login screen) or after.
	for _, tb := range []*tab{alice, bob} {
		if off := tb.offsiteRequests(); len(off) > 0 {
			t.Errorf("%s: the demo page requested URLs beyond loopback (it must work offline):\n  %s", tb.name, strings.Join(off, "\n  "))
		}
	}

	// Ctrl-C: the terminal signals the whole foreground process group.
	d.signalGroup(ctrlC())
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("demo/run.sh still runs 15s after Ctrl-C")
	}
	d.gone(t, "boshd", d.boshdPID, 2*time.Second)
	d.gone(t, "Prosody", d.prosodyPID, 2*time.Second)
	if _, err := os.Stat(d.stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state %s is still there after Ctrl-C (%v)", d.stateDir, err)
	}
	if left, _ := filepath.Glob(filepath.Join(runtimeDir, "boshd-demo.*")); len(left) > 0 {
		t.Fatalf("state directories left behind: %v", left)
	}
}

const converseTextarea = "converse-chat form.chat-message-form textarea"

// converseLogin opens the demo's page and logs in as user (the bare user
// name: the page sets Converse's default_domain), waiting for the roster.
func converseLogin(t *testing.T, e *env, d *demoRun, user string, deadline time.Time) *tab {
	t.Helper()
	tb := e.openTab(t, user, "/", "document.querySelector('#converse-login-jid') !== null", deadline)
	tb.screenshot(filepath.Join(artifactsDir(t), "TestDemo-login-"+user+".png"))
	tb.typeInto("#converse-login-jid", user)
	tb.typeInto("#converse-login-password", d.passwords[user])
	tb.click("#converse-login [type=submit]", 10*time.Second)
	tb.waitFor("document.querySelector('converse-roster') !== null", 20*time.Second, "the contact list after login")
	return tb
}

// openChat clicks contact (a bare JID) in Converse's contact list.
func (tb *tab) openChat(contact string) {
	tb.t.Helper()
	tb.click(fmt.Sprintf("converse-roster a.open-chat[data-jid=%s]", js(contact)), 20*time.Second)
	tb.waitFor(fmt.Sprintf("document.querySelector(%s) !== null", js(converseTextarea)), 10*time.Second, "the chat's message box")
}

// waitChatText waits until a message containing text shows in the open chat.
func (tb *tab) waitChatText(text string, timeout time.Duration) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf("Array.from(document.querySelectorAll('converse-chat .chat-msg__text')).some(el => el.textContent.includes(%s))", js(text)),
		timeout, fmt.Sprintf("%q in the chat", text))
}
