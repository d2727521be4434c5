package xmppconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Kind says what a top-level element read from a stream is.
type Kind uint8

const (
	// KindStanza is any top-level element that is not one of the kinds below:
	// message, presence, iq (RFC 6120 §8), SASL elements (success, failure,
	// challenge; RFC 6120 §6.4), and anything else at depth 1.
	KindStanza Kind = iota
	// KindHeader is a <stream:stream> opening tag (RFC 6120 §4.2), the first
	// one or a new stream after a restart (RFC 6120 §4.3.3, XEP-0206 §5).
	// Raw holds the tag (and any XML declaration just before it).
	KindHeader
	// KindFeatures is <stream:features/> (RFC 6120 §4.3.2).
	KindFeatures
	// KindError is <stream:error/> (RFC 6120 §4.9); the stream is over after it.
	KindError
	// KindEnd is the closing </stream:stream> tag (RFC 6120 §4.4).
	KindEnd
)

// String returns the kind's name, for logs.
func (k Kind) String() string {
	switch k {
	case KindStanza:
		return "stanza"
	case KindHeader:
		return "header"
	case KindFeatures:
		return "features"
	case KindError:
		return "error"
	case KindEnd:
		return "end"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Element is one complete top-level element (a child of <stream:stream>,
// RFC 6120 §4.1), exactly as the peer sent it, or a stream header or the
// stream's closing tag.
type Element struct {
	Kind Kind
	// Name is the local name of the element (e.g. "message", "features").
	// It is "stream" for KindHeader and KindEnd.
	Name string
	// Raw is the element's bytes, byte-exact. The caller owns it.
	Raw []byte
	// NameEnd is the offset in Raw just after the element name in the start
	// tag, where an attribute may be inserted (e.g. " xmlns='jabber:client'",
	// XEP-0206 §2). It is 0 for KindEnd.
	NameEnd int
	// HasXMLNS reports whether the start tag declares a default namespace
	// (an xmlns= attribute; xmlns:prefix= does not count).
	HasXMLNS bool
}

// Errors a Splitter (and so Stream.Next) returns, wrapped with details.
// Test for them with errors.Is: the first two are policy violations by the
// peer (RFC 6120 §4.9.3.14), the last is a syntax error (RFC 6120 §4.9.3.13).
var (
	// ErrTooLarge: an element exceeds MaxElementBytes.
	ErrTooLarge = errors.New("xmppconn: element too large")
	// ErrTooDeep: elements are nested deeper than MaxDepth.
	ErrTooDeep = errors.New("xmppconn: elements nested too deep")
	// ErrNotWellFormed: the bytes are not a well-formed XML stream, or use
	// XML that RFC 6120 §11.1 forbids in a stream (comments, DOCTYPE,
	// processing instructions inside stanzas).
	ErrNotWellFormed = errors.New("xmppconn: not well-formed")
)

// Default limits, used when a limit is zero or negative.
const (
	// DefaultMaxElementBytes is the default limit on one top-level element.
	DefaultMaxElementBytes = 256 << 10
	// DefaultMaxDepth is the default limit on element nesting, counting
	// <stream:stream> as depth 1.
	DefaultMaxDepth = 64
)

// Buffer sizes: a stream that is idle keeps at most keepBufCap bytes of
// buffer; reading always offers at least minRead bytes to the connection.
const (
	initBufCap = 2 << 10
	minRead    = 512
	keepBufCap = 8 << 10
)

// Token kinds the scanner may be in the middle of.
const (
	tokNone  uint8 = iota
	tokOpen        // "<" seen, kind not known yet
	tokStart       // start tag: scan for '>' outside quotes
	tokEnd         // end tag: scan for '>'
	tokPI          // processing instruction: scan for "?>"
	tokCDATA       // CDATA section: scan for "]]>"
)

// Splitter cuts a byte stream into complete top-level elements,
// incrementally: bytes may arrive in any pieces (an element split across
// reads or XEP-0025 polls). Stream uses it for the server's bytes; the
// XEP-0025 front end uses it for the client's. The zero value is usable
// (limits default as in Dialer).
//
// It is a hand-written scanner, not an XML parser: it checks what it must
// to cut the stream correctly (tag syntax, quoting, matching end tags,
// nesting, no character data between stanzas), rejects what RFC 6120
// §11.1 forbids (comments, DOCTYPE, processing instructions inside
// stanzas), and checks what a strict XML parser at the other end would
// refuse (chars.go): characters that are not XML 1.0 Chars or not UTF-8,
// references other than the predefined entities and character references
// to Chars, "]]>" in character data, names that are not XML names or
// qualified names, an XML declaration other than version 1.0 in UTF-8. So
// an element it returns, relayed either way, parses in the receiver's
// strict parser (FuzzSplitterStrict holds it to encoding/xml's verdict).
// It does not check namespace bindings or duplicate attributes; those are
// for the receiving XML parser.
//
// Scanning is resumable: a token cut by the end of the input is continued
// from where the scan stopped, so feeding bytes one at a time costs the
// same as feeding them all at once.
type Splitter struct {
	// MaxElementBytes limits one top-level element, counted from its first
	// byte (default DefaultMaxElementBytes). An element that passes the
	// limit is an error as soon as the bytes past the limit arrive.
	MaxElementBytes int
	// MaxDepth limits element nesting, <stream:stream> being depth 1
	// (default DefaultMaxDepth).
	MaxDepth int

	buf  []byte // bytes not yet discarded; offsets below index into it
	base int64  // stream offset of buf[0], for error messages
	pos  int    // next byte to scan

	depth  int  // 0 outside the stream, 1 inside <stream:stream>, 2 inside a stanza...
	inElem bool // a top-level element started at elem and is not complete
	elem   int
	ended  bool // </stream:stream> was read
	err    error

	// The token being scanned (tok != tokNone) when the input ran out.
	tok      uint8
	tokStart int
	tokScan  int  // where the search for the token's end resumes
	quote    byte // open quote in a start tag, or 0

	// A processing instruction (XML declaration) seen between top-level
	// elements: it becomes part of the next header's Raw.
	hasPI bool
	pi    int

	// The current top-level element's start tag.
	elKind     Kind
	elName     string
	elNameEnd  int
	elHasXMLNS bool

	names        []byte // qualified names of open elements, concatenated
	nameEnds     []int  // end of each name in names
	streamPrefix []byte // prefix of the current <stream:stream>

	check bool // CheckElement: the element's Raw is not copied out
}

// Write appends p to the bytes still to split. It never fails.
func (s *Splitter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.compact()
	if s.buf == nil && len(p) < initBufCap {
		s.buf = make([]byte, 0, initBufCap)
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// buffered reports how many bytes were written but not yet returned in an
// element or skipped.
func (s *Splitter) buffered() int { return len(s.buf) - s.keep() }

// fill reads once from r into the buffer, for Stream.
func (s *Splitter) fill(r io.Reader) (int, error) {
	s.compact()
	if cap(s.buf) == 0 {
		s.buf = make([]byte, 0, initBufCap)
	} else if cap(s.buf)-len(s.buf) < minRead {
		s.buf = slices.Grow(s.buf, minRead)
	}
	n, err := r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	return n, err
}

// keep returns the offset of the first byte still needed.
func (s *Splitter) keep() int {
	k := s.pos
	if s.tok != tokNone && s.tokStart < k {
		k = s.tokStart
	}
	if s.hasPI && s.pi < k {
		k = s.pi
	}
	if s.inElem && s.elem < k {
		k = s.elem
	}
	return k
}

// compact discards the bytes no longer needed, and lets a large buffer go
// when nothing is pending, so that an idle stream holds little memory.
func (s *Splitter) compact() {
	k := s.keep()
	if k == 0 {
		return
	}
	n := copy(s.buf, s.buf[k:])
	if n == 0 && cap(s.buf) > keepBufCap {
		s.buf = nil
	} else {
		s.buf = s.buf[:n]
	}
	s.base += int64(k)
	s.pos -= k
	s.tokStart -= k
	s.tokScan -= k
	s.pi -= k
	s.elem -= k
}

func (s *Splitter) maxBytes() int {
	if s.MaxElementBytes > 0 {
		return s.MaxElementBytes
	}
	return DefaultMaxElementBytes
}

func (s *Splitter) maxDepth() int {
	if s.MaxDepth > 0 {
		return s.MaxDepth
	}
	return DefaultMaxDepth
}

// window returns how far the scanner may look: the end of the buffer, or
// MaxElementBytes past the start of the pending element, token or XML
// declaration, whichever comes first. Looking no further than the limit
// makes the result the same however the input is cut into pieces.
func (s *Splitter) window() int {
	if !s.inElem && s.tok == tokNone && !s.hasPI {
		return len(s.buf)
	}
	w := s.keep() + s.maxBytes()
	if w > len(s.buf) || w < 0 {
		return len(s.buf)
	}
	return w
}

// fail records err (sticky) and returns it.
func (s *Splitter) fail(err error) (Element, bool, error) {
	s.err = err
	return Element{}, false, err
}

func (s *Splitter) syntax(at int, format string, args ...any) (Element, bool, error) {
	return s.fail(fmt.Errorf("%w: %s at byte %d", ErrNotWellFormed, fmt.Sprintf(format, args...), s.base+int64(at)))
}

// needMore reports that the input ran out at the window's end: more bytes
// are needed, or, when there are bytes past the window, the pending element
// is too large.
func (s *Splitter) needMore(w int) (Element, bool, error) {
	if w < len(s.buf) {
		return s.fail(fmt.Errorf("%w: more than %d bytes at byte %d", ErrTooLarge, s.maxBytes(), s.base+int64(s.keep())))
	}
	return Element{}, false, nil
}

// Next returns the next complete element, ok=false when more bytes are
// needed, or an error when the bytes are not well-formed, exceed a limit,
// or follow the end of the stream. After an error, every call returns it.
func (s *Splitter) Next() (el Element, ok bool, err error) {
	if s.err != nil {
		return Element{}, false, s.err
	}
	for {
		w := s.window()
		if s.tok == tokNone {
			if s.pos >= w {
				return s.needMore(w)
			}
			if s.inElem {
				// Character data inside a stanza: check it up to the next
				// markup.
				if s.buf[s.pos] != '<' {
					at, err := s.scanText(w)
					if err != nil {
						return s.fail(err)
					}
					if !at {
						return s.needMore(w)
					}
				}
			} else {
				// Between top-level elements only whitespace may appear:
				// keepalives (RFC 6120 §4.6.1) are dropped here.
				for s.pos < w && isSpace(s.buf[s.pos]) {
					s.pos++
				}
				if s.pos >= w {
					return s.needMore(w)
				}
				if c := s.buf[s.pos]; c != '<' {
					if s.ended {
						return s.syntax(s.pos, "data after the end of the stream")
					}
					return s.syntax(s.pos, "character data %q between top-level elements", c)
				}
				if s.ended {
					return s.syntax(s.pos, "data after the end of the stream")
				}
			}
			s.tok, s.tokStart, s.tokScan, s.quote = tokOpen, s.pos, s.pos+1, 0
			w = s.window()
		}
		end, err := s.scanToken(w)
		if err != nil {
			return s.fail(err)
		}
		if end < 0 {
			return s.needMore(w)
		}
		el, ok, err := s.token(end)
		if err != nil || ok {
			return el, ok, err
		}
	}
}

// scanText checks character data from s.pos (chars.go) and stops at the
// next '<' (at=true) or where the input within buf[:w] runs out or ends
// inside a reference or a UTF-8 sequence (at=false; s.pos is the first
// byte not yet checked).
func (s *Splitter) scanText(w int) (at bool, err error) {
	b := s.buf[:w]
	i := s.pos
	for {
		for i < len(b) && textPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			s.pos = i
			return false, nil
		}
		switch c := b[i]; byteClass[c] {
		case cLT:
			s.pos = i
			return true, nil
		case cGT:
			// Character data starts after a '>', so b[i-2] is inside
			// the element.
			if b[i-1] == ']' && b[i-2] == ']' {
				return false, s.syntaxErr(i-2, "\"]]>\" in character data")
			}
			i++
		case cAmp:
			n, err := refAt(b[i:])
			if err != nil {
				return false, s.syntaxErr(i, "%v", err)
			}
			if n == 0 {
				s.pos = i
				return false, nil
			}
			i += n
		case cHigh:
			n, err := charAt(b[i:])
			if err != nil {
				return false, s.syntaxErr(i, "%v", err)
			}
			if n == 0 {
				s.pos = i
				return false, nil
			}
			i += n
		default:
			return false, s.syntaxErr(i, "control character 0x%02x", c)
		}
	}
}

// scanToken finds the end of the token at s.tokStart within buf[:w],
// resuming where the last call stopped. It returns the offset just past
// the token, or -1 when the token goes on past w.
func (s *Splitter) scanToken(w int) (int, error) {
	b := s.buf[:w]
	if s.tok == tokOpen {
		t := b[s.tokStart:]
		if len(t) < 2 {
			return -1, nil
		}
		s.tokScan = s.tokStart + 2
		switch c := t[1]; {
		case c == '/':
			s.tok = tokEnd
		case c == '?':
			s.tok = tokPI
		case c == '!':
			// bang sets tokScan past "<![CDATA[".
			if err := s.bang(t); err != nil || s.tok == tokOpen {
				return -1, err
			}
		case nameStart[c]:
			s.tok = tokStart
		default:
			return -1, s.syntaxErr(s.tokStart+1, "%q after '<'", c)
		}
	}
	switch s.tok {
	case tokStart:
		q := s.quote
		i := s.tokScan
		for i < len(b) {
			if q == 0 {
				// Outside quotes: names and spaces, checked by
				// parseStartTag once the tag is complete.
				for i < len(b) && !tagStop[b[i]] {
					i++
				}
				if i >= len(b) {
					break
				}
				switch c := b[i]; c {
				case '>':
					s.quote = 0
					return i + 1, nil
				case '<':
					return -1, s.syntaxErr(i, "'<' in a tag")
				default:
					q = c
				}
				i++
				continue
			}
			// An attribute value (XML 1.0 §3.1 AttValue): Chars and
			// references, no '<'.
			for i < len(b) && attrPlain[b[i]] {
				i++
			}
			if i >= len(b) {
				break
			}
			switch c := b[i]; byteClass[c] {
			case cQuote:
				if c == q {
					q = 0
				}
				i++
			case cLT:
				return -1, s.syntaxErr(i, "'<' in an attribute value")
			case cAmp:
				n, err := refAt(b[i:])
				if err != nil {
					return -1, s.syntaxErr(i, "%v in an attribute value", err)
				}
				if n == 0 {
					s.quote, s.tokScan = q, i
					return -1, nil
				}
				i += n
			case cHigh:
				n, err := charAt(b[i:])
				if err != nil {
					return -1, s.syntaxErr(i, "%v in an attribute value", err)
				}
				if n == 0 {
					s.quote, s.tokScan = q, i
					return -1, nil
				}
				i += n
			default:
				return -1, s.syntaxErr(i, "control character 0x%02x in an attribute value", c)
			}
		}
		s.quote = q
	case tokEnd:
		if i := bytes.IndexByte(b[s.tokScan:], '>'); i >= 0 {
			return s.tokScan + i + 1, nil
		}
	case tokPI:
		if i := bytes.Index(b[s.tokScan:], []byte("?>")); i >= 0 {
			return s.tokScan + i + 2, nil
		}
		s.tokScan = max(s.tokScan, len(b)-1)
		return -1, nil
	case tokCDATA:
		if i := bytes.Index(b[s.tokScan:], []byte("]]>")); i >= 0 {
			return s.tokScan + i + 3, nil
		}
		s.tokScan = max(s.tokScan, len(b)-2)
		return -1, nil
	}
	s.tokScan = len(b)
	return -1, nil
}

// bang classifies "<!" markup: only CDATA sections inside stanzas are
// allowed in an XML stream (RFC 6120 §11.1).
func (s *Splitter) bang(t []byte) error {
	for _, m := range [...]string{"<![CDATA[", "<!--", "<!DOCTYPE"} {
		n := min(len(t), len(m))
		if string(t[:n]) != m[:n] {
			continue
		}
		if n < len(m) {
			return nil // wait for more bytes
		}
		switch m {
		case "<![CDATA[":
			if !s.inElem {
				return s.syntaxErr(s.tokStart, "CDATA section between top-level elements")
			}
			s.tok = tokCDATA
			s.tokScan = s.tokStart + len(m)
			return nil
		case "<!--":
			return s.syntaxErr(s.tokStart, "comment (RFC 6120 §11.1)")
		default:
			return s.syntaxErr(s.tokStart, "DOCTYPE (RFC 6120 §11.1)")
		}
	}
	return s.syntaxErr(s.tokStart, "unknown markup %q", t[:min(len(t), 9)])
}

func (s *Splitter) syntaxErr(at int, format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d", ErrNotWellFormed, fmt.Sprintf(format, args...), s.base+int64(at))
}

// token handles the complete token buf[s.tokStart:end]. It returns an
// element when one is complete.
func (s *Splitter) token(end int) (Element, bool, error) {
	start, kind := s.tokStart, s.tok
	s.tok = tokNone
	s.pos = end
	t := s.buf[start:end]
	switch kind {
	case tokCDATA:
		if i, err := checkChars(t[len("<![CDATA[") : len(t)-len("]]>")]); err != nil {
			return s.syntax(start+len("<![CDATA[")+i, "%v in a CDATA section", err)
		}
		return Element{}, false, nil
	case tokPI:
		if s.inElem {
			return s.syntax(start, "processing instruction inside an element (RFC 6120 §11.1)")
		}
		if at, err := checkPI(t); err != nil {
			return s.syntax(start+at, "%v", err)
		}
		if !s.hasPI {
			s.hasPI, s.pi = true, start
		}
		return Element{}, false, nil
	case tokEnd:
		return s.endTag(start, t)
	}
	return s.startTag(start, t)
}

func (s *Splitter) startTag(start int, t []byte) (Element, bool, error) {
	tag, err := parseStartTag(t)
	if err != nil {
		return s.syntax(start+tag.nameEnd, "%v", err)
	}
	qname := t[1:tag.nameEnd]
	prefix, local := splitName(qname)
	if !s.inElem {
		if string(local) == "stream" && len(prefix) > 0 {
			return s.header(start, t, tag, prefix)
		}
		if s.depth == 0 {
			return s.syntax(start, "<%s> before the stream header", qname)
		}
	}
	if s.depth+1 > s.maxDepth() {
		return s.fail(fmt.Errorf("%w: more than %d levels at byte %d", ErrTooDeep, s.maxDepth(), s.base+int64(start)))
	}
	if !s.inElem {
		// A new top-level element: a skipped declaration is dropped.
		s.hasPI = false
		s.elem = start
		s.elKind = KindStanza
		if bytes.Equal(prefix, s.streamPrefix) {
			switch string(local) {
			case "features":
				s.elKind = KindFeatures
			case "error":
				s.elKind = KindError
			}
		}
		if !s.check {
			s.elName = intern(local)
		}
		s.elNameEnd = tag.nameEnd
		s.elHasXMLNS = tag.hasXMLNS
		if tag.selfClosing {
			return s.element(start + len(t)), true, nil
		}
		s.inElem = true
	} else if tag.selfClosing {
		return Element{}, false, nil
	}
	s.push(qname)
	return Element{}, false, nil
}

// header handles a <stream:stream> start tag at the top level or at depth
// 1: the first stream, or a restarted one (RFC 6120 §4.3.3: a new header
// over the same connection, without closing the old stream).
func (s *Splitter) header(start int, t []byte, tag startTag, prefix []byte) (Element, bool, error) {
	if tag.selfClosing {
		return s.syntax(start, "empty stream header")
	}
	from := start
	if s.hasPI {
		from = s.pi
		s.hasPI = false
	}
	s.names = s.names[:0]
	s.nameEnds = s.nameEnds[:0]
	s.push(t[1:tag.nameEnd])
	s.streamPrefix = append(s.streamPrefix[:0], prefix...)
	s.depth = 1
	end := start + len(t)
	return Element{
		Kind:     KindHeader,
		Name:     "stream",
		Raw:      bytes.Clone(s.buf[from:end]),
		NameEnd:  start - from + tag.nameEnd,
		HasXMLNS: tag.hasXMLNS,
	}, true, nil
}

func (s *Splitter) endTag(start int, t []byte) (Element, bool, error) {
	i := 2
	for i < len(t) && nameChar[t[i]] {
		i++
	}
	qname := t[2:i]
	for i < len(t)-1 && isSpace(t[i]) {
		i++
	}
	if len(qname) == 0 || !nameStart[qname[0]] || i != len(t)-1 {
		return s.syntax(start+i, "malformed end tag %q", t)
	}
	if s.depth == 0 {
		return s.syntax(start, "end tag %q outside the stream", t)
	}
	open := s.top()
	if !bytes.Equal(qname, open) {
		return s.syntax(start, "end tag </%s> does not match <%s>", qname, open)
	}
	s.pop()
	if s.depth == 0 {
		s.ended = true
		s.hasPI = false
		return Element{Kind: KindEnd, Name: "stream", Raw: bytes.Clone(t)}, true, nil
	}
	if s.depth == 1 {
		return s.element(start + len(t)), true, nil
	}
	return Element{}, false, nil
}

// element returns the top-level element that ends at end.
func (s *Splitter) element(end int) Element {
	s.inElem = false
	if s.check {
		return Element{Kind: s.elKind}
	}
	return Element{
		Kind:     s.elKind,
		Name:     s.elName,
		Raw:      bytes.Clone(s.buf[s.elem:end]),
		NameEnd:  s.elNameEnd,
		HasXMLNS: s.elHasXMLNS,
	}
}

func (s *Splitter) push(qname []byte) {
	s.names = append(s.names, qname...)
	s.nameEnds = append(s.nameEnds, len(s.names))
	s.depth++
}

func (s *Splitter) top() []byte {
	n := len(s.nameEnds)
	from := 0
	if n > 1 {
		from = s.nameEnds[n-2]
	}
	return s.names[from:s.nameEnds[n-1]]
}

func (s *Splitter) pop() {
	n := len(s.nameEnds) - 1
	s.nameEnds = s.nameEnds[:n]
	if n == 0 {
		s.names = s.names[:0]
	} else {
		s.names = s.names[:s.nameEnds[n-1]]
	}
	s.depth--
}

// startTag is what the splitter needs from a start tag.
type startTag struct {
	nameEnd     int // offset just past the qualified name
	hasXMLNS    bool
	selfClosing bool
}

// parseStartTag checks the syntax of a complete start tag t ("<name
// attr='value' ...>" or ".../>", XML 1.0 §3.1). On error, nameEnd is the
// offset of the problem.
func parseStartTag(t []byte) (startTag, error) {
	var tag startTag
	i := 1
	for i < len(t) && nameChar[t[i]] {
		i++
	}
	tag.nameEnd = i
	if err := checkName(t[1:i]); err != nil {
		tag.nameEnd = 1
		return tag, err
	}
	last := len(t) - 1 // the '>'
	for {
		sp := i
		for i < last && isSpace(t[i]) {
			i++
		}
		if i == last {
			return tag, nil
		}
		if t[i] == '/' {
			if i+1 != last {
				tag.nameEnd = i
				return tag, errors.New("'/' inside a start tag")
			}
			tag.selfClosing = true
			return tag, nil
		}
		if i == sp {
			tag.nameEnd = i
			return tag, errors.New("no space before an attribute")
		}
		a := i
		if !nameStart[t[i]] {
			tag.nameEnd = i
			return tag, fmt.Errorf("%q in a start tag", t[i])
		}
		for i < last && nameChar[t[i]] {
			i++
		}
		name := t[a:i]
		if err := checkName(name); err != nil {
			tag.nameEnd = a
			return tag, err
		}
		for i < last && isSpace(t[i]) {
			i++
		}
		if t[i] != '=' {
			tag.nameEnd = i
			return tag, fmt.Errorf("attribute %s without a value", name)
		}
		i++
		for i < last && isSpace(t[i]) {
			i++
		}
		q := t[i]
		if q != '\'' && q != '"' {
			tag.nameEnd = i
			return tag, fmt.Errorf("attribute %s value not quoted", name)
		}
		// The scanner found the closing quote before the '>'.
		j := bytes.IndexByte(t[i+1:], q)
		i += j + 2
		if string(name) == "xmlns" {
			tag.hasXMLNS = true
		}
	}
}

// checkName checks what the nameStart and nameChar tables let through in
// the name of an element or attribute: characters above ASCII are looked
// at only when there are any (XML 1.0 §2.3), and the name is a QName,
// with at most one colon, neither first nor last (Namespaces in XML 1.0
// §4), as a namespace-aware parser (a browser's) requires.
func checkName(name []byte) error {
	high, colons := false, 0
	for _, c := range name {
		high = high || c >= 0x80
		if c == ':' {
			colons++
		}
	}
	if high && !isName(name) {
		return fmt.Errorf("invalid name %q", name)
	}
	if colons > 0 && (colons > 1 || name[0] == ':' || name[len(name)-1] == ':') {
		return fmt.Errorf("name %q is not a qualified name", name)
	}
	return nil
}

// splitName splits a qualified name at its first colon.
func splitName(qname []byte) (prefix, local []byte) {
	if i := bytes.IndexByte(qname, ':'); i >= 0 {
		return qname[:i], qname[i+1:]
	}
	return nil, qname
}

// intern returns name as a string without allocating for the names that
// make up nearly all of a stream.
func intern(name []byte) string {
	switch string(name) {
	case "message":
		return "message"
	case "presence":
		return "presence"
	case "iq":
		return "iq"
	case "features":
		return "features"
	case "error":
		return "error"
	case "stream":
		return "stream"
	case "success":
		return "success"
	case "failure":
		return "failure"
	case "challenge":
		return "challenge"
	case "proceed":
		return "proceed"
	case "r":
		return "r"
	case "a":
		return "a"
	case "enabled":
		return "enabled"
	case "resumed":
		return "resumed"
	case "failed":
		return "failed"
	}
	return string(name)
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// nameStart and nameChar approximate XML 1.0 §2.3 NameStartChar and
// NameChar on bytes: any byte of a multi-byte UTF-8 sequence is accepted.
var nameStart, nameChar [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		start := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == ':' || b >= 0x80
		nameStart[c] = start
		nameChar[c] = start || b >= '0' && b <= '9' || b == '-' || b == '.'
	}
}
