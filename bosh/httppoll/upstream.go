package httppoll

import (
	"context"
	"time"

	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// upstream is what a polling session needs of its server side.
// *relay.Relay is the only one; tests run it against bosh/internal/xmpptest
// and wrap it only to inject a panic.
type upstream interface {
	Take() ([]xmppconn.Element, error)
	Pending() bool
	Send(p []byte, stanzas int) error
	Restart() error
	LastStanza() time.Time
	NoteClientStanza()
	Close()
}

// opened is an upstream stream ready for the client: what the server said
// in its header and first features (without <starttls/>, which boshd has
// already negotiated per its policy).
type opened struct {
	up       upstream
	header   []byte
	features []byte
	secure   bool
}

// openRelay opens the upstream stream for a checked target through the
// shared dialer and relay; wake is called whenever the server sent
// something or the stream ended.
func (h *Handler) openRelay(ctx context.Context, t relay.Target, sh xmppconn.Header, wake func()) (opened, error) {
	start := time.Now()
	stream, err := h.config().Domains.Open(ctx, t, sh.From, sh.Lang, sh.Version)
	if err != nil {
		return opened{}, err
	}
	h.reg.UpstreamConnected(time.Since(start))
	return opened{
		up:       relay.NewRelay(stream, h.config().MaxQueueBytes, wake, relay.Observed(h.reg.Observer(), h.reg.Transport())),
		header:   stream.Header().Raw,
		features: stream.Features(),
		secure:   stream.Secure(),
	}, nil
}
