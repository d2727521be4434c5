package bosh

import (
	"bytes"
	"encoding/xml"
)

// scanEmptyWrapper reads, without encoding/xml, the request most clients
// send most often: an empty <body/> wrapper (the poll that keeps a request
// held, XEP-0124 §8), as <body .../> or <body ...></body>, with white space
// around it. It returns the wrapper's start tag as encoding/xml's RawToken
// would give it, and false for anything outside a narrow, plain subset of
// XML — no declaration, prefix on the element, entity or character
// reference, control or non-ASCII byte in a value, unusual name — which
// ParseBody then hands to encoding/xml, so that both agree on every input
// this accepts (FuzzScanEmptyWrapper holds it to that).
func scanEmptyWrapper(raw []byte) (xml.StartElement, bool) {
	var start xml.StartElement
	if bytes.Count(raw, []byte("<")) > 2 {
		return start, false // payloads: not an empty wrapper; no allocation spent
	}
	i := skipSpace(raw, 0)
	if !hasAt(raw, i, "<body") {
		return start, false
	}
	i += len("<body")
	src := string(raw) // one allocation; names and values are slices of it
	start.Name.Local = "body"
	for {
		j := skipSpace(raw, i)
		if j == len(raw) {
			return start, false
		}
		if raw[j] == '/' || raw[j] == '>' {
			i = j
			break
		}
		if j == i || len(start.Attr) == maxAttrs {
			return start, false // no space before the attribute, or too many
		}
		a, next, ok := scanAttr(raw, src, j)
		if !ok {
			return start, false
		}
		if start.Attr == nil {
			start.Attr = make([]xml.Attr, 0, 12)
		}
		start.Attr = append(start.Attr, a)
		i = next
	}
	switch {
	case hasAt(raw, i, "/>"):
		i += 2
	case hasAt(raw, i, ">"):
		i = skipSpace(raw, i+1)
		if !hasAt(raw, i, "</body") {
			return start, false
		}
		i = skipSpace(raw, i+len("</body"))
		if !hasAt(raw, i, ">") {
			return start, false
		}
		i++
	default:
		return start, false
	}
	return start, skipSpace(raw, i) == len(raw)
}

// scanAttr reads name='value' or name="value" at raw[i:].
func scanAttr(raw []byte, src string, i int) (xml.Attr, int, bool) {
	var a xml.Attr
	n := scanName(raw, i)
	if n == i {
		return a, 0, false
	}
	a.Name.Local = src[i:n]
	if n < len(raw) && raw[n] == ':' {
		m := scanName(raw, n+1)
		if m == n+1 {
			return a, 0, false
		}
		a.Name.Space, a.Name.Local = src[i:n], src[n+1:m]
		n = m
	}
	n = skipSpace(raw, n)
	if !hasAt(raw, n, "=") {
		return a, 0, false
	}
	n = skipSpace(raw, n+1)
	if n == len(raw) || raw[n] != '\'' && raw[n] != '"' {
		return a, 0, false
	}
	q := raw[n]
	v := n + 1
	for v < len(raw) && raw[v] != q {
		if c := raw[v]; c < 0x20 || c > 0x7e || c == '<' || c == '&' {
			return a, 0, false
		}
		v++
	}
	if v == len(raw) {
		return a, 0, false
	}
	a.Value = src[n+1 : v]
	return a, v + 1, true
}

// scanName reads a plain ASCII name part (no colon) at raw[i:] and returns
// its end; i when there is none.
func scanName(raw []byte, i int) int {
	j := i
	for j < len(raw) {
		c := raw[j]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if !letter && (j == i || !('0' <= c && c <= '9' || c == '-' || c == '.')) {
			break
		}
		j++
	}
	return j
}

// skipSpace skips XML white space (XML 1.0 §2.3, S).
func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i++
	}
	return i
}

func hasAt(raw []byte, i int, s string) bool {
	return len(raw)-i >= len(s) && string(raw[i:i+len(s)]) == s
}
