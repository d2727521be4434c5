package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Pool is a set of keep-alive HTTP/1.1 connections shared by sessions.
//
// Sessions use it instead of net/http when Config.HTTPClient is nil, for
// two reasons. Cost: net/http's transport runs two goroutines per
// connection, which for tens of thousands of sessions (each with a held
// request on its own connection) is most of a load generator's memory;
// here the goroutine waiting for an answer is the session's own, and a
// connection costs its socket and one small read buffer. Control: a
// request is written, then the caller runs code, then the answer is read,
// which lets a session put its next poll on the wire before delivering
// the stanzas of the previous answer (see Session.Run). The request is
// written in one system call.
//
// The zero value is usable. Idle connections are kept per host up to
// MaxIdlePerHost; one that the server closed meanwhile is noticed when
// reused and replaced without counting as a failure.
type Pool struct {
	// MaxIdlePerHost bounds the idle connections kept per host:port.
	// Default 1024.
	MaxIdlePerHost int
	// ReadBufferSize is the read buffer of each connection. Default 2048.
	ReadBufferSize int
	// DialTimeout bounds connecting (and the TLS handshake). Default 10 s.
	DialTimeout time.Duration
	// TLSConfig is used for https URLs; ServerName defaults to the host.
	TLSConfig *tls.Config
	// LocalAddr is the source address of the pool's connections (for a
	// load generator spreading its connections over several loopback
	// addresses, so one address's ephemeral ports do not run out).
	// Default nil: the kernel chooses.
	LocalAddr net.Addr

	mu   sync.Mutex
	idle map[string][]*pconn

	wrote func(body []byte) // test hook: a request body is on the wire
}

// DefaultPool is the pool of sessions whose Config has neither HTTPClient
// nor Pool.
var DefaultPool = &Pool{}

// pconn is one connection of a pool.
type pconn struct {
	net.Conn
	br  *bufio.Reader
	key string
}

// target is a parsed URL with its request head prebuilt.
type target struct {
	key   string // host:port
	https bool
	host  string // for TLS ServerName
	head  []byte // request line and fixed headers, up to Content-Length's value
}

func newTarget(rawURL, contentType string, header http.Header) (*target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	t := &target{host: u.Hostname()}
	switch u.Scheme {
	case "http":
	case "https":
		t.https = true
	default:
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	port := u.Port()
	if port == "" {
		port = map[bool]string{false: "80", true: "443"}[t.https]
	}
	t.key = net.JoinHostPort(t.host, port)
	path := u.RequestURI()
	h := []byte("POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: " + contentType + "\r\n")
	for k, vs := range header {
		for _, v := range vs {
			h = append(h, k+": "+v+"\r\n"...)
		}
	}
	h = append(h, "Content-Length: "...)
	t.head = h
	return t, nil
}

func (p *Pool) get(key string) *pconn {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.idle[key]
	if len(l) == 0 {
		return nil
	}
	c := l[len(l)-1]
	l[len(l)-1] = nil
	p.idle[key] = l[:len(l)-1]
	return c
}

func (p *Pool) put(c *pconn) {
	max := p.MaxIdlePerHost
	if max == 0 {
		max = 1024
	}
	p.mu.Lock()
	if p.idle == nil {
		p.idle = make(map[string][]*pconn)
	}
	if len(p.idle[c.key]) < max {
		p.idle[c.key] = append(p.idle[c.key], c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// CloseIdle closes the idle connections.
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			c.Close()
		}
	}
}

func (p *Pool) dial(ctx context.Context, t *target) (*pconn, error) {
	timeout := p.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 30 * time.Second, LocalAddr: p.LocalAddr}
	conn, err := d.DialContext(ctx, "tcp", t.key)
	if err != nil {
		return nil, err
	}
	if t.https {
		cfg := p.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = t.host
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	size := p.ReadBufferSize
	if size == 0 {
		size = 2048
	}
	return &pconn{Conn: conn, br: bufio.NewReaderSize(conn, size), key: t.key}, nil
}

// longAgo is a deadline in the past, to interrupt blocked I/O.
var longAgo = time.Unix(1, 0)

// do sends one request over a pooled connection and reads the answer.
// written runs on the caller's goroutine once the request is on the wire
// (or at the latest when do returns). A reused connection that turns out
// to be closed by the server before answering is replaced once.
func (p *Pool) do(ctx context.Context, t *target, body []byte, maxSize int64, written func()) (*Body, error) {
	var clen [20]byte
	cl := strconv.AppendInt(clen[:0], int64(len(body)), 10)
	for fresh := false; ; fresh = true {
		c := p.get(t.key)
		reused := c != nil
		if !reused {
			var err error
			if c, err = p.dial(ctx, t); err != nil {
				return nil, err
			}
			fresh = true
		}
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(longAgo) })
		b, reusable, sentNothing, err := c.roundTrip(t, cl, body, maxSize, func() {
			if p.wrote != nil {
				p.wrote(body)
			}
			written()
		})
		interrupted := !stop()
		if err == nil && reusable && !interrupted {
			p.put(c)
			return b, nil
		}
		c.Close()
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if reused && sentNothing && !fresh {
			continue // the server had closed the idle connection
		}
		return nil, err
	}
}

// roundTrip writes one request and reads its answer. sentNothing reports
// an error before any byte of an answer was read, the sign of a stale
// keep-alive connection.
func (c *pconn) roundTrip(t *target, cl, body []byte, maxSize int64, written func()) (b *Body, reusable, sentNothing bool, err error) {
	bufs := net.Buffers{t.head, cl, crlf2, body}
	if _, err = bufs.WriteTo(c.Conn); err != nil {
		return nil, false, true, err
	}
	written()
	if _, err = c.br.Peek(1); err != nil {
		return nil, false, true, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, false, false, err
	}
	raw, err := readBody(resp, maxSize)
	resp.Body.Close()
	if err != nil {
		return nil, false, false, err
	}
	b, err = responseBody(resp, raw)
	return b, !resp.Close, false, err
}

var crlf2 = []byte("\r\n\r\n")

// responseBody turns an HTTP response and its body into a Body and the error
// the status or the parse calls for (see Post).
func responseBody(resp *http.Response, raw []byte) (*Body, error) {
	b, perr := ParseBody(raw)
	if perr != nil {
		b = &Body{Raw: raw}
	}
	b.HTTPStatus = resp.StatusCode
	b.ContentType = resp.Header.Get("Content-Type")
	b.Header = resp.Header
	if resp.StatusCode != http.StatusOK {
		return b, &HTTPError{Status: resp.StatusCode, Body: b}
	}
	return b, perr
}
