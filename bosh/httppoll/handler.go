package httppoll

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/endpoint"
	"boshd/bosh/relay"
)

// Handler is the XEP-0025 endpoint: an http.Handler that serves HTTP
// Polling sessions to the configured XMPP servers, over the same session
// core (domains, dialer, limits) as the BOSH front end.
type Handler struct {
	cfg atomic.Pointer[Config] // see reload.go
	reg *relay.Registry[*Session]

	shell *endpoint.Shell
}

// New returns a Handler for cfg (see Config for the defaults).
func New(cfg Config) *Handler {
	cfg = cfg.withDefaults()
	if cfg.Domains == nil {
		panic("httppoll: Config.Domains is required")
	}
	h := &Handler{
		reg: relay.NewRegistry[*Session](cfg.MaxSessions, cfg.MaxSessionsPerAddress, cfg.Counter, cfg.RegistryOptions(Transport)...),
	}
	h.cfg.Store(&cfg)
	h.shell = endpoint.New(shellConfig(&cfg), (*protocol)(h))
	return h
}

// shellConfig is what the HTTP shell takes of cfg.
func shellConfig(cfg *Config) endpoint.Config {
	return endpoint.Config{
		InfoPage:     infoPage,
		CORSOrigins:  cfg.CORSOrigins,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Log:          cfg.Log,
	}
}

// Transport is the XEP-0025 front end's name for relay.Observer events.
const Transport = "xep-0025"

// Sessions returns the number of live sessions.
func (h *Handler) Sessions() int { return h.reg.Len() }

// Drain refuses new sessions (with the §3.1.2 server error and a
// system-shutdown stream error) while the sessions already open go on
// until they end or Shutdown ends them (relay.Registry.Drain).
func (h *Handler) Drain() { h.reg.Drain() }

// Shutdown refuses new sessions, answers a held poll of every session with
// a system-shutdown stream error (RFC 6120 §4.9.3.17), closes every
// upstream stream and waits for that, or for ctx. Call it before
// http.Server.Shutdown, which does not know about held requests.
func (h *Handler) Shutdown(ctx context.Context) error {
	if err := h.reg.Shutdown(ctx, (*Session).shutdown); err != nil {
		return fmt.Errorf("httppoll: %w", err)
	}
	return nil
}

// infoPage is what a GET on the endpoint shows a person.
const infoPage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>boshd</title></head>
<body><h1>boshd</h1>
<p>This is an XMPP HTTP Polling endpoint (XEP-0025), the fallback for clients that cannot hold a request open.
Clients talk to it with POST requests.</p>
</body></html>
`

// ServeHTTP answers one HTTP request (XEP-0025 §3) through the shell every
// front end shares (package endpoint): recovery, info page, CORS, methods,
// size-limited body; XEP-0025 itself is protocol.ServePost.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.shell.ServeHTTP(w, r)
}

// protocol is the Handler as the shell sees it (endpoint.Protocol), so
// that those methods stay out of the Handler's API.
type protocol Handler

// Panicked answers a request that panicked outside a session's bytes (a
// panic there ends the session, see Session.feedSafely).
func (p *protocol) Panicked(w http.ResponseWriter, r *http.Request, v any) {
	h := (*Handler)(p)
	h.write(w, h.compression(r), answer{id: IDServerError})
}

// RefuseBody answers a body that was too large or cut short: §3 answers
// every request with 200; the client learns of the problem from the ID.
func (p *protocol) RefuseBody(w http.ResponseWriter, r *http.Request, err error) {
	h := (*Handler)(p)
	h.config().LogRequest(logrus.InfoLevel, r.RemoteAddr, err, "request refused")
	h.write(w, h.compression(r), answer{id: IDBadRequest})
}

// compression is how answers to r are compressed: the configured switch
// and threshold, every coding (XEP-0025 negotiates none), r's
// Accept-Encoding. Every answer goes through it, so that every answer
// carries Vary while compression is on.
func (h *Handler) compression(r *http.Request) endpoint.Compression {
	c := h.config()
	return endpoint.Compression{On: c.Compression, MinBytes: c.CompressionMinBytes, Allowed: endpoint.AllEncodings}.For(r)
}

// ServePost answers one id;key,xml request (XEP-0025 §3).
func (p *protocol) ServePost(w http.ResponseWriter, r *http.Request, body []byte) {
	h := (*Handler)(p)
	c := h.compression(r)
	req, err := ParseRequest(body)
	if err != nil {
		h.config().LogRequest(logrus.DebugLevel, r.RemoteAddr, err, "malformed request")
		h.write(w, c, answer{id: IDBadRequest})
		return
	}
	if req.ID == "0" {
		h.write(w, c, h.create(r.Context(), req, relay.ClientAddr(r.RemoteAddr, r.Header.Get("X-Forwarded-For"), h.config().ClientAddr)))
		return
	}
	var s *Session
	regID, ok := registryID(req.ID)
	if ok {
		s, ok = h.reg.Get(regID)
	}
	if !ok {
		h.write(w, c, answer{id: IDUnknown})
		return
	}
	if a, ok := s.serve(r.Context(), req, false); ok {
		h.write(w, c, a)
	}
}

// create opens a session for a request with identifier 0 (XEP-0025 §4 step
// 2). The upstream stream is opened as soon as the client's stream header
// is complete, normally in this very request.
func (h *Handler) create(ctx context.Context, req Request, addr string) answer {
	log := h.config().Log.WithField("remote", addr)
	if h.reg.Closed() {
		log.Info("session refused: shutting down")
		return answer{id: IDServerError, body: refusalDocument("system-shutdown", "boshd is shutting down")}
	}
	res, err := h.reg.Reserve(addr)
	if errors.Is(err, relay.ErrDraining) {
		log.WithError(err).Info("session refused")
		return answer{id: IDServerError, body: refusalDocument("system-shutdown", "this node is not accepting new sessions")}
	}
	if err != nil {
		log.WithError(err).Info("session refused")
		return answer{id: IDServerError, body: refusalDocument("policy-violation", "too many sessions")}
	}
	s := newSession(h, req, addr)
	regID, err := res.Commit(s)
	if err != nil {
		log.WithError(err).Info("session refused")
		return answer{id: IDServerError, body: refusalDocument("system-shutdown", "boshd is shutting down")}
	}
	// Under the lock: the session is in the registry now, where Shutdown
	// can reach it.
	s.mu.Lock()
	s.regID, s.id = regID, wireID(regID)
	s.mu.Unlock()
	a, _ := s.serve(ctx, req, true)
	return a
}

// answer is what one request gets: the identifier for the ID cookie, the
// stream bytes, and for a live session the current poll interval.
type answer struct {
	id       string
	body     []byte
	interval time.Duration
}

// write sends an answer as XEP-0025 §3 asks: always 200, text/xml, the ID
// cookie scoped to the endpoint's path; and boshd's advised poll interval
// in whole seconds, rounded up. It is compressed as c chooses (the same
// function as BOSH answers; XEP-0025 says nothing against it: answers are
// ordinary HTTP responses).
func (h *Handler) write(w http.ResponseWriter, c endpoint.Compression, a answer) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/xml; charset=utf-8")
	body := c.Apply(hdr, a.body)
	endpoint.NoCache(hdr)
	hdr.Set("Set-Cookie", "ID="+a.id+"; Path="+h.config().Path)
	if a.interval > 0 {
		hdr.Set("X-Poll-Interval", strconv.FormatInt(endpoint.Seconds(a.interval), 10))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
