package bosh

import "boshd/xmppconn"

// XML namespaces of the binding.
const (
	// NSHTTPBind qualifies the <body/> wrapper (XEP-0124 §6).
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	// NSXBOSH qualifies the XMPP-specific attributes xmpp:version,
	// xmpp:restart and xmpp:restartlogic (XEP-0206 §3, §5).
	NSXBOSH = "urn:xmpp:xbosh"
	// NSStream is the prefix 'stream' of <stream:features/> and
	// <stream:error/>, which a body carrying them must declare (XEP-0206 §2).
	NSStream = xmppconn.NSStream
	// NSClient is the namespace of top-level stanzas (RFC 6120 §4.8.3).
	NSClient = xmppconn.NSClient
	// NSBoshd qualifies boshd's own attributes, such as the advised poll
	// interval of a polling session.
	NSBoshd = "urn:boshd"
)
