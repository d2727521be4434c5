// Package websocket is boshd's XMPP over WebSocket front end (RFC 7395).
//
// # The protocol
//
// A browser opens a WebSocket in the 'xmpp' subprotocol (§3.1) and speaks
// XMPP on it as it would over TCP, with one difference in framing (§3.3):
// every WebSocket message is exactly one complete XML element carrying its
// own namespace declarations, and the stream header and end, which are not
// elements, become <open/> and <close/> in the
// urn:ietf:params:xml:ns:xmpp-framing namespace. After SASL success the
// client restarts the stream by sending a new <open/> (§3.5). A stream
// ends with <close/> answered by <close/> (§3.6), then the WebSocket
// closing handshake; a stream error is followed by <close/>. A server that
// wants the client elsewhere says <close see-other-uri='wss://…'/>
// (§3.6.1). Only text messages are used (§3.2); keepalives are WebSocket
// pings, not whitespace.
//
// # What boshd does with it
//
// The Handler checks the handshake (the subprotocol, and the page's Origin
// against the same list as CORS), upgrades with github.com/coder/websocket
// and runs one Session on the connection. The client's first <open/>
// names the domain: boshd checks it against the shared allowlist
// (relay.Domains), takes a place in the shared limits (relay.Registry,
// whose Counter BOSH and XEP-0025 share), opens the upstream TCP stream
// with the shared dialer (STARTTLS as configured) and answers with the
// server's header as <open/> and its features. Then:
//
//   - client messages are checked by ParseMessage (one well-formed element)
//     and forwarded byte-exact; <open/> restarts the upstream stream
//     (xmppconn.Stream.Restart); <close/> ends the session;
//   - the server's elements are relayed one per message, with
//     xmlns='jabber:client' added to stanzas that inherited it and the
//     'stream' prefix declared on features and errors; its stream header
//     becomes <open/> and its end <close/>;
//   - an unserved domain is host-unknown, an unreachable server
//     remote-connection-failed, bad XML not-well-formed (each: <open/>, the
//     stream error, <close/>, WebSocket close);
//   - a ping every PingInterval keeps proxies from closing an idle
//     connection, and a client that does not answer within PingTimeout is
//     gone;
//   - Drain (a node leaving a fleet) refuses a new <open/> the same way
//     while live sessions go on; Shutdown ends every session with
//     system-shutdown (or <close see-other-uri/>) and closes every
//     upstream stream politely;
//   - Reload puts new settings in force for new sessions (the Node given to
//     New stays); Config.Metrics counts sessions, ends and stanzas under
//     the websocket transport; a session ends through the core's
//     relay.Registry.End, like the other front ends'.
//
// An idle session has one goroutine of its own, the ServeHTTP call that
// accepted it, reading the client (plus the relay's upstream reader); the
// server-to-client direction runs in a short-lived drain goroutine started
// when there is something to do (see Session). The session core is used in
// upstream.go (Domains, Relay) and handler.go (Registry).
package websocket
