package xmppconn

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// What a strict XML parser (a browser's, encoding/xml) accepts as
// character data and attribute values, checked byte by byte on the
// splitter's hot path:
//
//   - XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD]
//     | [#x10000-#x10FFFF], encoded as UTF-8 (RFC 6120 §11.6), so no C0
//     control character but tab, LF and CR, no U+FFFE or U+FFFF, no
//     surrogate, no overlong or truncated sequence;
//   - XML 1.0 §4.1 and §4.6 references: the five predefined entities
//     (&lt; &gt; &amp; &apos; &quot;) and character references to a Char
//     (&#65; &#x41;); an XMPP stream declares no other entity (RFC 6120
//     §11.1 forbids a DTD), so &unknown; is an error, and so are &#0; and
//     &#xD800;;
//   - XML 1.0 §2.4: "]]>" never appears in character data.
//
// ASCII bytes that need no further look are found with one table lookup;
// only '&', '>', control characters and multi-byte sequences take the slow
// path.

// Byte classes of the scanner's lookup table.
const (
	cPlain uint8 = iota // an ASCII Char with no meaning to the scanner
	cCtrl               // a C0 control character that is not a Char
	cAmp                // '&': a reference starts
	cLT                 // '<'
	cGT                 // '>'
	cQuote              // '\'' or '"'
	cHigh               // 0x80 and up: part of a multi-byte UTF-8 sequence
	cSpace              // tab, LF, CR: Chars, and spaces in a tag
)

// byteClass classifies every byte; textPlain and attrPlain are true for
// the bytes that may appear in character data or an attribute value
// without a closer look.
var (
	byteClass [256]uint8
	textPlain [256]bool
	attrPlain [256]bool
	tagStop   [256]bool // '<', '>' and quotes: what ends a run of a tag outside quotes
)

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			byteClass[c] = cSpace
		case c < 0x20:
			byteClass[c] = cCtrl
		case c == '&':
			byteClass[c] = cAmp
		case c == '<':
			byteClass[c] = cLT
		case c == '>':
			byteClass[c] = cGT
		case c == '\'' || c == '"':
			byteClass[c] = cQuote
		case c >= 0x80:
			byteClass[c] = cHigh
		default:
			byteClass[c] = cPlain
		}
		cl := byteClass[c]
		textPlain[c] = cl == cPlain || cl == cSpace || cl == cQuote
		attrPlain[c] = cl == cPlain || cl == cSpace || cl == cGT
		tagStop[c] = cl == cLT || cl == cGT || cl == cQuote
	}
}

// maxRefLen bounds a reference, '&' and ';' included: "&#x10FFFF;" is 10
// bytes; longer ones (leading zeros) are refused so that a reference cut
// by the end of the input is rescanned in bounded time.
const maxRefLen = 16

// isChar reports whether r is an XML 1.0 §2.2 Char.
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == 0x9 || r == 0xA || r == 0xD
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= 0x10FFFF
}

// charAt checks the multi-byte UTF-8 sequence at the start of b. It
// returns its length, 0 when b ends inside what may still become a valid
// sequence (more bytes are needed), or an error.
func charAt(b []byte) (int, error) {
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError && n <= 1 {
		if !utf8.FullRune(b) {
			return 0, nil
		}
		return 0, fmt.Errorf("invalid UTF-8 byte 0x%02x", b[0])
	}
	if !isChar(r) {
		return 0, fmt.Errorf("character %U is not allowed in XML", r)
	}
	return n, nil
}

// refAt checks the reference at the start of b (b[0] is '&'). It returns
// its length, 0 when b ends before the reference does, or an error.
func refAt(b []byte) (int, error) {
	end := -1
	for i := 1; i < len(b) && i < maxRefLen; i++ {
		c := b[i]
		if c == ';' {
			end = i
			break
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '#') {
			return 0, fmt.Errorf("%q is not a reference (a bare '&'?)", b[:i+1])
		}
	}
	if end < 0 {
		if len(b) < maxRefLen {
			return 0, nil
		}
		return 0, fmt.Errorf("%q... is not a reference", b[:maxRefLen])
	}
	ref := b[1:end]
	switch string(ref) {
	case "lt", "gt", "amp", "apos", "quot":
		return end + 1, nil
	}
	if len(ref) < 2 || ref[0] != '#' {
		return 0, fmt.Errorf("undefined entity %q", b[:end+1])
	}
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return 0, fmt.Errorf("malformed character reference %q", b[:end+1])
	}
	var r rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, fmt.Errorf("malformed character reference %q", b[:end+1])
		}
		r = r*base + d // at most 13 digits, no overflow
		if r > utf8.MaxRune {
			r = utf8.MaxRune + 1
		}
	}
	if !isChar(r) {
		return 0, fmt.Errorf("character reference %q is not a Char", b[:end+1])
	}
	return end + 1, nil
}

// checkChars checks that b holds only Chars, with no reference (CDATA
// sections and processing instructions, XML 1.0 §2.6-2.7).
func checkChars(b []byte) (int, error) {
	for i := 0; i < len(b); {
		switch byteClass[b[i]] {
		case cCtrl:
			return i, fmt.Errorf("control character 0x%02x", b[i])
		case cHigh:
			n, err := charAt(b[i:])
			if err != nil {
				return i, err
			}
			if n == 0 {
				return i, fmt.Errorf("truncated UTF-8 sequence")
			}
			i += n
		default:
			i++
		}
	}
	return 0, nil
}

