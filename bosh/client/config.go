package client

import (
	"net/http"
	"time"
)

// Config describes a session to create (XEP-0124 §7.1, XEP-0206 §3). The
// zero value of every field but URL and Domain is a sensible default, the
// one Strophe.js uses where Strophe has one.
type Config struct {
	// URL of the connection manager, e.g. http://127.0.0.1:5280/http-bind.
	URL string
	// Domain is the 'to' attribute: the XMPP service to connect to.
	Domain string
	// Route, when set, is the 'route' attribute ("xmpp:host:port").
	Route string

	// Wait is the longest time in seconds the CM may hold a request
	// (XEP-0124 §7.1). Default 60.
	Wait int
	// Hold is the number of requests the CM may keep waiting. Default 1.
	Hold int
	// Ver is the BOSH protocol version. Default "1.6".
	Ver string
	// Lang is xml:lang. Default "en".
	Lang string
	// Content is the 'content' attribute and the request Content-Type.
	// Default DefaultContentType.
	Content string
	// CreateAttrs adds attributes to, or replaces attributes of, the
	// session creation request; an empty value removes the attribute
	// (e.g. {"ver": ""} to act as a legacy client, {"hold": "0"} for a
	// polling session). Keys are qualified names as written ("xmpp:version").
	CreateAttrs map[string]string

	// Pool holds the keep-alive HTTP/1.1 connections the session uses.
	// Default DefaultPool, shared by all sessions.
	Pool *Pool
	// HTTPClient, when set, sends the requests through net/http instead of
	// Pool: for proxies, HTTP/2 or a tracing RoundTripper. It costs two
	// goroutines per connection, and answers are then delivered before the
	// next poll is written (see Session.Run).
	HTTPClient *http.Client
	// Header holds extra request headers (e.g. Origin, or
	// Accept-Encoding: gzip to ask for compressed answers, XEP-0124 §5;
	// answers in gzip or deflate are decoded, and Body.Header keeps their
	// Content-Encoding).
	Header http.Header

	// Keys turns on key sequencing (XEP-0124 §15).
	Keys bool
	// KeyCount is the length of each key sequence (at least 2). Default
	// DefaultKeyCount.
	KeyCount int
	// Ack asks for response acknowledgements: ack='1' at creation, then
	// the highest rid answered in order on each request (XEP-0124 §9.2).
	Ack bool
	// FirstRID is the rid of the creation request. Default: random below
	// 2^32 like Strophe.js, which leaves room below 2^53 (XEP-0124 §14.1).
	FirstRID uint64

	// OnStanza, when set, receives each stanza delivered by Run and Send,
	// in rid order, on the goroutine that got the answer; it must not
	// block for long. It is shared by all sessions of a Config, which is
	// the cheapest way to consume thousands of sessions. When it is nil,
	// stanzas go to the channel returned by Session.Receive.
	OnStanza func(s *Session, stanza []byte)
	// OnStreamStanza, when set, replaces OnStanza and Receive: it also
	// gets the 'stream' attribute of the answer that carried the stanza
	// (XEP-0124 §16.4; "" when the CM named none, which means the first
	// stream).
	OnStreamStanza func(s *Session, stream string, stanza []byte)
	// ReceiveBuffer is the capacity of the Receive channel. Default 64.
	ReceiveBuffer int

	// Timeout bounds one HTTP attempt; an attempt that takes longer is
	// abandoned and the same request resent (as Strophe.js does after
	// 1.1 × wait). Default: 1.1 × the session's wait, at least wait + 2 s.
	Timeout time.Duration
	// MaxRetries is how many times a request is resent after a network
	// error, a timeout or an HTTP 5xx before the session is given up.
	// Default 5 (Strophe.js's maxRetries). Negative means no retry.
	MaxRetries int
	// Backoff gives the delay before resend number n (1, 2, ...). Default:
	// like Strophe.js, n³ seconds, at most 1.1 × wait.
	Backoff func(n int) time.Duration
	// MaxBodySize bounds one response. Default DefaultMaxBodySize.
	MaxBodySize int64
	// WriteGap is the least time between writing two new requests of the
	// session. Requests on separate connections can reach the CM in the
	// opposite order to the one they were written in, and CMs mishandle
	// that (see Session.Run); the gap gives the earlier one a head start.
	// Default 2 ms; negative means none (protocol tests that want
	// overtaking requests).
	WriteGap time.Duration
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Wait == 0 {
		d.Wait = 60
	}
	if d.Hold == 0 {
		d.Hold = 1
	}
	if d.Ver == "" {
		d.Ver = "1.6"
	}
	if d.Lang == "" {
		d.Lang = "en"
	}
	if d.Content == "" {
		d.Content = DefaultContentType
	}
	if d.KeyCount == 0 {
		d.KeyCount = DefaultKeyCount
	} else if d.KeyCount < 2 {
		d.KeyCount = 2 // K(n) at creation and K(1) with the switch (§15.5)
	}
	if d.ReceiveBuffer == 0 {
		d.ReceiveBuffer = 64
	}
	if d.MaxRetries == 0 {
		d.MaxRetries = 5
	} else if d.MaxRetries < 0 {
		d.MaxRetries = 0
	}
	if d.WriteGap == 0 {
		d.WriteGap = 2 * time.Millisecond
	}
	if d.MaxBodySize == 0 {
		d.MaxBodySize = DefaultMaxBodySize
	}
	return d
}
