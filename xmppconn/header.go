package xmppconn

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Header is what a peer said in its stream header (RFC 6120 §4.7): the
// server's, or a client's where a front end reads the client's own stream
// (XEP-0025).
type Header struct {
	Raw     []byte // the header bytes as sent (XML declaration + <stream:stream ...>)
	ID      string // RFC 6120 §4.7.3
	From    string // RFC 6120 §4.7.1
	To      string // RFC 6120 §4.7.2
	Version string // RFC 6120 §4.7.5; "" for a pre-1.0 peer
	Lang    string // RFC 6120 §4.7.4
}

// xmlDecl starts the first stream header we send on a connection (RFC 6120
// §11.5). A restart does not repeat it: the server may not reset its parser
// to a new document on every restart, and a declaration in the middle of a
// document is not well-formed.
const xmlDecl = "<?xml version='1.0'?>"

// appendHeader appends our initial stream header (RFC 6120 §4.7), without
// the XML declaration, in the order mellium and most clients use.
func appendHeader(dst []byte, p StreamParams) []byte {
	dst = append(dst, "<stream:stream"...)
	dst = AppendAttr(dst, "to", p.To)
	if p.From != "" {
		dst = AppendAttr(dst, "from", p.From)
	}
	if p.Version != "" {
		dst = AppendAttr(dst, "version", p.Version)
	}
	if p.Lang != "" {
		dst = AppendAttr(dst, "xml:lang", p.Lang)
	}
	dst = AppendAttr(dst, "xmlns", NSClient)
	dst = AppendAttr(dst, "xmlns:stream", NSStream)
	return append(dst, '>')
}

// AppendAttr appends ` name='value'` with value escaped for a single-quoted
// attribute (XML 1.0 §2.3, §3.3.3: whitespace characters are written as
// character references so that they survive attribute normalisation). The
// front ends build their wrappers with it too.
func AppendAttr(dst []byte, name, value string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, '=', '\'')
	dst = AppendEscaped(dst, value)
	return append(dst, '\'')
}

// AppendEscaped appends s escaped for XML character data or a quoted
// attribute value, either quote (XML 1.0 §2.4, §3.3.3): the one escaper of
// boshd's server side.
func AppendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '\'':
			dst = append(dst, "&apos;"...)
		case '"':
			dst = append(dst, "&quot;"...)
		case '\t':
			dst = append(dst, "&#x9;"...)
		case '\n':
			dst = append(dst, "&#xA;"...)
		case '\r':
			dst = append(dst, "&#xD;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// ParseHeader reads the attributes of a stream header (RFC 6120 §4.7), as
// a Splitter returns it (KindHeader), and checks that its prefix is bound
// to the streams namespace (RFC 6120 §4.8.1, 'invalid-namespace'). Stream
// uses it for the server's headers, the XEP-0025 front end for the
// client's.
func ParseHeader(raw []byte) (Header, error) {
	h := Header{Raw: raw}
	start, err := StartTag(raw)
	if err != nil {
		return h, fmt.Errorf("stream header: %w", err)
	}
	streamNS := ""
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "id":
			h.ID = a.Value
		case a.Name.Space == "" && a.Name.Local == "from":
			h.From = a.Value
		case a.Name.Space == "" && a.Name.Local == "to":
			h.To = a.Value
		case a.Name.Space == "" && a.Name.Local == "version":
			h.Version = a.Value
		case a.Name.Space == "xml" && a.Name.Local == "lang":
			h.Lang = a.Value
		case a.Name.Space == "xmlns" && a.Name.Local == start.Name.Space:
			streamNS = a.Value
		}
	}
	if start.Name.Local != "stream" {
		return h, fmt.Errorf("stream header: <%s> is not a stream", start.Name.Local)
	}
	if streamNS != NSStream {
		return h, fmt.Errorf("stream header: prefix %q is bound to %q, not %s", start.Name.Space, streamNS, NSStream)
	}
	return h, nil
}

// StartTag returns the first start tag in raw (an Element's Raw), with
// prefixes as written (Name.Space is the prefix, not a namespace) and
// attribute values unescaped: enough to read a header's or a top-level
// element's attributes without parsing the whole element.
func StartTag(raw []byte) (xml.StartElement, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.RawToken()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// majorVersion returns the major number of an RFC 6120 §4.7.5 version
// string; an absent or unreadable version counts as 0 (pre-1.0).
func majorVersion(v string) int {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
