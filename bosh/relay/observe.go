package relay

import "time"

// Observer receives the events of every session of the registries and
// relays it is given to (WithObserver, Observed): the one place where
// metrics or tracing hook in, for every front end alike (package metrics'
// Observer counts every session series of the operators' contract from
// these events alone). transport is the registry's name for its front end
// (WithTransport). Methods are called from request, reader and writer
// goroutines, never under the registry's or a relay's lock (a front end
// may hold its session's), and must not block.
type Observer interface {
	// SessionCreated: a registered session's upstream stream to domain is
	// open (Registry.Opened): from now on it is a live session.
	SessionCreated(transport, domain string)
	// SessionEnded: a session SessionCreated announced was retired;
	// condition is why, in the terms every front end shares (Ending.Reason:
	// an XEP-0124 §17.2 condition, "terminate" for the client's own end,
	// "inactivity" for a timeout).
	SessionEnded(transport, domain, condition string)
	// UpstreamConnected: the upstream stream of a new session was opened
	// in d (dial, TLS, stream negotiation), reported by the front end.
	UpstreamConnected(transport string, d time.Duration)
	// Stanzas: count stanzas of n bytes in all went to the server in one
	// write (toServer), or came from it, through a Relay.
	Stanzas(transport string, toServer bool, count, n int)
	// Held: a request began (delta +1) or ended (-1) waiting for data to
	// answer it (XEP-0124 §8, XEP-0025's held poll), reported by the front
	// end through Registry.Held.
	Held(transport string, delta int)
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

// Held reports a request that began (delta +1) or ended (-1) waiting for
// data (Observer.Held).
func (g *Registry[V]) Held(delta int) {
	if g.opt.obs != nil {
		g.opt.obs.Held(g.opt.transport, delta)
	}
}

// HeldEnded is Held(-1), as a func() for a parked request's done.
func (g *Registry[V]) HeldEnded() { g.Held(-1) }

// Observed is the RelayOption that reports the relay's traffic to o
// under transport (pass the registry's: Observed(reg.Observer(),
// reg.Transport())). A nil o reports nothing.
func Observed(o Observer, transport string) RelayOption {
	return func(r *Relay) { r.obs, r.transport = o, transport }
}

// RelayOption tunes a Relay (NewRelay).
type RelayOption func(*Relay)
