package xmppconn

// XML namespaces the upstream stream uses.
const (
	// nsClient is the default namespace of a client stream (RFC 6120 §4.8.3).
	nsClient = "jabber:client"
	// nsStream qualifies <stream:stream>, <stream:features/> and
	// <stream:error/> (RFC 6120 §4.8.1).
	nsStream = "http://etherx.jabber.org/streams"
	// nsStreamErrors qualifies stream error conditions (RFC 6120 §4.9.2).
	nsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
	// nsTLS qualifies <starttls/>, <proceed/> and <failure/> (RFC 6120 §5.4).
	nsTLS = "urn:ietf:params:xml:ns:xmpp-tls"
	// nsSASL qualifies <mechanisms/> (RFC 6120 §6.4.1).
	nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
)
