package websocket

import (
	"errors"
	"html"

	"boshd/bosh/relay"
)

// Condition is an RFC 6120 §4.9.3 stream error condition boshd itself
// sends a client, as an error value: the session ends with the
// <stream:error/>, then <close/>, then the WebSocket closing handshake
// (RFC 7395 §3.6).
type Condition struct {
	// Name is the condition element, e.g. "host-unknown".
	Name string
	// Text is the human-readable description, or "".
	Text string
}

// Error returns the condition and its text.
func (c *Condition) Error() string {
	if c.Text == "" {
		return "websocket: stream error " + c.Name
	}
	return "websocket: stream error " + c.Name + ": " + c.Text
}

// conditionOf maps why a session could not go on to the condition its
// client is told.
func conditionOf(err error) *Condition {
	var c *Condition
	switch {
	case errors.As(err, &c):
		return c
	case errors.Is(err, ErrNotWellFormed):
		return &Condition{"not-well-formed", err.Error()}
	case errors.Is(err, ErrRestrictedXML):
		return &Condition{"restricted-xml", "comments, processing instructions and DTDs are not allowed"}
	case errors.Is(err, ErrTooDeep):
		return &Condition{"policy-violation", "elements nested too deep"}
	case errors.Is(err, relay.ErrImproperAddressing):
		return &Condition{"improper-addressing", "the <open/> has no 'to'"}
	case errors.Is(err, relay.ErrHostUnknown):
		return &Condition{"host-unknown", "this server does not serve that domain"}
	case errors.Is(err, relay.ErrShuttingDown), errors.Is(err, relay.ErrDraining):
		return &Condition{"system-shutdown", "boshd is shutting down"}
	case errors.Is(err, relay.ErrTooManySessions), errors.Is(err, relay.ErrTooManyForAddress):
		return &Condition{"policy-violation", "too many sessions"}
	case errors.Is(err, relay.ErrQueueFull):
		return &Condition{"resource-constraint", "the client does not read what the server sends"}
	case errors.Is(err, relay.ErrSendQueueFull):
		return &Condition{"resource-constraint", "the XMPP server does not read what the client sends"}
	}
	return &Condition{"remote-connection-failed", "the connection to the XMPP server failed"}
}

// appendStreamError appends an RFC 6120 §4.9 stream error that declares its
// own 'stream' prefix, as every WebSocket message must (RFC 7395 §3.3.3).
func appendStreamError(dst []byte, c *Condition) []byte {
	dst = append(dst, "<stream:error xmlns:stream='"+nsStreams+"'><"...)
	dst = append(dst, c.Name...)
	dst = append(dst, " xmlns='"+nsStreamErrors+"'/>"...)
	if c.Text != "" {
		dst = append(dst, "<text xmlns='"+nsStreamErrors+"'>"...)
		dst = append(dst, html.EscapeString(c.Text)...)
		dst = append(dst, "</text>"...)
	}
	return append(dst, "</stream:error>"...)
}
