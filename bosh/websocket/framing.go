package websocket

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"boshd/xmppconn"
)

// Errors of ParseMessage, named after the stream error conditions the
// session answers them with (RFC 6120 §4.9.3).
var (
	// ErrNotWellFormed: the message is not one complete, well-formed XML
	// element (RFC 7395 §3.3.3; RFC 6120 §4.9.3.13 not-well-formed).
	ErrNotWellFormed = errors.New("websocket: message is not one well-formed element")
	// ErrRestrictedXML: the message holds a comment, processing
	// instruction or DTD (RFC 6120 §11.1, §4.9.3.18 restricted-xml).
	ErrRestrictedXML = errors.New("websocket: comment, processing instruction or DTD in a message")
	// ErrTooDeep: elements are nested deeper than the limit
	// (RFC 6120 §4.9.3.14 policy-violation).
	ErrTooDeep = errors.New("websocket: elements nested too deep")
)

// DefaultMaxDepth is the nesting limit ParseMessage applies when given none.
const DefaultMaxDepth = 64

// Message is one WebSocket text message from the client. RFC 7395 §3.3.3:
// every message is exactly one complete top-level element, carrying every
// namespace declaration it uses, so that it can be parsed on its own.
type Message struct {
	// Raw is the element, without surrounding whitespace. It aliases the
	// bytes given to ParseMessage.
	Raw []byte
	// Name is the element's name; Name.Space is its namespace as declared
	// in the message, "" when it declares none (it then inherits
	// jabber:client from the upstream stream header).
	Name xml.Name
	// Attr are the root element's attributes, prefixes resolved.
	Attr []xml.Attr
}

// Get returns the value of the root element's attribute local (in no
// namespace), or "".
func (m Message) Get(local string) string {
	for _, a := range m.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Is reports whether the message is the element local in namespace ns.
func (m Message) Is(ns, local string) bool { return m.Name.Space == ns && m.Name.Local == local }

// ParseMessage checks that p is one complete, well-formed XML element (RFC
// 7395 §3.3.3) that uses none of what RFC 6120 §11.1 forbids, nested at
// most maxDepth deep (0: DefaultMaxDepth), and returns it. Whitespace
// around the element is allowed and dropped. A message of only whitespace
// returns a zero Message and no error: it is nothing to relay.
func ParseMessage(p []byte, maxDepth int) (Message, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	raw := bytes.TrimSpace(p)
	if len(raw) == 0 {
		return Message{}, nil
	}
	if raw[0] != '<' {
		return Message{}, fmt.Errorf("%w: text before the element", ErrNotWellFormed)
	}
	d := xml.NewDecoder(bytes.NewReader(raw))
	var m Message
	depth := 0
	done := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !done {
				return Message{}, fmt.Errorf("%w: the element is not complete", ErrNotWellFormed)
			}
			m.Raw = raw
			return m, nil
		}
		if err != nil {
			return Message{}, fmt.Errorf("%w: %v", ErrNotWellFormed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if done {
				return Message{}, fmt.Errorf("%w: more than one element", ErrNotWellFormed)
			}
			if depth == 0 {
				m.Name = t.Name
				m.Attr = t.Attr
			}
			depth++
			if depth > maxDepth {
				return Message{}, fmt.Errorf("%w: more than %d levels", ErrTooDeep, maxDepth)
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				done = true
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return Message{}, fmt.Errorf("%w: text after the element", ErrNotWellFormed)
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
			return Message{}, ErrRestrictedXML
		}
	}
}

// appendElement appends one element the server sent as a complete message
// (RFC 7395 §3.3.3): a stanza that inherited jabber:client from the stream
// header gets xmlns='jabber:client', and <stream:features/> and
// <stream:error/>, whose prefix the server declared on its header, get that
// declaration. Headers and the stream's end are not elements on a
// WebSocket; see appendOpen and appendClose.
func appendElement(dst []byte, el xmppconn.Element) []byte {
	raw := el.Raw
	if el.NameEnd <= 1 || el.NameEnd > len(raw) {
		return append(dst, raw...)
	}
	var decl string
	switch el.Kind {
	case xmppconn.KindStanza:
		if !el.HasXMLNS && bytes.IndexByte(raw[1:el.NameEnd], ':') < 0 {
			decl = " xmlns='" + nsClient + "'"
		}
	case xmppconn.KindFeatures, xmppconn.KindError:
		prefix, _, ok := bytes.Cut(raw[1:el.NameEnd], []byte{':'})
		if ok && !declares(raw, prefix) {
			decl = " xmlns:" + string(prefix) + "='" + nsStreams + "'"
		}
	}
	if decl == "" {
		return append(dst, raw...)
	}
	dst = append(dst, raw[:el.NameEnd]...)
	dst = append(dst, decl...)
	return append(dst, raw[el.NameEnd:]...)
}

// declares reports whether the start tag of raw binds prefix itself.
func declares(raw, prefix []byte) bool {
	end := bytes.IndexByte(raw, '>')
	if end < 0 {
		end = len(raw)
	}
	return bytes.Contains(raw[:end], []byte("xmlns:"+string(prefix)+"="))
}

// nameEnd returns the offset just past the element name of raw's start tag.
func nameEnd(raw []byte) int {
	for i := 1; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\r', '\n', '/', '>':
			return i
		}
	}
	return len(raw)
}
