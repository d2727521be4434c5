package bosh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"boshd/bosh/internal/held"
	"boshd/bosh/session"
)

// Handler is the BOSH endpoint: an http.Handler that serves XEP-0124
// sessions carrying XMPP (XEP-0206) to the configured servers.
type Handler struct {
	cfg     Config
	reg     *session.Registry[*Session]
	held    *held.Front // takes held requests' connections over (hold.go)
	closing atomic.Bool
}

// New returns a Handler for cfg (see Config for the defaults).
func New(cfg Config) *Handler {
	cfg = cfg.withDefaults()
	if cfg.Domains == nil {
		panic("bosh: Config.Domains is required")
	}
	return &Handler{
		cfg:  cfg,
		reg:  session.NewRegistry[*Session](cfg.MaxSessions, cfg.MaxSessionsPerAddress, cfg.Counter),
		held: held.New(),
	}
}

// Sessions returns the number of live sessions.
func (h *Handler) Sessions() int { return h.reg.Len() }

// retire forgets an ended session and closes its upstream stream in the
// background. Called with s.mu held.
func (h *Handler) retire(s *Session) {
	var stop func()
	if s.relay != nil {
		stop = s.relay.Close
	}
	h.reg.Retire(s.id, stop)
}

// Shutdown refuses new sessions, answers every held request with
// system-shutdown (XEP-0124 §17.2), closes every upstream stream and waits
// for that, or for ctx. Call it before http.Server.Shutdown, which does not
// know about held requests.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.closing.Store(true)
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

// ServeHTTP answers one HTTP request (XEP-0124 §5).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var s *Session
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.cfg.Log.WithField("panic", fmt.Sprint(v)).WithField("stack", string(debug.Stack())).Error("request panicked")
			var a answer
			if s != nil {
				s.mu.Lock()
				s.end(InternalServerError, fmt.Errorf("panic: %v", v), nil)
				a = s.terminalAnswer(InternalServerError, nil)
				s.mu.Unlock()
			} else {
				a = (&Session{}).terminalAnswer(InternalServerError, nil)
			}
			writeAnswer(w, "", a)
		}
	}()
	// Nothing the endpoint answers may be cached, HTTP errors included
	// (a 405 is cacheable by default, RFC 9110 §15.5.6).
	w.Header().Set("Cache-Control", "no-store")
	if h.cors(w, r) {
		return
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(infoPage)))
		if r.Method == http.MethodGet {
			io.WriteString(w, infoPage)
		}
		return
	case http.MethodOptions:
		w.Header().Set("Allow", "POST, GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "POST, GET, HEAD, OPTIONS")
		http.Error(w, "boshd: method not allowed; BOSH uses POST", http.StatusMethodNotAllowed)
		return
	}

	raw, err := h.readBody(w, r)
	if err != nil {
		// The request never arrived whole, so there is no <body/> to
		// answer: an HTTP error, the connection closed after it.
		w.Header().Set("Connection", "close")
		if errors.Is(err, errBodyTooLarge) {
			http.Error(w, "boshd: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		h.cfg.Log.WithField("remote", r.RemoteAddr).WithError(err).Debug("request body not read")
		http.Error(w, "boshd: incomplete request body", http.StatusBadRequest)
		return
	}
	b, err := ParseBody(raw)
	if err != nil {
		h.cfg.Log.WithField("remote", r.RemoteAddr).WithError(err).Debug("malformed request")
		writeAnswer(w, "", (&Session{}).terminalAnswer(BadRequest, nil))
		return
	}
	ridText, hasRID := b.Get("rid")
	rid, ridErr := strconv.ParseUint(ridText, 10, 64)
	sid, hasSID := b.Get("sid")
	if !hasSID {
		if !hasRID || ridErr != nil || rid > maxRID {
			_, hasVer := b.Get("ver")
			writeAnswer(w, "", (&Session{legacy: !hasVer}).terminalAnswer(BadRequest, nil))
			return
		}
		a := h.create(r.Context(), b, rid, session.ClientAddr(r.RemoteAddr, r.Header.Get("X-Forwarded-For"), h.cfg.ClientAddr))
		writeAnswer(w, contentType(b), a)
		return
	}

	s, ok := h.reg.Get(sid)
	if !ok {
		writeAnswer(w, "", (&Session{}).terminalAnswer(ItemNotFound, nil))
		return
	}
	if !hasRID || ridErr != nil || rid > maxRID {
		s.mu.Lock()
		s.end(BadRequest, fmt.Errorf("rid %q", ridText), nil)
		a := s.terminalAnswer(BadRequest, nil)
		s.mu.Unlock()
		writeAnswer(w, s.content, a)
		return
	}
	req, a := s.handle(b, rid)
	if a != nil {
		writeAnswer(w, s.content, *a)
		return
	}
	if h.park(w, r, s, req) {
		return
	}
	writeAnswer(w, s.content, s.await(r.Context(), req))
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
	t := time.NewTimer(step)
	defer t.Stop()
	for expiries := 0; ; {
		select {
		case a := <-req.answer:
			return a
		case <-t.C:
			expiries++
			s.expire(req, expiries)
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

// errBodyTooLarge is a request body over Config.MaxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")

// readBody reads the request body, refusing one over the limit before
// reading it whole.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	max := h.cfg.MaxBodyBytes
	if r.ContentLength > max {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", errBodyTooLarge, r.ContentLength, max)
	}
	n := r.ContentLength
	if n < 0 || n > 64<<10 {
		n = 512
	}
	buf := make([]byte, 0, n+1)
	lr := io.LimitReader(r.Body, max+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: the limit is %d bytes", errBodyTooLarge, max)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading request body: %w", err)
		}
	}
}

// writeAnswer writes a complete answer: always with Content-Length (no
// chunking, which intermediaries buffer, §5), never cacheable, with the
// session's 'content' as Content-Type (§7.1).
func writeAnswer(w http.ResponseWriter, contentType string, a answer) {
	if a.body == nil {
		return // the client has gone
	}
	answerHeader(w.Header(), contentType, a)
	w.WriteHeader(a.httpStatus())
	w.Write(a.body)
}

// answerHeader sets the header fields of an answer on hdr, for
// writeAnswer and for an answer on a taken-over connection.
func answerHeader(hdr http.Header, contentType string, a answer) {
	if contentType == "" {
		contentType = "text/xml; charset=utf-8"
	}
	hdr.Set("Content-Type", contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(a.body)))
	hdr.Set("Cache-Control", "no-store, no-cache, must-revalidate")
	hdr.Set("Pragma", "no-cache")
	if a.pollSeconds > 0 {
		hdr.Set("X-Poll-Interval", strconv.Itoa(a.pollSeconds))
	}
}
