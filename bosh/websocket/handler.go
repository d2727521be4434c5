package websocket

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	ws "github.com/coder/websocket"

	"boshd/bosh/relay"
)

// Handler is the RFC 7395 endpoint: an http.Handler that upgrades a
// request to a WebSocket in the 'xmpp' subprotocol and relays the XMPP
// stream on it to the configured servers, over the same session core
// (allowlist, dialer, limits) as the BOSH front end.
type Handler struct {
	// cfg is the configuration in force (New, then each Reload); a session
	// reads it through config() when it needs a setting.
	cfg atomic.Pointer[Config]
	reg *relay.Registry[*Session]

	// stop is cancelled by Shutdown, so that upstream dials and clients
	// that have not sent their <open/> yet give up.
	stop     context.Context
	stopDial context.CancelFunc

	// mu guards the fields below: the connections being served (each is a
	// ServeHTTP call that hijacked its connection, which http.Server's own
	// Shutdown no longer waits for).
	mu      sync.Mutex
	closing bool
	active  int
	idle    chan struct{} // closed when active drops to 0 while closing
}

// New returns a Handler for cfg (see Config for the defaults).
func New(cfg Config) *Handler {
	cfg = cfg.withDefaults()
	if cfg.Domains == nil {
		panic("websocket: Config.Domains is required")
	}
	h := &Handler{reg: relay.NewRegistry[*Session](cfg.MaxSessions, cfg.MaxSessionsPerAddress, cfg.Counter, cfg.RegistryOptions(Transport)...)}
	h.cfg.Store(&cfg)
	h.stop, h.stopDial = context.WithCancel(context.Background())
	return h
}

// Transport is the WebSocket front end's name for relay.Observer events
// and the "websocket" label of boshd's metrics.
const Transport = "websocket"

// Sessions returns the number of live sessions.
func (h *Handler) Sessions() int { return h.reg.Len() }

// Drain refuses new sessions while the sessions already open go on until
// they end or Shutdown ends them: a client whose <open/> comes now gets a
// system-shutdown stream error, or, when Config.SeeOtherURI is set, a
// <close see-other-uri/> (RFC 7395 §3.6.1) naming where to reconnect.
func (h *Handler) Drain() { h.reg.Drain() }

// infoPage is what a request that is not a WebSocket handshake gets.
const infoPage = "boshd: this is an XMPP over WebSocket endpoint (RFC 7395); connect with a WebSocket client in the 'xmpp' subprotocol\n"

// ServeHTTP checks the handshake (RFC 7395 §3.1: the 'xmpp' subprotocol;
// the page's Origin against Config.Origins), upgrades the connection and
// serves one session on it until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		http.Error(w, infoPage, http.StatusUpgradeRequired)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !h.originAllowed(origin) {
		h.config().Log.WithField("remote", r.RemoteAddr).WithField("origin", origin).Info("websocket refused: origin not allowed")
		http.Error(w, "boshd: origin not allowed", http.StatusForbidden)
		return
	}
	if !headerHasToken(r.Header, "Sec-WebSocket-Protocol", Subprotocol) {
		http.Error(w, "boshd: the 'xmpp' WebSocket subprotocol is required (RFC 7395 §3.1)", http.StatusBadRequest)
		return
	}
	if !h.enter() {
		http.Error(w, "boshd: shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.leave()
	conn, err := ws.Accept(w, r, &ws.AcceptOptions{
		Subprotocols: []string{Subprotocol},
		// The origin was checked above, against the same list as CORS.
		InsecureSkipVerify: true,
		// permessage-deflate would cost a compressor per connection;
		// XMPP stanzas are small.
		CompressionMode: ws.CompressionDisabled,
	})
	if err != nil {
		h.config().Log.WithField("remote", r.RemoteAddr).WithError(err).Info("websocket handshake failed")
		return
	}
	conn.SetReadLimit(h.config().MaxBodyBytes)
	addr := relay.ClientAddr(r.RemoteAddr, r.Header.Get("X-Forwarded-For"), h.config().ClientAddr)
	newSession(h, conn, addr).serve()
}

// originAllowed reports whether a page on origin may open a WebSocket.
func (h *Handler) originAllowed(origin string) bool {
	if len(h.config().Origins) == 0 {
		return true
	}
	for _, o := range h.config().Origins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// headerHasToken reports whether a comma-separated header lists token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// enter counts a connection being served, unless Shutdown has begun.
func (h *Handler) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.active++
	return true
}

// leave ends what enter counted.
func (h *Handler) leave() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active--
	if h.active == 0 && h.idle != nil {
		close(h.idle)
		h.idle = nil
	}
}

// drained returns a channel closed once no connection is served.
func (h *Handler) drained() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.active == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if h.idle == nil {
		h.idle = make(chan struct{})
	}
	return h.idle
}

// Shutdown refuses new connections, ends every session (RFC 7395 §3.6: a
// system-shutdown stream error and <close/>, or <close see-other-uri/>
// when Config.SeeOtherURI is set, then the WebSocket closing handshake),
// closes every upstream stream, and waits for all that, or for ctx.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.stopDial()
	for _, s := range h.reg.Close() {
		s.shutdown()
	}
	select {
	case <-h.drained():
	case <-ctx.Done():
		return fmt.Errorf("websocket: shutdown: %w", ctx.Err())
	}
	// Every session has retired its upstream stream; wait for them to close.
	if err := h.reg.Shutdown(ctx, func(*Session) {}); err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	return nil
}
