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
