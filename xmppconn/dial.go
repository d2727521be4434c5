package xmppconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/dial"
	"mellium.im/xmpp/jid"
)

// TLSPolicy says when the upstream stream is secured with STARTTLS
// (RFC 6120 §5).
type TLSPolicy uint8

const (
	// TLSOptional uses STARTTLS when the server offers it (the default).
	TLSOptional TLSPolicy = iota
	// TLSRequired fails the stream when the server does not offer STARTTLS.
	TLSRequired
	// TLSOff never negotiates TLS, even when the server requires it.
	TLSOff
)

// String returns the policy's name, for logs.
func (p TLSPolicy) String() string {
	switch p {
	case TLSOptional:
		return "optional"
	case TLSRequired:
		return "required"
	case TLSOff:
		return "off"
	}
	return fmt.Sprintf("TLSPolicy(%d)", uint8(p))
}

// Default timeouts of a Dialer.
const (
	// DefaultTimeout bounds Open.
	DefaultTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds one Send or Restart.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultCloseTimeout is how long Close waits for the server's
	// </stream:stream>.
	DefaultCloseTimeout = time.Second
)

// Dialer opens upstream client-to-server streams (RFC 6120 §3, §4). Its
// zero value is usable. A Dialer may be used by many goroutines at once but
// must not be modified while in use.
type Dialer struct {
	// Routes maps a served domain (lower case) to fixed "host:port" addresses,
	// tried in order. A domain not in Routes is resolved by DNS SRV
	// _xmpp-client._tcp (RFC 6120 §3.2) through mellium.im/xmpp/dial.
	Routes map[string][]string
	// Timeout bounds the TCP dial, TLS handshake and stream negotiation of
	// Open (default DefaultTimeout, 10s).
	Timeout time.Duration
	// TLS is the STARTTLS policy (default TLSOptional).
	TLS TLSPolicy
	// TLSConfig is the base of the streams' TLS configuration: ServerName
	// defaults to the domain (RFC 6120 §13.7.2.1), MinVersion is at least
	// TLS 1.2. It is cloned once per server name and the clone shared by
	// that name's streams (see tlsConfigFor).
	TLSConfig *tls.Config
	// LocalAddrs, when set, are local source IPs used round-robin for
	// outgoing connections, so that many streams do not exhaust one
	// address's ephemeral ports.
	LocalAddrs []net.IP
	// MaxElementBytes limits one top-level element (default
	// DefaultMaxElementBytes, 256 KiB).
	MaxElementBytes int
	// MaxDepth limits element nesting (default DefaultMaxDepth, 64).
	MaxDepth int
	// WriteTimeout bounds one Stream.Send or Stream.Restart, so that a
	// server that stops reading cannot block the caller forever (default
	// DefaultWriteTimeout, 30s).
	WriteTimeout time.Duration
	// CloseTimeout is how long Stream.Close waits for the server to close
	// its side of the stream (default DefaultCloseTimeout, 1s).
	CloseTimeout time.Duration
	// DialContext, when set, connects to a route's "host:port" instead of
	// net.Dialer (a custom transport; in-memory pipes in tests). SRV
	// lookups still use the network.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	next uint32 // round-robin index into LocalAddrs, used atomically

	tlsMu      sync.Mutex
	tlsConfigs map[string]*tls.Config // by server name; guarded by tlsMu
}

// maxSharedTLSConfigs bounds how many server names keep a shared TLS
// configuration; streams to further names get one of their own.
const maxSharedTLSConfigs = 256

