package bosh

import (
	"strconv"

	"boshd/xmppconn"
)

// responseBuilder appends a <body/> wrapper around stanzas that stay the
// bytes the server sent. Building by appending, not through a DOM, keeps the
// relay byte-exact and costs one allocation for the whole answer.
type responseBuilder struct {
	buf        []byte
	declStream bool
}

// start opens the wrapper; attributes follow with attr, then the payloads
// with elements or raw, and end closes it.
func (w *responseBuilder) start(hint int) {
	w.buf = make([]byte, 0, 160+hint)
	w.buf = append(w.buf, "<body xmlns='"+NSHTTPBind+"'"...)
}

func (w *responseBuilder) attr(name, value string) {
	w.buf = xmppconn.AppendAttr(w.buf, name, value)
}

func (w *responseBuilder) attrInt(name string, v int64) {
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, "='"...)
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.buf = append(w.buf, '\'')
}

func (w *responseBuilder) attrUint(name string, v uint64) {
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, "='"...)
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.buf = append(w.buf, '\'')
}

// elements closes the start tag and appends the elements, declaring the
// stream prefix when a <stream:features/> or <stream:error/> is among them
// (XEP-0206 §2) and qualifying top-level stanzas that inherited
// jabber:client from the upstream stream header (RFC 6120 §4.8.3): inside
// <body/> they would otherwise fall into the httpbind namespace.
func (w *responseBuilder) elements(els []xmppconn.Element) {
	for _, el := range els {
		if el.Kind == xmppconn.KindFeatures || el.Kind == xmppconn.KindError {
			w.buf = append(w.buf, " xmlns:stream='"+NSStream+"'"...)
			break
		}
	}
	if len(els) == 0 {
		w.buf = append(w.buf, "/>"...)
		return
	}
	w.buf = append(w.buf, '>')
	for _, el := range els {
		w.buf = appendElement(w.buf, el)
	}
	w.buf = append(w.buf, "</body>"...)
}

// appendElement appends one upstream element, adding xmlns='jabber:client'
// to an unprefixed top-level stanza that has no default namespace of its own.
func appendElement(dst []byte, el xmppconn.Element) []byte {
	if el.Kind != xmppconn.KindStanza || el.HasXMLNS || el.NameEnd <= 1 || el.NameEnd > len(el.Raw) || hasPrefix(el.Raw[1:el.NameEnd]) {
		return append(dst, el.Raw...)
	}
	dst = append(dst, el.Raw[:el.NameEnd]...)
	dst = append(dst, " xmlns='"+NSClient+"'"...)
	return append(dst, el.Raw[el.NameEnd:]...)
}

func hasPrefix(name []byte) bool {
	for _, c := range name {
		if c == ':' {
			return true
		}
	}
	return false
}

// elementsLen is the number of bytes the elements will take.
func elementsLen(els []xmppconn.Element) int {
	n := 0
	for _, el := range els {
		n += len(el.Raw) + 24
	}
	return n
}

func (w *responseBuilder) empty() { w.buf = append(w.buf, "/>"...) }
