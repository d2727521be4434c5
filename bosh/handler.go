package bosh

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
	"boshd/bosh/internal/held"
	"boshd/bosh/relay"
)

// Handler is the BOSH endpoint: an http.Handler that serves XEP-0124
// sessions carrying XMPP (XEP-0206) to the configured servers.
type Handler struct {
	cfg   atomic.Pointer[Config] // see reload.go
	reg   *relay.Registry[*Session]
	shell *endpoint.Shell
	held  *held.Front // takes held requests' connections over (hold.go)
	// streamKey derives the sessions' first stream names (streams.go).
	streamKey []byte
}

// New returns a Handler for cfg (see Config for the defaults).
func New(cfg Config) *Handler {
	cfg = cfg.withDefaults()
	if cfg.Domains == nil {
		panic("bosh: Config.Domains is required")
	}
	h := &Handler{
		reg:  relay.NewRegistry[*Session](cfg.MaxSessions, cfg.MaxSessionsPerAddress, cfg.Counter, cfg.RegistryOptions(Transport)...),
		held: held.New(),
		// 256 random bits.
		streamKey: []byte(relay.NewID() + relay.NewID()),
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

// Sessions returns the number of live sessions.
func (h *Handler) Sessions() int { return h.reg.Len() }

// Transport is the BOSH front end's name for relay.Observer events.
const Transport = "bosh"

// Drain refuses new sessions with system-shutdown (XEP-0124 §17.2: the
// client may reconnect, and a load balancer sends it to another process)
// while the sessions already open go on until they end or Shutdown ends
// them (relay.Registry.Drain).
func (h *Handler) Drain() { h.reg.Drain() }

// Shutdown refuses new sessions, answers every held request with
// system-shutdown (XEP-0124 §17.2), those parked on taken-over connections
// (hold.go) included, cancels the upstream dials of sessions being created
// (answered system-shutdown too), closes every upstream stream and waits
// for that and for the parked answers to be written, or for ctx. Call it
// before http.Server.Shutdown, which does not know about held requests.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.held.BeginShutdown()
	err := h.reg.Shutdown(ctx, (*Session).shutdown)
	if herr := h.held.Shutdown(ctx); err == nil {
		err = herr
	}
	if err != nil {
		return fmt.Errorf("bosh: %w", err)
	}
	return nil
}

// infoPage is what a GET on the endpoint shows a person.
const infoPage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>boshd</title></head>
<body><h1>boshd</h1>
<p>This is an XMPP over BOSH endpoint (XEP-0124, XEP-0206).
Point a web chat client (Strophe.js, Converse.js) at this URL; it talks to it with POST requests.</p>
</body></html>
`

// ServeHTTP answers one HTTP request (XEP-0124 §5) through the shell every
// front end shares (package endpoint): recovery, info page, CORS, methods,
// size-limited body; the binding itself is protocol.ServePost.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.shell.ServeHTTP(w, r)
}

// protocol is the Handler as the shell sees it (endpoint.Protocol), so
// that those methods stay out of the Handler's API.
type protocol Handler

// sessionPanic carries a panic out of a session, after the session has
// been ended, to the shell's recovery, with what the answer needs.
type sessionPanic struct {
	v      any
	legacy bool
}

func (p sessionPanic) String() string { return fmt.Sprint(p.v) }

// Panicked answers a request whose handling panicked: the session, if
// any, has been ended with internal-server-error.
func (p *protocol) Panicked(w http.ResponseWriter, r *http.Request, v any) {
	sp, _ := v.(sessionPanic)
	writeAnswer(w, (*Handler)(p).compression(r, endpoint.AllEncodings), "", terminalAnswer(InternalServerError, sp.legacy, "", nil))
}

// RefuseBody answers a request whose body never arrived whole: there is
// no <body/> to answer, so an HTTP error (XEP-0124 §17.1 uses HTTP errors
// for requests it cannot read).
func (p *protocol) RefuseBody(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, endpoint.ErrBodyTooLarge) {
		http.Error(w, "boshd: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	(*Handler)(p).config().LogRequest(logrus.DebugLevel, r.RemoteAddr, err, "request body not read")
	http.Error(w, "boshd: incomplete request body", http.StatusBadRequest)
}

// ServePost answers one <body/> (XEP-0124 §5).
func (p *protocol) ServePost(w http.ResponseWriter, r *http.Request, raw []byte) {
	h := (*Handler)(p)
	var s *Session
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler || s == nil {
				panic(v)
			}
			s.mu.Lock()
			s.end(InternalServerError, fmt.Errorf("panic: %v", v), nil)
			legacy := s.legacy
			s.mu.Unlock()
			panic(sessionPanic{v: v, legacy: legacy})
		}
	}()
	raw, decoded := h.decodeRequest(w, r, raw)
	if !decoded {
		return
	}
	b, err := ParseBody(raw)
	if err != nil {
		h.config().LogRequest(logrus.DebugLevel, r.RemoteAddr, err, "malformed request")
		writeAnswer(w, h.compression(r, endpoint.AllEncodings), "", terminalAnswer(BadRequest, false, "", nil))
		return
	}
	ridText, hasRID := b.Get("rid")
	rid, ridErr := strconv.ParseUint(ridText, 10, 64)
	sid, hasSID := b.Get("sid")
	if !hasSID {
		if !hasRID || ridErr != nil || rid > maxRID {
			_, hasVer := b.Get("ver")
			writeAnswer(w, h.compression(r, endpoint.AllEncodings), "", terminalAnswer(BadRequest, !hasVer, "", nil))
			return
		}
		a := h.create(r.Context(), b, rid, relay.ClientAddr(r.RemoteAddr, r.Header.Get("X-Forwarded-For"), h.config().ClientAddr))
		writeAnswer(w, h.compression(r, encodingsOf(b)), contentType(b), a)
		return
	}

	s, ok := h.reg.Get(sid)
	if !ok {
		writeAnswer(w, h.compression(r, endpoint.AllEncodings), "", terminalAnswer(ItemNotFound, false, "", nil))
		return
	}
	if !hasRID || ridErr != nil || rid > maxRID {
		s.mu.Lock()
		s.end(BadRequest, fmt.Errorf("rid %q", ridText), nil)
		a := s.terminalAnswer(BadRequest, nil)
		s.mu.Unlock()
		writeAnswer(w, h.compression(r, s.encodings), s.content, a)
		return
	}
	c := h.compression(r, s.encodings)
	req, a, dials := s.handle(b, rid)
	if dials != nil {
		// Not on this goroutine: its own answer may be ready now.
		s.h.reg.Background(func() { s.addStreams(dials) })
	}
	if a != nil {
		writeAnswer(w, c, s.content, *a)
		return
	}
	if h.park(w, r, c, s, req) {
		return
	}
	writeAnswer(w, c, s.content, s.await(r.Context(), req))
}

// await waits for req's answer: data for the client, its 'wait' running
// out, or the client going away (XEP-0124 §8).
func (s *Session) await(ctx context.Context, req *request) answer {
	select {
	case a := <-req.answer:
		return a
	default:
	}
	step := s.holdStep()
	s.h.reg.Held(+1)
	defer s.h.reg.HeldEnded()
	t := time.NewTimer(step)
	defer t.Stop()
	for {
		select {
		case a := <-req.answer:
			return a
		case <-t.C:
			s.expire(req)
			t.Reset(step)
		case <-ctx.Done():
			s.abandon(req)
			return answer{}
		}
	}
}

// holdStep is how long a request is held before expire: the session's
// 'wait'. In a session with wait='0' nothing is held, but a request that
// came ahead of its turn still waits for the missing rid: give it the
// inactivity period per round instead of none at all.
func (s *Session) holdStep() time.Duration {
	if s.wait <= 0 {
		return s.inactivity
	}
	return s.wait
}

// writeAnswer writes a complete answer: always with Content-Length (no
// chunking, which intermediaries buffer, §5), never cacheable, with the
// session's 'content' as Content-Type (§7.1), compressed as c chooses (§5).
func writeAnswer(w http.ResponseWriter, c endpoint.Compression, contentType string, a answer) {
	if a.body == nil {
		return // the client has gone
	}
	body := answerHeader(w.Header(), c, contentType, a)
	w.WriteHeader(a.httpStatus())
	w.Write(body)
}

// answerHeader sets the header fields of an answer on hdr and returns the
// bytes to send (a.body, or compressed: c.Apply), for writeAnswer and
// for an answer on a taken-over connection (hold.go), so that both send
// the same. The shell's fields (CORS, Vary, Cache-Control) are already in
// hdr on both paths: held.Front.Take keeps w.Header().
func answerHeader(hdr http.Header, c endpoint.Compression, contentType string, a answer) []byte {
	if contentType == "" {
		contentType = "text/xml; charset=utf-8"
	}
	hdr.Set("Content-Type", contentType)
	body := c.Apply(hdr, a.body)
	endpoint.NoCache(hdr)
	if a.pollSeconds > 0 {
		hdr.Set("X-Poll-Interval", strconv.Itoa(a.pollSeconds))
	}
	return body
}
