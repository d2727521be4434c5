package integration_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"boshd/bosh"
	"boshd/bosh/client"
	"boshd/bosh/httppoll"
	"boshd/bosh/relay"
	"boshd/integration/servers"
	"boshd/xmppconn"
)

// pollFixture is a real Prosody offering STARTTLS, and boshd in process in
// front of it: the BOSH handler at /http-bind and XEP-0025 handlers at
// /http-poll (5-minute timeout) and /http-poll-short (2-second timeout),
// all sharing one relay.Domains (allowlist, dialer with TLS required)
// and one relay.Counter, as cmd/boshd wires them.
type pollFixture struct {
	xmpp    *servers.Server
	srv     *httptest.Server
	handler *httppoll.Handler
	domains *relay.Domains
	users   map[string]string
}

func newPollFixture(t *testing.T, users ...string) *pollFixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x := servers.Prosody(t, servers.Options{TLS: true, LoadTest: true})
	f := &pollFixture{xmpp: x, users: map[string]string{}}
	for _, u := range users {
		f.users[u] = "secret-" + u
	}
	if err := x.RegisterMany(ctx, f.users); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(x.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	domains := &relay.Domains{
		Dialer: &xmppconn.Dialer{
			Routes:    map[string][]string{x.Domain: {x.Addr}},
			TLS:       xmppconn.TLSRequired,
			TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		},
		Served: []string{x.Domain},
	}
	f.domains = domains
	counter := relay.NewCounter()
	bh := bosh.New(bosh.Config{FrontEnd: relay.FrontEnd{Domains: domains, Counter: counter}, MaxWait: 10 * time.Second})
	f.handler = httppoll.New(httppoll.Config{FrontEnd: relay.FrontEnd{Domains: domains, Counter: counter}, Path: "/http-poll"})
	short := httppoll.New(httppoll.Config{FrontEnd: relay.FrontEnd{Domains: domains, Counter: counter}, Path: "/http-poll-short", SessionTimeout: 2 * time.Second})
	mux := http.NewServeMux()
	mux.Handle("/http-bind", bh)
	mux.Handle("/http-poll", f.handler)
	mux.Handle("/http-poll-short", short)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, h := range []interface{ Shutdown(context.Context) error }{f.handler, short, bh} {
			if err := h.Shutdown(ctx); err != nil {
				t.Error(err)
			}
		}
		f.srv.Close()
	})
	return f
}

