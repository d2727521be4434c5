package client

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
)

// fakeCM is a small connection manager for the client's wire tests: one
// session, hold=1 semantics (a held request is released empty when a newer
// one arrives or wait passes, or with queued stanzas as soon as they are
// pushed), SASL PLAIN/SCRAM-SHA-1 against one account, restart, bind and
// session. It records every request and checks keys. hook, when set, sees
// each request first and may answer it itself.
type fakeCM struct {
	t   *testing.T
	srv *httptest.Server

	// Settings, fixed before the first request.
	wait          time.Duration
	createAttrs   string // extra attributes of the creation response
	noFeatures    bool   // creation response without features: they come on the next request
	sessionNeeded bool   // offer the legacy session as mandatory
	user, pass    string
	// echo, when set, turns a client stanza into stanzas for the client.
	echo func(stanza []byte) []string

	mu sync.Mutex
	// hook sees each parsed request first and may answer it itself.
	hook func(f *fakeCM, b *Body, raw []byte) (status int, answer string, handled bool)
	// front sees each request before it is parsed; it returns true when
	// it has answered.
	front     func(w http.ResponseWriter, r *http.Request, raw []byte) bool
	requests  []*Body // in arrival order
	raws      [][]byte
	queue     []string
	held      []*heldReq
	sasl      *sasl.Negotiator
	authed    bool
	prevKey   string
	keyErrors []string
	closed    bool
	conns     int
}

type heldReq struct {
	rid uint64
	ch  chan string
}

const fakeSID = "fake-sid"

// newFakeCM starts a fake CM configured by setup (run before the server
// starts; later changes go through setHook and setFront).
func newFakeCM(t *testing.T, setup ...func(*fakeCM)) *fakeCM {
	f := &fakeCM{t: t, wait: 2 * time.Second, user: "alice", pass: "secret"}
	for _, fn := range setup {
		fn(f)
	}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
		}
	}
	f.srv.Start()
	t.Cleanup(f.close)
	return f
}

// connections returns how many TCP connections the server accepted.
func (f *fakeCM) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

// close answers every held request and stops the server.
func (f *fakeCM) close() {
	f.mu.Lock()
	f.closed = true
	held := f.held
	f.held = nil
	f.mu.Unlock()
	for _, h := range held {
		h.ch <- emptyBody
	}
	f.srv.Close()
}

const emptyBody = "<body xmlns='" + NSHTTPBind + "'/>"

func wrap(attrs string, payloads ...string) string {
	if len(payloads) == 0 {
		return "<body xmlns='" + NSHTTPBind + "'" + attrs + "/>"
	}
	return "<body xmlns='" + NSHTTPBind + "' xmlns:stream='" + NSStream + "'" + attrs + ">" + strings.Join(payloads, "") + "</body>"
}

// url is the endpoint.
func (f *fakeCM) url() string { return f.srv.URL + "/http-bind" }

// reqs returns a copy of the requests received so far.
func (f *fakeCM) reqs() []*Body {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Body(nil), f.requests...)
}

// push queues stanzas for the client, answering the oldest held request.
func (f *fakeCM) push(stanzas ...string) {
	f.mu.Lock()
	f.queue = append(f.queue, stanzas...)
	f.flushLocked()
	f.mu.Unlock()
}

// flushLocked gives the queue to the oldest held request.
func (f *fakeCM) flushLocked() {
	if len(f.queue) == 0 || len(f.held) == 0 {
		return
	}
	h := f.held[0]
	f.held = f.held[1:]
	h.ch <- wrap("", f.queue...)
	f.queue = nil
}

func (f *fakeCM) features() string {
	if !f.authed {
		return "<stream:features><mechanisms xmlns='" + NSSASL + "'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	}
	sess := "<session xmlns='" + NSSession + "'><optional/></session>"
	if f.sessionNeeded {
		sess = "<session xmlns='" + NSSession + "'/>"
	}
	return "<stream:features><bind xmlns='" + NSBind + "'/>" + sess + "</stream:features>"
}

func (f *fakeCM) setHook(h func(f *fakeCM, b *Body, raw []byte) (int, string, bool)) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fakeCM) setFront(h func(w http.ResponseWriter, r *http.Request, raw []byte) bool) {
	f.mu.Lock()
	f.front = h
	f.mu.Unlock()
}

// heldCount is the number of requests held now.
func (f *fakeCM) heldCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.held)
}

// lastRaw is the last request received, as sent.
func (f *fakeCM) lastRaw() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.raws[len(f.raws)-1]
}

// keyErrs returns the key sequencing violations seen.
func (f *fakeCM) keyErrs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keyErrors...)
}

func (f *fakeCM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	front := f.front
	f.mu.Unlock()
	if front != nil && front(w, r, raw) {
		return
	}
	b, err := ParseBody(raw)
	if err != nil {
		f.t.Errorf("fake CM: client sent a malformed body: %v\n%s", err, raw)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, b)
	f.raws = append(f.raws, raw)
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		if status, ans, ok := hook(f, b, raw); ok {
			writeAnswer(w, status, ans)
			return
		}
	}
	writeAnswer(w, http.StatusOK, f.handle(r.Context(), b))
}

func writeAnswer(w http.ResponseWriter, status int, ans string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(ans)))
	w.WriteHeader(status)
	io.WriteString(w, ans)
}

