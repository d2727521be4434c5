package httppoll

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// What the scripted server (bosh/internal/xmpptest) says when a stream
// opens, and the client's header.
const (
	serverHeader   = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='stream-1' from='localhost' version='1.0'>"
	serverFeatures = xmpptest.DefaultFeatures
	clientHeader   = "<?xml version='1.0'?><stream:stream to='example.com' from='alice@example.com' xml:lang='en' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
)

// upConn is one upstream stream as the scripted server sees it: the test
// pushes what the server sends and reads what boshd forwarded. Its
// methods wait until the bubble is idle (synctest.Wait), so what boshd's
// relay goroutines had to do is done.
type upConn struct {
	t        *testing.T
	c        *xmpptest.Conn
	hdr      xmppconn.Header // the client stream's first header
	sent     []byte          // stanzas forwarded and not yet read by sentText
	restarts int             // stream headers after the first
	closed   bool            // boshd closed the stream
}

// drain takes in what the server has received so far.
func (u *upConn) drain() {
	synctest.Wait()
	for {
		select {
		case el, ok := <-u.c.Received:
			if !ok {
				u.closed = true
				return
			}
			switch el.Kind {
			case xmppconn.KindHeader:
				u.restarts++
			case xmppconn.KindEnd:
				u.closed = true
			default:
				u.sent = append(u.sent, el.Raw...)
			}
		default:
			return
		}
	}
}

// stanza pushes a stanza from the server and waits until boshd has it.
func (u *upConn) stanza(raw string) {
	u.t.Helper()
	u.c.Push(u.t, raw)
	synctest.Wait()
}

// sentText returns and forgets what boshd forwarded so far.
func (u *upConn) sentText() string {
	u.drain()
	s := string(u.sent)
	u.sent = nil
	return s
}

func (u *upConn) isClosed() bool {
	u.drain()
	return u.closed
}

// harness is a Handler whose upstreams are the in-memory xmpptest server.
type harness struct {
	t    *testing.T
	h    *Handler
	logs *test.Hook
	up   *xmpptest.Server
	// openErr, when set, is what dialling the server fails with.
	openErr error
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	p := &harness{t: t, logs: hook, up: xmpptest.NewPipe()}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if p.openErr != nil {
			return nil, p.openErr
		}
		return p.up.Dial(ctx, network, addr)
	}
	cfg := Config{
		FrontEnd: relay.FrontEnd{
			Domains: &relay.Domains{
				Dialer: &xmppconn.Dialer{Routes: map[string][]string{"example.com": {p.up.Addr}}, DialContext: dial},
				Served: []string{"example.com"},
			},
			Log: log,
		},
		Path: "/http-poll",
		// Tests that idle for long set their own timeout.
		SessionTimeout: 24 * time.Hour,
	}
	if mod != nil {
		mod(&cfg)
	}
	p.h = New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		p.up.Close()
	})
	return p
}

// nextUp returns the upstream stream boshd opened last, or nil if it
// opened none since the last call.
func (p *harness) nextUp() *upConn {
	p.t.Helper()
	synctest.Wait()
	select {
	case c := <-p.up.Conns:
		u := &upConn{t: p.t, c: c}
		el := <-c.Received // the first header: Conns delivers a connection once it arrived
		h, err := xmppconn.ParseHeader(el.Raw)
		if err != nil {
			p.t.Fatalf("upstream header %q: %v", el.Raw, err)
		}
		u.hdr = h
		return u
	default:
		return nil
	}
}

// opened reports whether an upstream stream was opened and not yet taken
// by nextUp.
func (p *harness) opened() bool {
	synctest.Wait()
	return len(p.up.Conns) != 0
}

// reply is one answer as the client sees it.
type reply struct {
	status   int
	header   http.Header
	id       string
	body     string
	interval int // X-Poll-Interval, -1 when absent
}

func (p *harness) post(body string) reply {
	p.t.Helper()
	return p.postCtx(context.Background(), body)
}

func (p *harness) postCtx(ctx context.Context, body string) reply {
	p.t.Helper()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/http-poll", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	r := reply{status: rec.Code, header: rec.Header(), body: rec.Body.String(), interval: -1}
	cookie := rec.Header().Get("Set-Cookie")
	v, path, ok := strings.Cut(cookie, "; ")
	if ctx.Err() == nil {
		if !ok || !strings.HasPrefix(v, "ID=") || path != "Path=/http-poll" {
			p.t.Fatalf("Set-Cookie = %q, want ID=<id>; Path=/http-poll", cookie)
		}
		if r.status != http.StatusOK {
			p.t.Fatalf("status %d, want 200 always (XEP-0025 §3)", r.status)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
			p.t.Fatalf("Content-Type %q, want text/xml", ct)
		}
	}
	r.id = strings.TrimPrefix(v, "ID=")
	if s := rec.Header().Get("X-Poll-Interval"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			p.t.Fatalf("X-Poll-Interval %q", s)
		}
		r.interval = n
	}
	return r
}

// open starts a session without keys and returns its identifier and
// upstream.
func (p *harness) open() (string, *upConn) {
	p.t.Helper()
	r := p.post("0," + clientHeader)
	if strings.HasSuffix(r.id, ":0") {
		p.t.Fatalf("first request answered %s: %s", r.id, r.body)
	}
	if r.body != serverHeader+serverFeatures {
		p.t.Fatalf("first answer %q, want the server's header and features", r.body)
	}
	u := p.nextUp()
	if u == nil {
		p.t.Fatal("no upstream opened")
	}
	return r.id, u
}

// logged reports whether a log entry at level or above contains text.
func (p *harness) logged(level logrus.Level, text string) bool {
	for _, e := range p.logs.AllEntries() {
		if e.Level <= level && strings.Contains(e.Message+" "+errText(e), text) {
			return true
		}
	}
	return false
}

func errText(e *logrus.Entry) string {
	if err, ok := e.Data[logrus.ErrorKey].(error); ok {
		return err.Error()
	}
	return ""
}

var errBoom = errors.New("boom")
