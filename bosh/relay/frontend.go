package relay

import (
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/metrics"
)

// FrontEnd is the configuration both front ends, BOSH (package bosh) and
// XEP-0025 (package bosh/httppoll), share: the servers they may reach, the
// limits that protect those servers and boshd, and where they log. Each
// front end's Config embeds it, so that cmd/boshd fills it once.
type FrontEnd struct {
	// Domains is the allowlist of served domains and the upstream dialer.
	// Required.
	Domains *Domains
	// MaxBodyBytes limits a request body. Default 1 MiB.
	MaxBodyBytes int64
	// MaxSessions and MaxSessionsPerAddress limit the sessions at once
	// overall and per client address (0: no limit). Counter, when set, is
	// shared between front ends so that the limits cover them all.
	MaxSessions           int
	MaxSessionsPerAddress int
	Counter               *Counter
	// MaxQueueBytes bounds the upstream bytes waiting for a client, and
	// four times it the client's bytes waiting for a server that does not
	// read (NewRelay); more ends the session. Default 1 MiB.
	MaxQueueBytes int
	// DialTimeout bounds opening the upstream stream. Default 10s.
	DialTimeout time.Duration
	// ClientAddr returns the address a request counts against for the
	// per-address limit (see the function ClientAddr). Default: the host
	// of the connection's remote address.
	ClientAddr func(remoteAddr string, forwardedFor string) string
	// ExemptFromAddressLimit, when set, reports the client addresses (as
	// ClientAddr returns them) that MaxSessionsPerAddress does not apply
	// to (WithExempt). Default: none; cmd/boshd exempts loopback.
	ExemptFromAddressLimit func(addr string) bool
	// Node, when not empty, is the name of this process in a fleet; every
	// session ID starts with it (NodeIDs, through WithIDs, unless NewID is
	// set). Default "": IDs are the random part alone.
	Node string
	// Log receives one entry per session event. Default: discard.
	Log logrus.FieldLogger
	// Metrics is what /metrics and /status show; the registries count
	// into it through the Observer (metrics.Observer), Domains its connect
	// attempts. Default (nil): nothing is counted.
	Metrics *metrics.Metrics
	// Observer, when set, receives every session's events (see Observer).
	// Default: metrics.Observer(Metrics) when Metrics is set.
	Observer Observer
	// NewID, when set, makes the session IDs instead of NewID (WithIDs).
	NewID func() string
}

// RegistryOptions are the Options f asks of a front end's registry named
// transport.
func (f FrontEnd) RegistryOptions(transport string) []Option {
	opts := []Option{WithTransport(transport)}
	switch {
	case f.Observer != nil:
		opts = append(opts, WithObserver(f.Observer))
	case f.Metrics != nil:
		opts = append(opts, WithObserver(metrics.Observer(f.Metrics)))
	}
	if f.ExemptFromAddressLimit != nil {
		opts = append(opts, WithExempt(f.ExemptFromAddressLimit))
	}
	switch {
	case f.NewID != nil:
		opts = append(opts, WithIDs(f.NewID))
	case f.Node != "":
		opts = append(opts, WithIDs(NodeIDs(f.Node)))
	}
	return opts
}

// NodeIDs returns an ID source naming node in every ID: node + "." + a
// NewID ("n2.Xy…"), so that a load balancer can send a request to the
// process that holds its session with no shared state (XEP-0124 §7.2
// leaves the sid's form to the connection manager).
func NodeIDs(node string) func() string {
	return func() string { return node + "." + NewID() }
}

// Defaults of FrontEnd.
const (
	DefaultMaxBodyBytes  = 1 << 20
	DefaultMaxQueueBytes = 1 << 20
	DefaultDialTimeout   = 10 * time.Second
)

// WithDefaults returns f with every unset field at its default.
func (f FrontEnd) WithDefaults() FrontEnd {
	if f.MaxBodyBytes <= 0 {
		f.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if f.MaxQueueBytes <= 0 {
		f.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if f.DialTimeout <= 0 {
		f.DialTimeout = DefaultDialTimeout
	}
	if f.Log == nil {
		f.Log = DiscardLogger()
	}
	return f
}