// handle plays the CM for one request and returns the answer.
func (f *fakeCM) handle(ctx context.Context, b *Body) string {
	rid, _ := b.Uint("rid")
	f.mu.Lock()
	f.checkKeyLocked(b)
	if b.Attrs["sid"] == "" {
		attrs := fmt.Sprintf(" sid='%s' wait='%d' requests='2' hold='1' ver='1.6' inactivity='30' polling='2' xmpp:restartlogic='true' xmlns:xmpp='%s'%s",
			fakeSID, int(f.wait/time.Second), NSXBOSH, f.createAttrs)
		feat := f.features()
		f.mu.Unlock()
		if f.noFeatures {
			f.push(feat)
			return wrap(attrs)
		}
		return wrap(attrs, feat)
	}
	if b.Attrs["sid"] != fakeSID {
		f.mu.Unlock()
		return wrap(" type='terminate' condition='item-not-found'")
	}
	if b.Attrs["xmpp:restart"] == "true" {
		f.queue = append(f.queue, f.features())
	}
	for _, p := range b.Payloads {
		f.queue = append(f.queue, f.reactLocked(p)...)
	}
	if b.Type() == "terminate" {
		held := f.held
		f.held = nil
		f.mu.Unlock()
		for _, h := range held {
			h.ch <- emptyBody
		}
		return wrap(" type='terminate'")
	}
	// A newer request releases the held one (hold=1, XEP-0124 §8).
	var release []*heldReq
	for len(f.held) >= 1 {
		release = append(release, f.held[0])
		f.held = f.held[1:]
	}
	if len(f.queue) > 0 || f.closed {
		ans := wrap("", f.queue...)
		f.queue = nil
		f.mu.Unlock()
		for _, h := range release {
			h.ch <- emptyBody
		}
		return ans
	}
	h := &heldReq{rid: rid, ch: make(chan string, 1)}
	f.held = append(f.held, h)
	f.mu.Unlock()
	for _, r := range release {
		r.ch <- emptyBody
	}
	t := time.NewTimer(f.wait)
	defer t.Stop()
	select {
	case ans := <-h.ch:
		return ans
	case <-t.C:
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.held {
		if x == h {
			f.held = append(f.held[:i], f.held[i+1:]...)
			return emptyBody
		}
	}
	return <-h.ch // answered meanwhile
}

// checkKeyLocked verifies key sequencing (XEP-0124 §15.4).
func (f *fakeCM) checkKeyLocked(b *Body) {
	key, hasKey := b.Attrs["key"]
	if f.prevKey != "" {
		sum := sha1.Sum([]byte(key))
		if !hasKey || hex.EncodeToString(sum[:]) != f.prevKey {
			f.keyErrors = append(f.keyErrors, fmt.Sprintf("rid %s: key %q does not hash to %q", b.Attrs["rid"], key, f.prevKey))
		}
	}
	if nk, ok := b.Attrs["newkey"]; ok {
		f.prevKey = nk
	} else if hasKey {
		f.prevKey = key
	}
}

// reactLocked handles one client payload: SASL, bind, session, or echo.
func (f *fakeCM) reactLocked(p []byte) []string {
	el, err := parseElement(p)
	if err != nil {
		f.t.Errorf("fake CM: bad payload %s: %v", p, err)
		return nil
	}
	saslAnswer := func(more bool, resp []byte, err error) []string {
		if err != nil {
			return []string{"<failure xmlns='" + NSSASL + "'><not-authorized/><text>bad</text></failure>"}
		}
		data := base64.StdEncoding.EncodeToString(resp)
		if more {
			return []string{"<challenge xmlns='" + NSSASL + "'>" + data + "</challenge>"}
		}
		f.authed = true
		return []string{"<success xmlns='" + NSSASL + "'>" + data + "</success>"}
	}
	switch el.XMLName.Local {
	case "auth":
		var mech sasl.Mechanism
		switch el.attr("mechanism") {
		case "PLAIN":
			mech = sasl.Plain
		case "SCRAM-SHA-1":
			mech = sasl.ScramSha1
		default:
			return []string{"<failure xmlns='" + NSSASL + "'><invalid-mechanism/></failure>"}
		}
		f.sasl = sasl.NewServer(mech, func(n *sasl.Negotiator) bool {
			u, p, _ := n.Credentials()
			return string(u) == f.user && string(p) == f.pass
		}, sasl.SaltedCredentials(func(u, _ []byte, m string) ([]byte, []byte, int64, error) {
			if string(u) != f.user {
				return nil, nil, 0, fmt.Errorf("no such user")
			}
			salt := []byte("fake-salt")
			return salt, sasl.SCRAMSaltPassword(sha1.New, []byte(f.pass), salt, 4096), 4096, nil
		}))
		data, _ := decodeSASLData(el.Text)
		return saslAnswer(f.sasl.Step(data))
	case "response":
		data, _ := decodeSASLData(el.Text)
		return saslAnswer(f.sasl.Step(data))
	case "iq":
		id := el.attr("id")
		if el.child(NSBind, "bind") != nil {
			res := "fake"
			if r := el.child(NSBind, "bind").child("", "resource"); r != nil && r.Text != "" {
				res = r.Text
			}
			return []string{"<iq xmlns='jabber:client' type='result' id='" + id + "'><bind xmlns='" + NSBind + "'><jid>" + f.user + "@example.net/" + res + "</jid></bind></iq>"}
		}
		if el.child(NSSession, "session") != nil {
			return []string{"<iq xmlns='jabber:client' type='result' id='" + id + "'/>"}
		}
	}
	if f.echo != nil {
		return f.echo(p)
	}
	return nil
}
