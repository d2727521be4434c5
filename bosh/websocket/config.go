package websocket

import (
	"time"

	"boshd/bosh/relay"
)

// Config tunes the endpoint. The zero value of every field is a sensible
// default, stated in its comment; cmd/boshd fills it from the TOML file.
type Config struct {
	// FrontEnd holds what every front end shares: domains, limits, the
	// client address rule and the logger. MaxBodyBytes limits one
	// WebSocket message.
	relay.FrontEnd

	// Origins lists the page origins allowed to open a WebSocket (the
	// Origin header, RFC 6455 §10.2); "*" allows any. A handshake from
	// another origin is refused with 403. Empty: no check (a reverse proxy
	// checks). Requests without an Origin (not from a browser) pass.
	Origins []string
	// PingInterval is how often a WebSocket ping is sent (RFC 6455 §5.5.2)
	// to keep proxies from closing an idle connection. Default 30s.
	PingInterval time.Duration
	// PingTimeout is how long a pong may take; a client that does not
	// answer in time is gone and its session ends. It is also how long the
	// client has for its first <open/>. Default 15s.
	PingTimeout time.Duration
	// WriteTimeout bounds writing one message to the client. Default 10s.
	WriteTimeout time.Duration
	// SeeOtherURI, when set, is sent in the <close/> that ends every session
	// at shutdown (RFC 7395 §3.6.1), so that clients reconnect there.
	SeeOtherURI string
	// MaxDepth limits the nesting of a client's element (default
	// DefaultMaxDepth).
	MaxDepth int
}

// Defaults of Config, in one place.
const (
	DefaultPingInterval = 30 * time.Second
	DefaultPingTimeout  = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	c.FrontEnd = c.FrontEnd.WithDefaults()
	return c
}