// boshUser logs user in over BOSH and keeps a request held.
func (f *pollFixture) boshUser(t *testing.T, ctx context.Context, user string) *client.Session {
	t.Helper()
	s, err := client.Connect(ctx, client.Config{URL: f.srv.URL + "/http-bind", Domain: f.xmpp.Domain, Wait: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Login(ctx, user, f.users[user], "PLAIN", "bosh"); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	keepRunning(t, s)
	return s
}

// pollClient is a minimal XEP-0025 client: it writes raw stream bytes in
// POST bodies, with an optional key chain, and cuts what it receives into
// elements with the same xmppconn.Splitter boshd uses.
type pollClient struct {
	t     *testing.T
	url   string
	id    string
	keys  []string // the rest of the current chain; nil: no keys
	split xmppconn.Splitter
	got   []xmppconn.Element

	requests  int
	intervals []int
	sawTLS    bool // an answer mentioned starttls
}

func newPollClient(t *testing.T, url string, keyed bool) *pollClient {
	c := &pollClient{t: t, url: url, id: "0"}
	if keyed {
		c.keys = httppoll.KeyChain(fmt.Sprintf("seed-%d", time.Now().UnixNano()), 5)
	}
	return c
}

// nextKeys returns the key (and new key, when the chain runs out) for the
// next request.
func (c *pollClient) nextKeys() (key, newKey string) {
	if c.keys == nil {
		return "", ""
	}
	key, c.keys = c.keys[0], c.keys[1:]
	if len(c.keys) == 0 && c.id != "0" {
		c.keys = httppoll.KeyChain(fmt.Sprintf("seed-%d", time.Now().UnixNano()), 5)
		newKey, c.keys = c.keys[0], c.keys[1:]
	}
	return key, newKey
}

// post sends xml (keys as the chain says) and returns the identifier the
// answer carried; the answer's bytes go to the splitter.
func (c *pollClient) post(xml string) string {
	c.t.Helper()
	key, newKey := c.nextKeys()
	id, body := c.raw(string(httppoll.AppendRequest(nil, httppoll.Request{ID: c.id, Key: key, NewKey: newKey, XML: []byte(xml)})))
	if strings.HasSuffix(id, ":0") {
		c.t.Fatalf("request %q answered with error identifier %s: %s", xml, id, body)
	}
	if c.id == "0" {
		c.id = id
	} else if id != c.id {
		c.t.Fatalf("identifier changed from %s to %s", c.id, id)
	}
	c.split.Write(body)
	for {
		el, ok, err := c.split.Next()
		if err != nil {
			c.t.Fatalf("answer stream: %v", err)
		}
		if !ok {
			break
		}
		c.got = append(c.got, el)
	}
	return id
}

// raw posts a body as is and returns the ID cookie and the answer.
func (c *pollClient) raw(body string) (string, []byte) {
	c.t.Helper()
	resp, err := http.Post(c.url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.requests++
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		c.t.Fatalf("answer %d %q, want 200 text/xml", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(string(b), "starttls") {
		c.sawTLS = true
	}
	if v := resp.Header.Get("X-Poll-Interval"); v != "" {
		n, _ := strconv.Atoi(v)
		c.intervals = append(c.intervals, n)
	}
	cookie := resp.Header.Get("Set-Cookie")
	v, _, _ := strings.Cut(cookie, ";")
	id, ok := strings.CutPrefix(v, "ID=")
	if !ok {
		c.t.Fatalf("no ID cookie: %q", cookie)
	}
	return id, b
}

// gotText reports whether c has received an element containing text, and
// forgets what it has received.
func gotText(c *pollClient, text string) bool {
	found := false
	for _, el := range c.got {
		found = found || strings.Contains(string(el.Raw), text)
	}
	c.got = c.got[:0]
	return found
}

// await polls until an element that match accepts arrives, and returns it.
func (c *pollClient) await(ctx context.Context, what string, match func(xmppconn.Element) bool) xmppconn.Element {
	c.t.Helper()
	for {
		for i, el := range c.got {
			if match(el) {
				c.got = append(c.got[:i:i], c.got[i+1:]...)
				return el
			}
		}
		if ctx.Err() != nil {
			c.t.Fatalf("no %s arrived; have %d other elements", what, len(c.got))
		}
		c.post("")
	}
}

func named(local string) func(xmppconn.Element) bool {
	return func(el xmppconn.Element) bool { return el.Name == local }
}

func withID(id string) func(xmppconn.Element) bool {
	return func(el xmppconn.Element) bool {
		return strings.Contains(string(el.Raw), "id='"+id+"'") || strings.Contains(string(el.Raw), `id="`+id+`"`)
	}
}

func header(domain string) string {
	return "<stream:stream to='" + domain + "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'>"
}

// login runs RFC 6120's sequence through the endpoint: stream header, SASL
// PLAIN, stream restart, resource binding, initial presence. It returns the
// bound JID.
func (c *pollClient) login(ctx context.Context, domain, user, pass string) string {
	c.t.Helper()
	c.post("<?xml version='1.0'?>" + header(domain))
	c.await(ctx, "stream header", func(el xmppconn.Element) bool { return el.Kind == xmppconn.KindHeader })
	feats := c.await(ctx, "stream features", func(el xmppconn.Element) bool { return el.Kind == xmppconn.KindFeatures })
	if !strings.Contains(string(feats.Raw), "PLAIN") {
		c.t.Fatalf("features without PLAIN: %s", feats.Raw)
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	c.post("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + cred + "</auth>")
	if el := c.await(ctx, "SASL outcome", func(el xmppconn.Element) bool { return el.Name == "success" || el.Name == "failure" }); el.Name != "success" {
		c.t.Fatalf("SASL: %s", el.Raw)
	}
	c.post(header(domain)) // RFC 6120 §6.4.6: restart
	c.await(ctx, "restarted stream header", func(el xmppconn.Element) bool { return el.Kind == xmppconn.KindHeader })
	feats = c.await(ctx, "features after SASL", func(el xmppconn.Element) bool { return el.Kind == xmppconn.KindFeatures })
	if !strings.Contains(string(feats.Raw), "urn:ietf:params:xml:ns:xmpp-bind") {
		c.t.Fatalf("no bind feature: %s", feats.Raw)
	}
	c.post("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>poll</resource></bind></iq>")
	res := c.await(ctx, "bind result", withID("bind1"))
	var bound struct {
		Type string `xml:"type,attr"`
		JID  string `xml:"bind>jid"`
	}
	if err := xml.Unmarshal(res.Raw, &bound); err != nil || bound.Type != "result" || bound.JID == "" {
		c.t.Fatalf("bind: %s (%v)", res.Raw, err)
	}
	c.post("<presence/>")
	return bound.JID
}

// awaitBOSH waits for a stanza at a BOSH user that contains text.
func awaitBOSH(t *testing.T, ctx context.Context, s *client.Session, text string) []byte {
	t.Helper()
	for {
		select {
		case p, ok := <-s.Receive():
			if !ok {
				t.Fatalf("BOSH session ended: %v", s.Err())
			}
			if strings.Contains(string(p), text) {
				return p
			}
		case <-ctx.Done():
			t.Fatalf("BOSH user never got %q", text)
		}
	}
}

// awaitBounce checks that the server no longer has a session for jid: it
// answers an IQ to it with an error (RFC 6120 §8.5.3.2.1) instead of
// delivering it. boshd closes the upstream stream in the background, so
// the first IQs may still reach the closing session; they are retried.
func awaitBounce(t *testing.T, ctx context.Context, s *client.Session, jid string) {
	t.Helper()
	for i := 0; ; i++ {
		id := fmt.Sprintf("bounce-%d", i)
		if err := s.Send(ctx, []byte("<iq to='"+jid+"' type='get' id='"+id+"'><ping xmlns='urn:xmpp:ping'/></iq>")); err != nil {
			t.Fatal(err)
		}
		wait := time.NewTimer(500 * time.Millisecond)
		for waiting := true; waiting; {
			select {
			case p, ok := <-s.Receive():
				if !ok {
					t.Fatalf("BOSH session ended: %v", s.Err())
				}
				if strings.Contains(string(p), "id='"+id+"'") || strings.Contains(string(p), `id="`+id+`"`) {
					if !strings.Contains(string(p), "error") {
						t.Fatalf("IQ to %s answered without error: %s", jid, p)
					}
					wait.Stop()
					return
				}
			case <-wait.C:
				waiting = false
			case <-ctx.Done():
				t.Fatalf("the server still delivers to %s", jid)
			}
		}
	}
}

// TestHTTPPollProsody runs XEP-0025 sessions through boshd against a real
// Prosody whose c2s offers STARTTLS, which boshd negotiates itself.
func TestHTTPPollProsody(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody")
	}
	f := newPollFixture(t, "alice", "bob", "carol", "dave", "erin")
	domain := f.xmpp.Domain
	pollURL := f.srv.URL + "/http-poll"

	t.Run("login and chat with a BOSH user", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bob := f.boshUser(t, ctx, "bob")
		alice := newPollClient(t, pollURL, false)
		aliceJID := alice.login(ctx, domain, "alice", f.users["alice"])
		if alice.sawTLS {
			t.Fatal("the polling client was shown STARTTLS; boshd secures the upstream itself")
		}
		if len(alice.intervals) == 0 || alice.intervals[0] != 1 {
			t.Fatalf("X-Poll-Interval values %v, want HeldPollGap 1 while empty polls are held", alice.intervals)
		}
		alice.post("<message to='" + bob.JID + "' type='chat' id='m1'><body>hello from polling</body></message>")
		awaitBOSH(t, ctx, bob, "hello from polling")

		if err := bob.Send(ctx, []byte("<message to='"+aliceJID+"' type='chat' id='m2'><body>hello from BOSH</body></message>")); err != nil {
			t.Fatal(err)
		}
		got := alice.await(ctx, "message from bob", withID("m2"))
		if !strings.Contains(string(got.Raw), "hello from BOSH") {
			t.Fatalf("got %s", got.Raw)
		}

		// An element split across two polls (XEP-0025 §3).
		alice.post("<message to='" + bob.JID + "' type='chat' id='m3'><body>split ac")
		alice.post("ross two polls</body></message>")
		awaitBOSH(t, ctx, bob, "split across two polls")

		// The client's </stream:stream> ends the session (§3); the
		// server then bounces an IQ to the gone resource.
		_, body := alice.raw(alice.id + ",</stream:stream>")
		if !strings.HasSuffix(string(body), "</stream:stream>") {
			t.Fatalf("closing answer %q", body)
		}
		if id, _ := alice.raw(alice.id + ","); id != httppoll.IDUnknown {
			t.Fatalf("after </stream:stream>: %s, want 0:0", id)
		}
		awaitBounce(t, ctx, bob, aliceJID)
	})

	// A client that sleeps the advised X-Poll-Interval between polls, on
	// an endpoint whose interval grows fast (1 s to 8 s, held at most 6 s),
	// idles until its interval has grown, then a BOSH user sends it a
	// message: it gets it in the answer to the poll in flight at the
	// send or to the next one, and it was never advised to sleep more
	// than HeldPollGap (issue 11: the advice used to be the interval, so
	// such a client slept through the message).
	t.Run("a client that follows the advice gets a message at once", func(t *testing.T) {
		fast := httppoll.New(httppoll.Config{
			FrontEnd: relay.FrontEnd{Domains: f.domains}, Path: "/",
			PollInterval: func(idle time.Duration) time.Duration { return relay.PollInterval(idle, time.Second, 8*time.Second) },
			HoldCap:      6 * time.Second,
		})
		fastSrv := httptest.NewServer(fast)
		defer func() { fast.Shutdown(context.Background()); fastSrv.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		bob := f.boshUser(t, ctx, "bob")
		erin := newPollClient(t, fastSrv.URL, true)
		jid := erin.login(ctx, domain, "erin", f.users["erin"])
		erin.got, erin.intervals = nil, nil
		idleFrom := time.Now()
		sendAt := 17*time.Second + 300*time.Millisecond
		sent := make(chan time.Time, 1)
		sender := make(chan error, 1)
		go func() {
			time.Sleep(sendAt)
			sent <- time.Now()
			sender <- bob.Send(ctx, []byte("<message to='"+jid+"' type='chat' id='follow'><body>to a follower</body></message>"))
		}()
		defer func() {
			if err := <-sender; err != nil {
				t.Error(err)
			}
		}()
		var sentAt time.Time
		pollsAfterSend, requests := 0, 0
		for ctx.Err() == nil {
			select {
			case sentAt = <-sent:
			default:
			}
			if !sentAt.IsZero() {
				pollsAfterSend++
			}
			erin.post("")
			requests++
			if got := gotText(erin, "to a follower"); got {
				break
			}
			if n := len(erin.intervals); n > 0 {
				time.Sleep(time.Duration(erin.intervals[n-1]) * time.Second)
			}
		}
		if sentAt.IsZero() {
			sentAt = <-sent
		}
		delay := time.Since(sentAt)
		if ctx.Err() != nil {
			t.Fatal("the follower never got the message")
		}
		t.Logf("follower: %d requests in %v idle, advice %v, message delay %v, polls begun after the send: %d",
			requests, sentAt.Sub(idleFrom).Round(time.Millisecond), erin.intervals, delay, pollsAfterSend)
		if pollsAfterSend > 1 {
			t.Fatalf("the message waited for %d polls after its send, want the one in flight or the next", pollsAfterSend)
		}
		for _, v := range erin.intervals {
			if v > int(httppoll.HeldPollGap/time.Second) {
				t.Fatalf("advised to sleep %d s while polls are held: %v", v, erin.intervals)
			}
		}
		// The interval had grown: the idle polls were held, not answered
		// at once (fewer requests than one per poll_min).
		if requests >= int(sendAt/time.Second) {
			t.Fatalf("%d requests in %v idle: polls were not held", requests, sendAt)
		}
	})

	t.Run("keys", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dave := f.boshUser(t, ctx, "dave")
		carol := newPollClient(t, pollURL, true)
		carol.login(ctx, domain, "carol", f.users["carol"])
		// The login went through several re-keyings (chains of 5).

		// A request with a wrong key gets -3:0 and is not forwarded.
		stale := httppoll.NextKey(carol.keys[0]) // the key already used
		id, _ := carol.raw(carol.id + ";" + stale + ",<message to='" + dave.JID + "' type='chat'><body>forged</body></message>")
		if id != httppoll.IDKeySequence {
			t.Fatalf("wrong key answered %s, want -3:0", id)
		}
		carol.post("<message to='" + dave.JID + "' type='chat'><body>genuine</body></message>")
		if p := awaitBOSH(t, ctx, dave, "<body>"); !strings.Contains(string(p), "genuine") {
			t.Fatalf("first message to arrive: %s (the forged one was forwarded)", p)
		}
		// Re-keying goes on working for many requests.
		for i := range 12 {
			carol.post(fmt.Sprintf("<message to='%s' type='chat'><body>n%d</body></message>", dave.JID, i))
		}
		awaitBOSH(t, ctx, dave, "n11")
	})

	t.Run("errors", func(t *testing.T) {
		c := newPollClient(t, pollURL, false)
		if id, _ := c.raw("0123456789abcdef0123456789abcdef,"); id != httppoll.IDUnknown {
			t.Errorf("unknown session: %s", id)
		}
		if id, _ := c.raw("this is not a request"); id != httppoll.IDBadRequest {
			t.Errorf("malformed body: %s", id)
		}
		if id, body := c.raw("0," + header("elsewhere.example")); id != httppoll.IDUnknown || !strings.Contains(string(body), "host-unknown") {
			t.Errorf("domain not served: %s %s", id, body)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bob := f.boshUser(t, ctx, "bob")
		c := newPollClient(t, f.srv.URL+"/http-poll-short", false)
		jid := c.login(ctx, domain, "alice", f.users["alice"])
		time.Sleep(3 * time.Second) // the session timeout is 2s
		if id, _ := c.raw(c.id + ","); id != httppoll.IDUnknown {
			t.Fatalf("expired session answered %s, want 0:0", id)
		}
		// The upstream stream was closed: the server bounces an IQ sent
		// to the expired session's resource.
		awaitBounce(t, ctx, bob, jid)
	})
}

// TestHTTPPollIdleMeasure is the measurement of docs/polling.md, 10 real
// minutes long, for two kinds of client: one that polls right after each
// answer and one that sleeps the advised X-Poll-Interval between polls.
// Clients of each kind sit idle, on a
// boshd with adaptive intervals (the defaults: poll_min 2s, poll_max 30s,
// hold_cap 20s) and on one with a fixed 2s interval; in one pair a BOSH
// user sends each a message 7m13s into the period, the other pair stays
// idle throughout. All eight run at once. Run it with
//
//	BOSHD_POLL_MEASURE=1 go test ./integration -run TestHTTPPollIdleMeasure -v -timeout 20m
//
// (BOSHD_POLL_MEASURE_PERIOD=1m shortens the period, for a try-out.)
func TestHTTPPollIdleMeasure(t *testing.T) {
	if os.Getenv("BOSHD_POLL_MEASURE") == "" {
		t.Skip("10-minute measurement; set BOSHD_POLL_MEASURE=1")
	}
	period := 10 * time.Minute
	if v := os.Getenv("BOSHD_POLL_MEASURE_PERIOD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		period = d
	}
	msgAt := period * 433 / 600 // 7m13s of 10m
	f := newPollFixture(t, "alice", "on-msg", "off-msg", "on-idle", "off-idle",
		"on-msg-f", "off-msg-f", "on-idle-f", "off-idle-f")
	fixed := httppoll.New(httppoll.Config{
		FrontEnd: relay.FrontEnd{Domains: f.domains}, Path: "/http-poll-fixed",
		PollInterval: func(time.Duration) time.Duration { return 2 * time.Second },
	})
	fixedSrv := httptest.NewServer(fixed)
	t.Cleanup(func() { fixed.Shutdown(context.Background()); fixedSrv.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), period+time.Minute)
	defer cancel()
	sender := f.boshUser(t, ctx, "alice")

	type result struct {
		requests  int
		delay     time.Duration
		intervals []int
	}
	measure := func(url, user string, message, follow bool) result {
		c := newPollClient(t, url, true)
		jid := c.login(ctx, f.xmpp.Domain, user, f.users[user])
		c.requests = 0
		c.intervals = nil
		start := time.Now()
		// The message is sent from its own goroutine, so that the client
		// keeps polling as it would: its held poll is what gets it.
		// It stops with this measure, which waits for it.
		sent := make(chan time.Time, 1)
		mctx, mcancel := context.WithCancel(ctx)
		var msg sync.WaitGroup
		defer func() { mcancel(); msg.Wait() }()
		if message {
			msg.Go(func() {
				select {
				case <-time.After(msgAt):
				case <-mctx.Done():
					return
				}
				sent <- time.Now()
				if err := sender.Send(mctx, []byte("<message to='"+jid+"' type='chat' id='idle-msg'><body>ping</body></message>")); err != nil {
					t.Error(err)
				}
			})
		}
		res := result{delay: -1}
		for time.Since(start) < period {
			c.post("")
			for _, el := range c.got {
				if strings.Contains(string(el.Raw), "idle-msg") {
					res.delay = time.Since(<-sent)
				}
			}
			c.got = c.got[:0]
			if n := len(c.intervals); follow && n > 0 {
				time.Sleep(time.Duration(c.intervals[n-1]) * time.Second)
			}
		}
		res.requests, res.intervals = c.requests, c.intervals
		return res
	}
	type kind struct {
		name                           string
		follow                         bool
		onMsg, offMsg, onIdle, offIdle result
	}
	kinds := []*kind{{name: "back to back"}, {name: "follows the advice", follow: true}}
	var wg sync.WaitGroup
	for _, k := range kinds {
		suffix := ""
		if k.follow {
			suffix = "-f"
		}
		for _, run := range []struct {
			res     *result
			url     string
			user    string
			message bool
		}{
			{&k.onMsg, f.srv.URL + "/http-poll", "on-msg" + suffix, true},
			{&k.offMsg, fixedSrv.URL, "off-msg" + suffix, true},
			{&k.onIdle, f.srv.URL + "/http-poll", "on-idle" + suffix, false},
			{&k.offIdle, fixedSrv.URL, "off-idle" + suffix, false},
		} {
			wg.Go(func() { *run.res = measure(run.url, run.user, run.message, k.follow) })
		}
	}
	wg.Wait()
	for _, k := range kinds {
		t.Logf("%s: %v idle: adaptive %d requests, fixed 2s %d requests (%.1fx fewer)",
			k.name, period, k.onIdle.requests, k.offIdle.requests, float64(k.offIdle.requests)/float64(k.onIdle.requests))
		t.Logf("%s: %v idle, message at %v: adaptive %d requests, fixed 2s %d requests (%.1fx fewer); message delay adaptive %v, fixed %v",
			k.name, period, msgAt, k.onMsg.requests, k.offMsg.requests, float64(k.offMsg.requests)/float64(k.onMsg.requests), k.onMsg.delay, k.offMsg.delay)
		t.Logf("%s: adaptive X-Poll-Interval sequence, idle: %v", k.name, k.onIdle.intervals)
		t.Logf("%s: adaptive X-Poll-Interval sequence, message: %v", k.name, k.onMsg.intervals)
		// The ratio grows with the period (the first minute is the ramp
		// from poll_min): the 5x promise is for the 10-minute period.
		if period >= 10*time.Minute && (k.onIdle.requests*5 > k.offIdle.requests || k.onMsg.requests*5 > k.offMsg.requests) {
			t.Errorf("%s: adaptive polling is not 5 times fewer requests", k.name)
		}
		if k.onMsg.delay < 0 || k.onMsg.delay > 1500*time.Millisecond {
			t.Errorf("%s: message delay %v with adaptive polling: want one round trip, at most 1.5 s", k.name, k.onMsg.delay)
		}
	}
}
