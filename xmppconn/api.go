package xmppconn

// THIS FILE IS THE AGREED API SKELETON. The implementation replaces the
// panics; signatures may gain fields but not lose them without telling the
// bosh package's authors.

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// Kind says what a top-level element read from a stream is.
type Kind uint8

const (
	// KindStanza is any top-level element that is not one of the kinds below:
	// message, presence, iq, SASL elements (success, failure, challenge),
	// and anything else at depth 1.
	KindStanza Kind = iota
	// KindHeader is a <stream:stream> opening tag (a new stream after a restart).
	// Raw holds the tag (and any XML declaration just before it).
	KindHeader
	// KindFeatures is <stream:features/> (RFC 6120 §4.3.2).
	KindFeatures
	// KindError is <stream:error/> (RFC 6120 §4.9); the stream is over after it.
	KindError
	// KindEnd is the closing </stream:stream> tag (RFC 6120 §4.4).
	KindEnd
)

// Element is one complete top-level element, exactly as the peer sent it.
type Element struct {
	Kind Kind
	// Name is the local name of the element (e.g. "message", "features").
	Name string
	// Raw is the element's bytes, byte-exact. The caller owns it.
	Raw []byte
	// NameEnd is the offset in Raw just after the element name in the start
	// tag, where an attribute may be inserted (e.g. " xmlns='jabber:client'").
	NameEnd int
	// HasXMLNS reports whether the start tag declares a default namespace.
	HasXMLNS bool
}

// TLSPolicy says when the upstream stream is secured with STARTTLS.
type TLSPolicy uint8

const (
	TLSOptional TLSPolicy = iota // use STARTTLS when the server offers it (default)
	TLSRequired                  // fail the stream when the server does not offer it
	TLSOff                       // never negotiate TLS
)

// Dialer opens upstream client-to-server streams. Its zero value is usable.
type Dialer struct {
	// Routes maps a served domain (lower case) to fixed "host:port" addresses,
	// tried in order. A domain not in Routes is resolved by DNS SRV
	// _xmpp-client._tcp (RFC 6120 §3.2) through mellium.im/xmpp/dial.
	Routes map[string][]string
	// Timeout bounds the TCP dial, TLS handshake and stream negotiation (default 10s).
	Timeout time.Duration
	// TLS is the STARTTLS policy (default TLSOptional).
	TLS TLSPolicy
	// TLSConfig is cloned per stream; ServerName defaults to the domain.
	TLSConfig *tls.Config
	// LocalAddrs, when set, are local source IPs used round-robin for
	// outgoing connections, so that many streams do not exhaust one
	// address's ephemeral ports.
	LocalAddrs []net.IP
	// MaxElementBytes limits one top-level element (default 256 KiB).
	MaxElementBytes int
	// MaxDepth limits element nesting (default 64).
	MaxDepth int
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

// Header is what the server said in its stream header (RFC 6120 §4.7).
type Header struct {
	Raw     []byte // the server's header bytes as sent (XML declaration + <stream:stream ...>)
	ID      string
	From    string
	Version string
	Lang    string
}

// Open dials the upstream server for p.To, sends the stream header,
// negotiates STARTTLS per d.TLS, and returns when the first usable
// <stream:features/> (with <starttls/> removed) has arrived.
func (d *Dialer) Open(ctx context.Context, p StreamParams) (*Stream, error) {
	panic("unimplemented")
}

// Stream is one upstream XML stream. Send and Restart may be called from any
// goroutine; Next from one reader goroutine only; Close from any, more than once.
type Stream struct{}

// Header returns the header of the current stream (after Open).
func (s *Stream) Header() Header { panic("unimplemented") }

// Features returns the <stream:features/> received by Open, byte-exact but
// without <starttls/>.
func (s *Stream) Features() []byte { panic("unimplemented") }

// Secure reports whether the upstream connection is encrypted.
func (s *Stream) Secure() bool { panic("unimplemented") }

// Send writes p (one or more complete elements) to the server.
func (s *Stream) Send(p []byte) error { panic("unimplemented") }

// Restart sends a new stream header over the same connection (XEP-0206 §5).
// The reader then yields a KindHeader and a KindFeatures element.
func (s *Stream) Restart() error { panic("unimplemented") }

// Next blocks until the next top-level element arrives. After KindError or
// KindEnd, or when the connection fails or is closed, it returns an error.
func (s *Stream) Next() (Element, error) { panic("unimplemented") }

// Close ends the stream politely: writes </stream:stream>, waits briefly for
// the server's, then closes the connection. It unblocks Next.
func (s *Stream) Close() error { panic("unimplemented") }

// Splitter cuts a byte stream into complete top-level elements,
// incrementally: bytes may arrive in any pieces (an element split across
// reads or XEP-0025 polls). Stream uses it for the server's bytes; the
// XEP-0025 front end uses it for the client's. The zero value is usable
// (limits default as in Dialer).
type Splitter struct {
	MaxElementBytes int
	MaxDepth        int
}

// Write appends p to the bytes still to split.
func (s *Splitter) Write(p []byte) (int, error) { panic("unimplemented") }

// Next returns the next complete element, ok=false when more bytes are
// needed, or an error when the bytes are not well-formed, exceed a limit,
// or follow the end of the stream.
func (s *Splitter) Next() (el Element, ok bool, err error) { panic("unimplemented") }
