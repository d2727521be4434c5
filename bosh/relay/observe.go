package relay

import "time"

// Observer receives the events of every session of the registries and
// relays it is given to (WithObserver, Observed): the one place where
// metrics or tracing hook in, for every front end alike. transport is the
// registry's name for its front end (WithTransport). Methods are called
// from request, reader and writer goroutines, never under the registry's
// or a relay's lock (a front end may hold its session's), and must not
// block.
type Observer interface {
	// SessionCreated: a session was registered (Reservation.Commit).
	SessionCreated(transport string)
	// SessionEnded: a session was retired; condition is the front end's
	// name for why ("" for a clean end by the client).
	SessionEnded(transport, condition string)
	// UpstreamConnected: the upstream stream of a new session was opened
	// in d (dial, TLS, stream negotiation), reported by the front end.
	UpstreamConnected(transport string, d time.Duration)
	// Stanza: n bytes of stanzas went to the server in one write
	// (toServer), or one stanza of n bytes came from it, through a Relay.
	Stanza(transport string, toServer bool, n int)
}

// Option tunes a Registry beyond its limits (NewRegistry).
type Option func(*options)

type options struct {
	transport string
	newID     func() string
	obs       Observer
	exempt    func(addr string) bool
}

// WithTransport names the front end whose sessions the registry holds
// ("bosh", "xep-0025", "websocket"), for the Observer.
func WithTransport(name string) Option { return func(o *options) { o.transport = name } }

// WithIDs replaces NewID as the source of session IDs; it must return
// unguessable, URL-safe strings (e.g. a node-name prefix and NewID).
func WithIDs(newID func() string) Option { return func(o *options) { o.newID = newID } }

// WithObserver has o receive the registry's session events.
func WithObserver(o Observer) Option { return func(opt *options) { opt.obs = o } }

// WithExempt names the client addresses the per-address limit does not
// apply to: those for which exempt reports true (for instance loopback,
// where a local reverse proxy without trusted_proxies would otherwise make
// every user one address and the limit a cap on the whole service). They
// still count against the overall limit.
func WithExempt(exempt func(addr string) bool) Option {
	return func(opt *options) { opt.exempt = exempt }
}

// Transport returns the registry's transport name.
func (g *Registry[V]) Transport() string { return g.opt.transport }

// Observer returns the registry's observer, nil when none.
func (g *Registry[V]) Observer() Observer { return g.opt.obs }

// UpstreamConnected reports how long opening a session's upstream took.
func (g *Registry[V]) UpstreamConnected(d time.Duration) {
	if g.opt.obs != nil {
		g.opt.obs.UpstreamConnected(g.opt.transport, d)
	}
}

// Observed is the RelayOption that reports the relay's traffic to o
// under transport (pass the registry's: Observed(reg.Observer(),
// reg.Transport())). A nil o reports nothing.
func Observed(o Observer, transport string) RelayOption {
	return func(r *Relay) { r.obs, r.transport = o, transport }
}

// RelayOption tunes a Relay (NewRelay).
type RelayOption func(*Relay)
