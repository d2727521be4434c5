package httppoll

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// What the scripted server says when a stream opens.
const (
	serverHeader   = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.com' version='1.0'>"
	serverFeatures = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	clientHeader   = "<?xml version='1.0'?><stream:stream to='example.com' from='alice@example.com' xml:lang='en' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
)

// fakeUp is a scripted upstream: the test pushes what the server sends and
// reads what boshd forwarded. It behaves as relay.Relay does (bounded
// queue, activity time, end reported after the queued elements), without a
// socket, so that it runs inside a synctest bubble.
type fakeUp struct {
	wake     func()
	maxQueue int
	hdr      xmppconn.Header

	mu       sync.Mutex
	queue    []xmppconn.Element
	qbytes   int
	err      error
	last     time.Time
	sent     []byte
	restarts int
	closed   bool
}

func (f *fakeUp) push(kind xmppconn.Kind, raw string) {
	f.mu.Lock()
	if f.err != nil {
		f.mu.Unlock()
		return
	}
	if f.maxQueue > 0 && f.qbytes+len(raw) > f.maxQueue {
		f.err = relay.ErrQueueFull
	} else {
		f.queue = append(f.queue, xmppconn.Element{Kind: kind, Raw: []byte(raw)})
		f.qbytes += len(raw)
		if kind == xmppconn.KindStanza {
			f.last = time.Now()
		}
	}
	f.mu.Unlock()
	f.wake()
}

// stanza pushes a stanza from the server.
func (f *fakeUp) stanza(raw string) { f.push(xmppconn.KindStanza, raw) }

// end has the server's stream end with err after what is queued.
func (f *fakeUp) end(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	f.wake()
}

func (f *fakeUp) Take() ([]xmppconn.Element, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queue
	f.queue, f.qbytes = nil, 0
	return q, f.err
}

func (f *fakeUp) Pending() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue) > 0 || f.err != nil
}

func (f *fakeUp) Send(p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, p...)
	return nil
}

func (f *fakeUp) Restart() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts++
	return f.err
}

func (f *fakeUp) LastStanza() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeUp) NoteClientStanza() {
	f.mu.Lock()
	f.last = time.Now()
	f.mu.Unlock()
}

func (f *fakeUp) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.err == nil {
		f.err = relay.ErrClosed
	}
}

// sentText returns and forgets what boshd forwarded so far.
func (f *fakeUp) sentText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := string(f.sent)
	f.sent = nil
	return s
}

func (f *fakeUp) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// harness is a Handler whose upstreams are fakeUps.
type harness struct {
	t    *testing.T
	h    *Handler
	logs *test.Hook
	// ups receives each upstream boshd opens.
	ups      chan *fakeUp
	openErr  error
	maxQueue int
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	cfg := Config{
		FrontEnd: relay.FrontEnd{
			Domains: &relay.Domains{Dialer: &xmppconn.Dialer{}, Served: []string{"example.com"}},
			Log:     log,
		},
		Path: "/http-poll",
		// Tests that idle for long set their own timeout.
		SessionTimeout: 24 * time.Hour,
	}
	if mod != nil {
		mod(&cfg)
	}
	p := &harness{t: t, h: New(cfg), logs: hook, ups: make(chan *fakeUp, 16)}
	p.h.open = func(ctx context.Context, target relay.Target, sh xmppconn.Header, wake func()) (opened, error) {
		if p.openErr != nil {
			return opened{}, p.openErr
		}
		f := &fakeUp{wake: wake, maxQueue: p.maxQueue, hdr: sh, last: time.Now()}
		p.ups <- f
		return opened{up: f, header: []byte(serverHeader), features: []byte(serverFeatures)}, nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return p
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
func (p *harness) open() (string, *fakeUp) {
	p.t.Helper()
	r := p.post("0," + clientHeader)
	if strings.HasSuffix(r.id, ":0") {
		p.t.Fatalf("first request answered %s: %s", r.id, r.body)
	}
	if r.body != serverHeader+serverFeatures {
		p.t.Fatalf("first answer %q, want the server's header and features", r.body)
	}
	select {
	case f := <-p.ups:
		return r.id, f
	default:
		p.t.Fatal("no upstream opened")
		return "", nil
	}
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
