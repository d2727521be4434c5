package httppoll

import (
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/session"
)

// Config tunes the endpoint. The zero value of every field is a sensible
// default, stated in its comment; cmd/boshd fills it from the TOML file.
type Config struct {
	// Domains is the allowlist of served domains and the upstream dialer,
	// shared with the BOSH front end. Required.
	Domains *session.Domains
	// Path is the URL path the endpoint is mounted at; the ID cookie is
	// scoped to it (XEP-0025 §3). Default "/".
	Path string

	// PollInterval gives the poll interval for a session that has been
	// idle (no stanza in either direction) for the given time. Default:
	// session.PollInterval between DefaultPollMin and DefaultPollMax. A
	// function returning a constant turns adaptation off.
	PollInterval func(idle time.Duration) time.Duration
	// HoldCap is the longest time an empty poll is held (see package doc).
	// Default 20s; negative: never hold, answer every poll at once.
	HoldCap time.Duration
	// SessionTimeout ends a session that has made no successful request for
	// this long (XEP-0025 §3 recommends at least 5 minutes). Default 5m.
	SessionTimeout time.Duration

	// MaxBodyBytes limits a request body. Default 1 MiB.
	MaxBodyBytes int64
	// MaxSessions and MaxSessionsPerAddress limit the sessions at once
	// overall and per client address (0: no limit). Counter, when set, is
	// shared with the other front ends so the limits cover them all.
	MaxSessions           int
	MaxSessionsPerAddress int
	Counter               *session.Counter
	// MaxQueueBytes bounds the upstream bytes waiting for the client's next
	// poll; more ends the session. Default 1 MiB.
	MaxQueueBytes int
	// MaxElementBytes and MaxDepth limit one element the client sends, and
	// its nesting (defaults as in xmppconn.Splitter).
	MaxElementBytes int
	MaxDepth        int
	// DialTimeout bounds opening the upstream stream. Default 10s.
	DialTimeout time.Duration
	// ClientAddr returns the address a request counts against for the
	// per-address limit. Default: the host of http.Request.RemoteAddr.
	ClientAddr func(remoteAddr string, forwardedFor string) string
	// Log receives one entry per session event. Default: discard.
	Log logrus.FieldLogger
}

// Defaults of Config, in one place.
const (
	DefaultPollMin        = 2 * time.Second
	DefaultPollMax        = 30 * time.Second
	DefaultHoldCap        = 20 * time.Second
	DefaultSessionTimeout = 5 * time.Minute
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxQueueBytes  = 1 << 20
	DefaultDialTimeout    = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/"
	}
	if c.PollInterval == nil {
		c.PollInterval = func(idle time.Duration) time.Duration {
			return session.PollInterval(idle, DefaultPollMin, DefaultPollMax)
		}
	}
	if c.HoldCap == 0 {
		c.HoldCap = DefaultHoldCap
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Log == nil {
		c.Log = session.DiscardLogger()
	}
	return c
}
