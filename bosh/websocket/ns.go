package websocket

// XML namespaces of the WebSocket binding.
const (
	// NSFraming qualifies <open/> and <close/>, which stand for the stream
	// header and the stream's end on a WebSocket (RFC 7395 §3.3.2).
	NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	// Subprotocol is the WebSocket subprotocol a client must ask for
	// (RFC 7395 §3.1).
	Subprotocol = "xmpp"

	nsClient       = "jabber:client"                       // RFC 6120 §4.8.3
	nsStreams      = "http://etherx.jabber.org/streams"    // RFC 6120 §4.8.1
	nsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams" // RFC 6120 §4.9.2
	nsTLS          = "urn:ietf:params:xml:ns:xmpp-tls"     // RFC 6120 §5.4
	nsCompress     = "http://jabber.org/protocol/compress" // XEP-0138
)
