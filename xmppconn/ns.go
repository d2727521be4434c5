package xmppconn

import "mellium.im/xmpp/stream"

// XML namespaces of an XMPP client stream, once for boshd: mellium's
// where it has them (stream.NS, stream.NSError); the front ends use these
// too.
const (
	// NSClient is the default namespace of a client stream (RFC 6120 §4.8.3).
	NSClient = "jabber:client"
	// NSStream qualifies <stream:stream>, <stream:features/> and
	// <stream:error/> (RFC 6120 §4.8.1).
	NSStream = stream.NS
	// NSStreamErrors qualifies stream error conditions (RFC 6120 §4.9.2).
	NSStreamErrors = stream.NSError
	// NSTLS qualifies <starttls/>, <proceed/> and <failure/> (RFC 6120 §5.4).
	NSTLS = "urn:ietf:params:xml:ns:xmpp-tls"
	// NSSASL qualifies <mechanisms/> (RFC 6120 §6.4.1).
	NSSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
)
