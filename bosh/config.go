package bosh

import (
	"time"

	"boshd/bosh/relay"
)

// Config tunes the binding. The zero value of every field is a sensible
// default, stated in its comment; cmd/boshd fills it from the TOML file.
type Config struct {
	// FrontEnd holds what both front ends share: domains, limits, the
	// client address rule and the logger.
	relay.FrontEnd

	// MaxWait caps the 'wait' a client may ask for (XEP-0124 §7.2).
	// Default 60s.
	MaxWait time.Duration
	// MaxHold caps 'hold', the requests held at once (XEP-0124 §7.2).
	// Default 1.
	MaxHold int
	// Inactivity is the longest time a session may have no request
	// pending before it is ended (XEP-0124 §10). Default 60s.
	Inactivity time.Duration
	// Polling is the shortest interval allowed between two empty polls
	// of a polling session (XEP-0124 §12). Default 2s.
	Polling time.Duration
	// MaxPause is the longest 'pause' allowed (XEP-0124 §10); negative
	// disables pausing. Default 120s.
	MaxPause time.Duration
	// PollInterval, when set, gives the interval advised to a polling
	// session that has been idle for the given time; nil advises nothing.
	// See package bosh/relay's adaptive interval policy.
	PollInterval func(idle time.Duration) time.Duration
	// MaxStreams bounds the XML streams of one session (XEP-0124 §16),
	// the first included; a session asking for more is refused the
	// extra stream with policy-violation. 1 turns multiple streams off:
	// creation responses name no stream and requests with 'to' are
	// ordinary empty requests (§16.3). Default 8.
	MaxStreams int
	// CORSOrigins lists the origins whose pages may call the binding; "*"
	// allows any. Empty: no CORS headers.
	CORSOrigins []string
	// Compression turns on gzip and deflate compression of answers for
	// requests that ask for it with Accept-Encoding (XEP-0124 §5,
	// compress.go). Default off: see compress.go for why (BREACH).
	Compression bool
	// CompressionMinBytes: answers shorter than this are never
	// compressed. Default 1024.
	CompressionMinBytes int

	// reportGrace replaces defaultReportGrace (acks.go) when positive:
	// tests set it to make an answer overdue without waiting a second.
	reportGrace time.Duration
}

// Defaults of Config, in one place.
const (
	DefaultMaxWait    = 60 * time.Second
	DefaultMaxHold    = 1
	DefaultInactivity = 60 * time.Second
	DefaultPolling    = 2 * time.Second
	DefaultMaxPause   = 120 * time.Second

	DefaultCompressionMinBytes = 1024
	DefaultMaxStreams          = 8
)

func (c Config) withDefaults() Config {
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxHold <= 0 {
		c.MaxHold = DefaultMaxHold
	}
	if c.Inactivity <= 0 {
		c.Inactivity = DefaultInactivity
	}
	if c.Polling <= 0 {
		c.Polling = DefaultPolling
	}
	if c.MaxPause == 0 {
		c.MaxPause = DefaultMaxPause
	}
	if c.CompressionMinBytes <= 0 {
		c.CompressionMinBytes = DefaultCompressionMinBytes
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.reportGrace <= 0 {
		c.reportGrace = defaultReportGrace
	}
	c.FrontEnd = c.FrontEnd.WithDefaults()
	return c
}
