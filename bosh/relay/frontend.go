package relay

import (
	"time"

	"github.com/sirupsen/logrus"
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
	// Log receives one entry per session event. Default: discard.
	Log logrus.FieldLogger
	// Observer, when set, receives every session's events (see Observer).
	Observer Observer
	// NewID, when set, makes the session IDs instead of NewID (WithIDs).
	NewID func() string
}

// RegistryOptions are the Options f asks of a front end's registry named
// transport.
func (f FrontEnd) RegistryOptions(transport string) []Option {
	opts := []Option{WithTransport(transport)}
	if f.Observer != nil {
		opts = append(opts, WithObserver(f.Observer))
	}
	if f.NewID != nil {
		opts = append(opts, WithIDs(f.NewID))
	}
	return opts
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
