package xmppconn

import (
	"bytes"
	"encoding/xml"
	"errors"

	"mellium.im/xmpp/stream"
)

// StreamError is a <stream:error/> the server sent (RFC 6120 §4.9): the
// server ended the stream. Open and Stream.Next return it (wrapped), so a
// connection manager can relay Raw to its client, e.g. in a BOSH terminal
// body with condition='remote-stream-error' (XEP-0206 §6).
type StreamError struct {
	// Raw is the <stream:error/> element, byte-exact.
	Raw []byte
	// Condition is the defined condition's element name (RFC 6120
	// §4.9.3), e.g. "host-unknown", or "" if there is none.
	Condition string
	// Text is the optional human-readable description (RFC 6120 §4.9.2).
	Text string
}

// Error describes the condition and text.
func (e *StreamError) Error() string {
	msg := "xmppconn: stream error from the server: " + e.Condition
	if e.Condition == "" {
		msg += "no condition"
	}
	if e.Text != "" {
		msg += " (" + e.Text + ")"
	}
	return msg
}

// Is reports whether target is the mellium stream error of the same
// condition, so that errors.Is(err, stream.HostUnknown) works.
func (e *StreamError) Is(target error) bool {
	var se stream.Error
	if errors.As(target, &se) {
		return se.Err == e.Condition
	}
	return false
}

// newStreamError reads the condition and text out of a <stream:error/>.
// The element's stream: prefix is declared on the stream header, not in
// raw, so only the children's namespaces are checked.
func newStreamError(raw []byte) *StreamError {
	e := &StreamError{Raw: raw}
	d := xml.NewDecoder(bytes.NewReader(raw))
	depth := 0
	inText := false
	for {
		tok, err := d.Token()
		if err != nil {
			return e
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Space == NSStreamErrors {
				if t.Name.Local == "text" {
					inText = true
				} else if e.Condition == "" {
					e.Condition = t.Name.Local
				}
			}
		case xml.EndElement:
			depth--
			inText = false
		case xml.CharData:
			if inText {
				e.Text += string(t)
			}
		}
	}
}

// Condition returns the RFC 6120 §4.9.3 condition of the stream error an
// error from Next (or a Splitter) calls for when the peer broke the rules:
// not-well-formed (§4.9.3.13) for ErrNotWellFormed, policy-violation
// (§4.9.3.14) for ErrTooLarge and ErrTooDeep, and "" for any other error
// (a stream error the peer sent, a closed connection). Front ends use it
// to tell their client why the stream ended, with Fault.
func Condition(err error) string {
	switch {
	case errors.Is(err, ErrNotWellFormed):
		return "not-well-formed"
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrTooDeep):
		return "policy-violation"
	}
	return ""
}

// Fault describes, for a client, why the server's stream was ended for
// an error Condition names: the text of the stream error a front end
// sends. Details (offsets, the fault) are for the log, not the client.
func Fault(err error) string {
	switch Condition(err) {
	case "not-well-formed":
		return "the XMPP server sent XML that is not well-formed"
	case "policy-violation":
		return "the XMPP server sent an element over boshd's limits"
	}
	return ""
}

// AppendStreamError appends a <stream:error/> (RFC 6120 §4.9.2) with a
// defined condition and an optional text. It declares its own 'stream'
// prefix, so that it is well-formed wherever it is put, whatever prefix
// the stream around it bound.
func AppendStreamError(dst []byte, condition, text string) []byte {
	dst = append(dst, "<stream:error xmlns:stream='"+NSStream+"'><"...)
	dst = append(dst, condition...)
	dst = append(dst, " xmlns='"+NSStreamErrors+"'/>"...)
	if text != "" {
		dst = append(dst, "<text xmlns='"+NSStreamErrors+"'>"...)
		dst = AppendEscaped(dst, text)
		dst = append(dst, "</text>"...)
	}
	return append(dst, "</stream:error>"...)
}
