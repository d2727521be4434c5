package websocket

import (
	"context"
	"time"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// This file is the WebSocket front end's only use of the session core: the
// shared allowlist and dialer (relay.Domains) and the upstream relay
// (relay.Relay). The registry and its limits are used in handler.go.

// upstream is what a WebSocket session needs of its server side;
// *relay.Relay is the real one.
type upstream interface {
	Take() ([]xmppconn.Element, error)
	Send(p []byte, stanzas int) error
	Restart() error
	Close()
}

// opened is an upstream stream ready for the client: the server's header
// and first features (without <starttls/>, which boshd has negotiated).
type opened struct {
	up       upstream
	header   xmppconn.Header
	features []byte
}

// resolve checks the domain an <open/> names against the allowlist.
func (h *Handler) resolve(o Open) (relay.Target, error) {
	return h.config().Domains.Resolve(o.To, "")
}

// openRelay opens the upstream stream for a checked target and starts
// relaying it; wake is called whenever the server sent something or the
// stream ended.
func (h *Handler) openRelay(ctx context.Context, t relay.Target, o Open, wake func()) (opened, error) {
	ctx, cancel := h.reg.DialContext(ctx, h.config().DialTimeout)
	defer cancel()
	start := time.Now()
	stream, err := h.config().Domains.Open(ctx, t, o.From, o.Lang, o.Version)
	if err != nil {
		return opened{}, err
	}
	h.reg.UpstreamConnected(time.Since(start))
	return opened{
		up:       relay.NewRelay(stream, h.config().MaxQueueBytes, wake, relay.Observed(h.reg.Observer(), h.reg.Transport())),
		header:   stream.Header(),
		features: stream.Features(),
	}, nil
}
