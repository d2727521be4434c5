package websocket

import (
	"context"

	"boshd/bosh/session"
	"boshd/xmppconn"
)

// This file is the WebSocket front end's only use of the session core: the
// shared allowlist and dialer (session.Domains) and the upstream relay
// (session.Relay). The registry and its limits are used in handler.go.

// upstream is what a WebSocket session needs of its server side;
// *session.Relay is the real one.
type upstream interface {
	Take() ([]xmppconn.Element, error)
	Send(p []byte) error
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
func (h *Handler) resolve(o Open) (session.Target, error) {
	return h.config().Domains.Resolve(o.To, "")
}

// openRelay opens the upstream stream for a checked target and starts
// relaying it; wake is called whenever the server sent something or the
// stream ended.
func (h *Handler) openRelay(ctx context.Context, t session.Target, o Open, wake func()) (opened, error) {
	ctx, cancel := context.WithTimeout(ctx, h.config().DialTimeout)
	defer cancel()
	stream, err := h.config().Domains.Open(ctx, t, o.From, o.Lang, o.Version)
	if err != nil {
		return opened{}, err
	}
	return opened{
		up:       session.NewRelay(stream, h.config().MaxQueueBytes, wake, h.config().Metrics),
		header:   stream.Header(),
		features: stream.Features(),
	}, nil
}
