package httppoll

import (
	"time"

	"boshd/bosh/relay"
)

// Config tunes the endpoint. The zero value of every field is a sensible
// default, stated in its comment; cmd/boshd fills it from the TOML file.
type Config struct {
	// FrontEnd holds what both front ends share: domains, limits, the
	// client address rule and the logger.
	relay.FrontEnd

	// CORSOrigins lists the origins whose pages may call the endpoint;
	// "*" allows any. Empty: no CORS headers.
	CORSOrigins []string

	// Path is the URL path the endpoint is mounted at; the ID cookie is
	// scoped to it (XEP-0025 §3). Default "/".
	Path string

	// PollInterval gives the poll interval for a session that has been
	// idle (no stanza in either direction) for the given time. Default:
	// relay.PollInterval between DefaultPollMin and DefaultPollMax. A
	// function returning a constant turns adaptation off.
	PollInterval func(idle time.Duration) time.Duration
	// HoldCap is the longest time an empty poll is held (see package doc).
	// Default 20s; negative: never hold, answer every poll at once.
	HoldCap time.Duration
	// SessionTimeout ends a session that has made no successful request for
	// this long (XEP-0025 §3 recommends at least 5 minutes). Default 5m.
	SessionTimeout time.Duration

	// MaxElementBytes and MaxDepth limit one element the client sends, and
	// its nesting (defaults as in xmppconn.Splitter).
	MaxElementBytes int
	MaxDepth        int

	// Compression turns on gzip and deflate compression of answers for
	// requests that ask for it with Accept-Encoding (endpoint.Compression).
	// Default off: compressing secrets beside attacker-chosen text leaks
	// them (BREACH).
	Compression bool
	// CompressionMinBytes: answers shorter than this are never
	// compressed. Default 1024.
	CompressionMinBytes int
}

// Defaults of Config, in one place.
const (
	DefaultPollMin        = 2 * time.Second
	DefaultPollMax        = 30 * time.Second
	DefaultHoldCap        = 20 * time.Second
	DefaultSessionTimeout = 5 * time.Minute

	DefaultCompressionMinBytes = 1024
)

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/"
	}
	if c.PollInterval == nil {
		c.PollInterval = func(idle time.Duration) time.Duration {
			return relay.PollInterval(idle, DefaultPollMin, DefaultPollMax)
		}
	}
	if c.HoldCap == 0 {
		c.HoldCap = DefaultHoldCap
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.CompressionMinBytes <= 0 {
		c.CompressionMinBytes = DefaultCompressionMinBytes
	}
	c.FrontEnd = c.FrontEnd.WithDefaults()
	return c
}
