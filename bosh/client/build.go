package client

import (
	"slices"
	"strconv"
)

// Attr is one attribute of a request wrapper, in the order it is written.
type Attr struct {
	Name, Value string
}

// AppendBody appends a request <body/> wrapper (XEP-0124 §6) to dst: the
// attributes in order, xmlns='http://jabber.org/protocol/httpbind', an
// xmlns:xmpp='urn:xmpp:xbosh' declaration when an attribute uses the xmpp
// prefix and none is given (XEP-0206 §3), and the payloads verbatim (they
// are not checked: protocol tests send broken ones on purpose). Attribute
// values are escaped. The wrapper is self-closing when there are no
// payloads, as Strophe.js sends it.
func AppendBody(dst []byte, attrs []Attr, payloads ...[]byte) []byte {
	dst = append(dst, "<body"...)
	declXMPP, hasDeclXMPP, hasXMLNS := false, false, false
	for _, a := range attrs {
		dst = appendAttr(dst, a.Name, a.Value)
		switch {
		case a.Name == "xmlns":
			hasXMLNS = true
		case a.Name == "xmlns:xmpp":
			hasDeclXMPP = true
		case len(a.Name) > 5 && a.Name[:5] == "xmpp:":
			declXMPP = true
		}
	}
	if !hasXMLNS {
		dst = append(dst, " xmlns='"+NSHTTPBind+"'"...)
	}
	if declXMPP && !hasDeclXMPP {
		dst = append(dst, " xmlns:xmpp='"+NSXBOSH+"'"...)
	}
	return appendContent(dst, payloads)
}

// appendContent closes a wrapper's start tag and appends the payloads and
// the end tag, or self-closes it when there are none.
func appendContent(dst []byte, payloads [][]byte) []byte {
	if len(payloads) == 0 {
		return append(dst, "/>"...)
	}
	dst = append(dst, '>')
	for _, p := range payloads {
		dst = append(dst, p...)
	}
	return append(dst, "</body>"...)
}

func appendAttr(dst []byte, name, value string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, "='"...)
	dst = AppendEscaped(dst, value)
	return append(dst, '\'')
}

// AppendEscaped appends s escaped for use in XML character data or in an
// attribute value quoted with either quote character (XML 1.0 §2.4).
func AppendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\'':
			esc = "&apos;"
		case '"':
			esc = "&quot;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// mergeAttrs applies overrides to base: a key present in base is replaced
// in place (or removed when its override is ""), other non-empty overrides
// follow in name order, so that the same inputs always give the same bytes.
func mergeAttrs(base []Attr, overrides map[string]string) []Attr {
	if len(overrides) == 0 {
		return base
	}
	out := base[:0:0]
	for _, a := range base {
		if v, ok := overrides[a.Name]; ok {
			if v == "" {
				continue
			}
			a.Value = v
		}
		out = append(out, a)
	}
	extra := make([]string, 0, len(overrides))
	for k, v := range overrides {
		if v != "" && !slices.ContainsFunc(base, func(a Attr) bool { return a.Name == k }) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		out = append(out, Attr{k, overrides[k]})
	}
	return out
}

// appendRequest appends the hot-path request: rid, sid, optional key,
// newkey and ack, then the payloads. It is AppendBody specialised so that a
// poll or a message costs one allocation.
func appendRequest(dst []byte, rid uint64, sid, key, newkey string, ack uint64, payloads [][]byte) []byte {
	dst = append(dst, "<body rid='"...)
	dst = strconv.AppendUint(dst, rid, 10)
	dst = append(dst, "' sid='"...)
	dst = AppendEscaped(dst, sid)
	dst = append(dst, '\'')
	if key != "" {
		dst = append(dst, " key='"...)
		dst = append(dst, key...)
		dst = append(dst, '\'')
	}
	if newkey != "" {
		dst = append(dst, " newkey='"...)
		dst = append(dst, newkey...)
		dst = append(dst, '\'')
	}
	if ack != 0 {
		dst = append(dst, " ack='"...)
		dst = strconv.AppendUint(dst, ack, 10)
		dst = append(dst, '\'')
	}
	dst = append(dst, " xmlns='"+NSHTTPBind+"'"...)
	return appendContent(dst, payloads)
}

// requestSize is the capacity to allocate for a request with payloads.
func requestSize(sid string, payloads [][]byte) int {
	n := 160 + len(sid)
	for _, p := range payloads {
		n += len(p)
	}
	return n
}