// tlsConfigFor returns the TLS configuration of a stream to serverName:
// TLSConfig with ServerName defaulting to serverName and MinVersion at
// least TLS 1.2. It is derived once per name and shared by the streams to
// it (crypto/tls only reads a Config once it is in use), so that an idle
// TLS stream does not hold a clone of its own (about 0.5 KiB).
func (d *Dialer) tlsConfigFor(serverName string) *tls.Config {
	d.tlsMu.Lock()
	defer d.tlsMu.Unlock()
	if cfg, ok := d.tlsConfigs[serverName]; ok {
		return cfg
	}
	cfg := &tls.Config{}
	if d.TLSConfig != nil {
		cfg = d.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if d.tlsConfigs == nil {
		d.tlsConfigs = make(map[string]*tls.Config)
	}
	if len(d.tlsConfigs) < maxSharedTLSConfigs {
		d.tlsConfigs[serverName] = cfg
	}
	return cfg
}

// StreamParams is what the client asked for when opening a stream (XEP-0206 §3).
type StreamParams struct {
	To      string // domain, already validated and normalised
	From    string // optional
	Lang    string // optional xml:lang
	Version string // "1.0" unless the client asked for a pre-1.0 stream ("" omits it)
	// Addr, if set, is a "host:port" to dial instead of Routes/SRV (a route
	// the caller has already checked against its allowlist).
	Addr string
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// localAddr returns the next source address, or nil.
func (d *Dialer) localAddr() net.Addr {
	if len(d.LocalAddrs) == 0 {
		return nil
	}
	i := atomic.AddUint32(&d.next, 1) - 1
	return &net.TCPAddr{IP: d.LocalAddrs[i%uint32(len(d.LocalAddrs))]}
}

// dial connects to p.Addr, to the configured routes of p.To in order, or
// to what DNS SRV names for p.To (RFC 6120 §3.2.1). Direct TLS (XEP-0368)
// is not used: the stream negotiates STARTTLS itself.
func (d *Dialer) dial(ctx context.Context, p StreamParams, timeout time.Duration) (net.Conn, error) {
	addrs := d.Routes[strings.ToLower(p.To)]
	if p.Addr != "" {
		addrs = []string{p.Addr}
	}
	if len(addrs) == 0 {
		j, err := jid.New("", p.To, "")
		if err != nil {
			return nil, fmt.Errorf("xmppconn: dialing %q: %w", p.To, err)
		}
		md := dial.Dialer{
			Dialer: net.Dialer{Timeout: timeout, LocalAddr: d.localAddr()},
			NoTLS:  true,
		}
		conn, err := md.Dial(ctx, "tcp", j)
		if err != nil {
			return nil, fmt.Errorf("xmppconn: dialing %s (DNS SRV): %w", p.To, err)
		}
		return conn, nil
	}
	var errs []error
	for _, addr := range addrs {
		dialContext := d.DialContext
		if dialContext == nil {
			nd := net.Dialer{Timeout: timeout, LocalAddr: d.localAddr()}
			dialContext = nd.DialContext
		}
		conn, err := dialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("xmppconn: dialing %s at %s: %w", p.To, strings.Join(addrs, ", "), errors.Join(errs...))
}

// Open dials the upstream server for p.To, sends the stream header
// (RFC 6120 §4.2), negotiates STARTTLS per d.TLS (RFC 6120 §5), and
// returns when the first usable <stream:features/> (with <starttls/>
// removed) has arrived (XEP-0206 §4). Everything is bounded by ctx and
// d.Timeout. A <stream:error/> from the server is returned as a wrapped
// *StreamError.
func (d *Dialer) Open(ctx context.Context, p StreamParams) (*Stream, error) {
	timeout := orDefault(d.Timeout, DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.dial(ctx, p, timeout)
	if err != nil {
		return nil, err
	}
	s := newStream(conn, p, d)
	// Reads and writes during negotiation end at the context's deadline,
	// or at once when it is cancelled.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err = s.negotiate(ctx, d)
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if err == nil {
		err = conn.SetDeadline(time.Time{})
	}
	if err != nil {
		cerr := context.Cause(ctx)
		if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
			// The connection's deadline fired just before the context's timer.
			cerr = context.DeadlineExceeded
		}
		if cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		conn.Close()
		return nil, fmt.Errorf("xmppconn: opening stream to %s at %s: %w", p.To, s.addr, err)
	}
	return s, nil
}