// isName reports whether a name holding a byte 0x80 or above is an XML
// 1.0 §2.3 Name (fifth edition): valid UTF-8, a NameStartChar then
// NameChars. Names made of ASCII are checked by the nameStart and nameChar
// tables alone.
func isName(b []byte) bool {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		if !isNameStartRune(r) && (i == 0 || !isNameRune(r)) {
			return false
		}
		i += n
	}
	return len(b) > 0
}

func isNameStartRune(r rune) bool {
	switch {
	case r < 0x80:
		return nameStart[r]
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

func isNameRune(r rune) bool {
	switch {
	case r < 0x80:
		return nameChar[r]
	case r == 0xB7, r >= 0x300 && r <= 0x36F, r >= 0x203F && r <= 0x2040:
		return true
	}
	return isNameStartRune(r)
}

// checkPI checks a complete processing instruction t ("<?target data?>",
// XML 1.0 §2.6): a Name for target, a space before any data, Chars only;
// and when it is the XML declaration (§2.8), only version 1.0 and the
// UTF-8 encoding RFC 6120 §11.6 requires. It returns the offset of the
// problem.
func checkPI(t []byte) (int, error) {
	body := t[2 : len(t)-2]
	i := 0
	for i < len(body) && (nameChar[body[i]]) {
		i++
	}
	target := body[:i]
	if len(target) == 0 || !nameStart[target[0]] || checkName(target) != nil || bytes.IndexByte(target, ':') >= 0 {
		return 2, fmt.Errorf("processing instruction without a valid target")
	}
	if i < len(body) && !isSpace(body[i]) {
		return 2 + i, fmt.Errorf("%q after a processing instruction's target", body[i])
	}
	if at, err := checkChars(body[i:]); err != nil {
		return 2 + i + at, err
	}
	if string(target) != "xml" {
		return 0, nil
	}
	// VersionInfo EncodingDecl? SDDecl? S?, each "S name Eq quoted".
	rest := body[i:]
	for _, want := range [...]string{"version", "encoding", "standalone"} {
		j := 0
		for j < len(rest) && isSpace(rest[j]) {
			j++
		}
		if j == 0 || len(rest[j:]) < len(want) || string(rest[j:j+len(want)]) != want {
			if want == "version" {
				return 2, fmt.Errorf("XML declaration without a version")
			}
			continue
		}
		k := j + len(want)
		for k < len(rest) && isSpace(rest[k]) {
			k++
		}
		if k >= len(rest) || rest[k] != '=' {
			return 2, fmt.Errorf("malformed XML declaration")
		}
		k++
		for k < len(rest) && isSpace(rest[k]) {
			k++
		}
		if k >= len(rest) || rest[k] != '\'' && rest[k] != '"' {
			return 2, fmt.Errorf("malformed XML declaration")
		}
		e := bytes.IndexByte(rest[k+1:], rest[k])
		if e < 0 {
			return 2, fmt.Errorf("malformed XML declaration")
		}
		v := string(rest[k+1 : k+1+e])
		switch {
		case want == "version" && v != "1.0",
			want == "encoding" && !strings.EqualFold(v, "UTF-8"),
			want == "standalone" && v != "yes" && v != "no":
			return 2, fmt.Errorf("XML declaration with %s %q (RFC 6120 §11.6: XML 1.0 in UTF-8)", want, v)
		}
		rest = rest[k+2+e:]
	}
	for _, c := range rest {
		if !isSpace(c) {
			return 2, fmt.Errorf("malformed XML declaration")
		}
	}
	return 0, nil
}

// hasHigh reports whether b holds a byte 0x80 or above.
func hasHigh(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// CheckElement checks that p is one complete element, alone, that the
// Splitter would return from inside a stream: the same rules as the
// server's and the XEP-0025 client's bytes get (characters, references,
// names, tags, nesting). It is for the BOSH front end's payloads, which
// encoding/xml parses first and which lets through what a strict parser
// at the server refuses: character references to surrogates (it turns
// &#xD800; into U+FFFD while the raw bytes boshd relays keep it), names
// with a leading or trailing colon. The error wraps ErrNotWellFormed (or
// ErrTooDeep) and names the fault and its offset in p.
func CheckElement(p []byte) error {
	s := checkers.Get().(*Splitter)
	defer checkers.Put(s)
	*s = Splitter{
		MaxElementBytes: len(p) + 1,
		buf:             p[:len(p):len(p)], // only read: no Write, no compact
		names:           s.names[:0],
		nameEnds:        s.nameEnds[:0],
		streamPrefix:    append(s.streamPrefix[:0], "stream"...),
		check:           true,
	}
	defer func() { s.buf = nil }()
	s.push([]byte("stream:stream")) // depth 1: inside a stream
	_, ok, err := s.Next()
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: incomplete element", ErrNotWellFormed)
	case s.pos != len(p):
		return fmt.Errorf("%w: more than one element at byte %d", ErrNotWellFormed, s.pos)
	}
	return nil
}

// checkers keeps CheckElement's splitters, whose name stacks are reused.
var checkers = sync.Pool{New: func() any { return new(Splitter) }}
