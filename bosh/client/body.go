package client

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// XML namespaces the client speaks.
const (
	// NSHTTPBind qualifies the <body/> wrapper (XEP-0124 §6).
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	// NSXBOSH qualifies xmpp:version, xmpp:restart and xmpp:restartlogic
	// (XEP-0206 §3, §4, §5).
	NSXBOSH = "urn:xmpp:xbosh"
	// NSStream is the namespace of <stream:features/> and <stream:error/>
	// (RFC 6120 §4.8.1; XEP-0206 §2).
	NSStream = "http://etherx.jabber.org/streams"
	// NSClient is the namespace of top-level stanzas (RFC 6120 §4.8.3).
	NSClient = "jabber:client"
	// NSSASL is the namespace of SASL negotiation elements (RFC 6120 §6.4).
	NSSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
	// NSBind is the namespace of resource binding (RFC 6120 §7).
	NSBind = "urn:ietf:params:xml:ns:xmpp-bind"
	// NSSession is the namespace of the legacy session establishment
	// (RFC 3921 §3; draft-cridland-xmpp-session).
	NSSession = "urn:ietf:params:xml:ns:xmpp-session"
)

// ErrMalformed is wrapped by every error of [ParseBody]: the bytes are not
// one <body/> wrapper as XEP-0124 §6 defines it.
var ErrMalformed = errors.New("client: malformed body")

// Body is one parsed <body/> wrapper (XEP-0124 §6): its attributes, its
// child elements ("payloads") and, when it came over HTTP, the response
// metadata.
//
// Attrs is keyed by the attribute's qualified name as it was sent
// ("sid", "xml:lang", "xmlns:stream"), with one normalisation: an attribute
// whose prefix is bound on the wrapper to urn:xmpp:xbosh is always keyed
// "xmpp:" + local name ("xmpp:restartlogic", "xmpp:version"), whatever
// prefix the sender chose. Namespace declarations are kept ("xmlns",
// "xmlns:xmpp", "xmlns:stream") so that tests can check them. Values are
// entity-decoded.
//
// Payloads are the children exactly as sent, each a subslice of Raw; they
// inherit the namespace declarations of the wrapper (a <stream:features/>
// relies on the wrapper's xmlns:stream, a stanza without xmlns on the
// wrapper's default namespace). Raw must not be modified.
type Body struct {
	Attrs    map[string]string
	Payloads [][]byte
	Raw      []byte

	// HTTPStatus, ContentType and Header describe the HTTP response that
	// carried the body; they are zero for a body parsed from bytes.
	HTTPStatus  int
	ContentType string
	Header      http.Header
}

// Type returns the type attribute: "" for a normal body, "terminate" for a
// terminal binding condition (XEP-0124 §17.2), "error" for a recoverable
// one (§17.3).
func (b *Body) Type() string { return b.Attrs["type"] }

// Condition returns the condition attribute of a terminal body
// (XEP-0124 §17.2).
func (b *Body) Condition() string { return b.Attrs["condition"] }

// Uint returns the attribute name as an unsigned integer (rid, ack,
// report, wait, requests...); ok is false when it is absent or not a
// number.
func (b *Body) Uint(name string) (v uint64, ok bool) {
	s, ok := b.Attrs[name]
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// maxDepth bounds element nesting inside a body.
const maxDepth = 256

// maxAttrs bounds the attributes of one start tag.
const maxAttrs = 256

// ParseBody parses one <body/> wrapper. It is a single-pass scanner over
// the bytes, not a DOM: payloads stay subslices of raw, so the cost is a
// handful of allocations whatever the number of stanzas.
//
// It checks what XEP-0124 §6 requires of a body: UTF-8 XML characters,
// one root element <body/> in namespace NSHTTPBind, complete and properly
// nested child elements, only white space as direct character data, no
// comments, processing instructions or DTDs inside the wrapper, only the
// five predefined entities and character references, and no undeclared
// namespace prefix (namespace well-formedness, which browsers' XML parsers
// enforce). An XML declaration, byte-order mark, comments and white space
// before the wrapper, and white space after it, are accepted.
func ParseBody(raw []byte) (*Body, error) {
	if err := checkChars(raw); err != nil {
		return nil, err
	}
	p := scanners.Get().(*scanner)
	defer p.release()
	p.b, p.i = raw, 0
	if err := p.prolog(); err != nil {
		return nil, err
	}
	b := &Body{Raw: raw}
	if err := p.wrapper(b); err != nil {
		return nil, err
	}
	return b, nil
}

// scanners recycles scanner state (a few hundred bytes of span buffers).
var scanners = sync.Pool{New: func() any { return new(scanner) }}

func (p *scanner) release() {
	if cap(p.attrs) > 64 || cap(p.stack) > 64 || cap(p.decls) > 64 {
		return // grown by an unusual body: let it go
	}
	p.b = nil
	scanners.Put(p)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// checkChars rejects invalid UTF-8 and characters outside the XML Char
// production (XML 1.0 §2.2).
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return malformed("control character %#x at offset %d", c, i)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return malformed("invalid UTF-8 at offset %d", i)
		}
		if !isXMLChar(r) {
			return malformed("character %U at offset %d", r, i)
		}
		i += n
	}
	return nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// span is a half-open byte range of the scanned input.
type span struct{ start, end int }

// attrSpan locates one attribute of a start tag.
type attrSpan struct {
	name, value span
	escaped     bool // value holds '&' or '\r' and must be decoded
}

// nsDecl is a prefix declared by an element at depth.
type nsDecl struct {
	prefix span
	value  span
	depth  int
}

type scanner struct {
	b     []byte
	i     int
	attrs []attrSpan
	decls []nsDecl
	stack []span
}

func (p *scanner) str(s span) []byte { return p.b[s.start:s.end] }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *scanner) skipSpace() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *scanner) has(prefix string) bool {
	return len(p.b)-p.i >= len(prefix) && string(p.b[p.i:p.i+len(prefix)]) == prefix
}

// skipPast moves past the first occurrence of end, or fails.
func (p *scanner) skipPast(end, what string) error {
	j := bytes.Index(p.b[p.i:], []byte(end))
	if j < 0 {
		return malformed("unterminated %s", what)
	}
	p.i += j + len(end)
	return nil
}

// prolog skips a byte-order mark, an XML declaration, comments and white
// space before the root element.
func (p *scanner) prolog() error {
	if p.has("\xef\xbb\xbf") {
		p.i += 3
	}
	for {
		p.skipSpace()
		switch {
		case p.has("<?"):
			// XML 1.0 §2.6: a processing instruction starts with its target's name.
			p.i += 2
			if _, err := p.name(); err != nil {
				return malformed("processing instruction without a target")
			}
			if err := p.skipPast("?>", "processing instruction"); err != nil {
				return err
			}
		case p.has("<!--"):
			p.i += 4
			if err := p.skipPast("-->", "comment"); err != nil {
				return err
			}
		case p.has("<!"):
			return malformed("DTD before <body/>")
		case p.i >= len(p.b):
			return malformed("no <body/> element")
		case p.b[p.i] != '<':
			return malformed("text before <body/>")
		default:
			return nil
		}
	}
}

// name scans an XML name (XML 1.0 §2.3, with ':' allowed as in Namespaces
// in XML: at most one, not first, not last).
func (p *scanner) name() (span, error) {
	start := p.i
	colons := 0
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c < utf8.RuneSelf {
			ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':'
			if p.i > start {
				ok = ok || '0' <= c && c <= '9' || c == '-' || c == '.'
			}
			if !ok {
				break
			}
			if c == ':' {
				colons++
			}
			p.i++
			continue
		}
		r, n := utf8.DecodeRune(p.b[p.i:])
		ok := unicode.IsLetter(r) || r == '_'
		if p.i > start {
			ok = ok || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) ||
				unicode.Is(unicode.Lm, r) || r == 0xB7
		}
		if !ok {
			break
		}
		p.i += n
	}
	s := span{start, p.i}
	if s.start == s.end {
		return s, malformed("expected a name at offset %d", start)
	}
	if colons > 1 || p.b[s.start] == ':' || p.b[s.end-1] == ':' {
		return s, malformed("bad qualified name %q", p.str(s))
	}
	return s, nil
}

// prefixOf returns the prefix of a qualified name, or an empty span.
func (p *scanner) prefixOf(s span) span {
	for j := s.start; j < s.end; j++ {
		if p.b[j] == ':' {
			return span{s.start, j}
		}
	}
	return span{s.start, s.start}
}

// startTag scans '<' name attributes ('>' | '/>') into p.attrs.
func (p *scanner) startTag() (name span, empty bool, err error) {
	p.i++ // '<'
	if name, err = p.name(); err != nil {
		return
	}
	p.attrs = p.attrs[:0]
	for {
		sp := p.i
		p.skipSpace()
		if p.i >= len(p.b) {
			return name, false, malformed("unterminated start tag <%s", p.str(name))
		}
		switch p.b[p.i] {
		case '>':
			p.i++
			return name, false, nil
		case '/':
			if p.i+1 < len(p.b) && p.b[p.i+1] == '>' {
				p.i += 2
				return name, true, nil
			}
			return name, false, malformed("stray '/' in <%s>", p.str(name))
		}
		if p.i == sp {
			return name, false, malformed("missing space before attribute in <%s>", p.str(name))
		}
		var a attrSpan
		if a.name, err = p.name(); err != nil {
			return
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != '=' {
			return name, false, malformed("attribute %q without value", p.str(a.name))
		}
		p.i++
		p.skipSpace()
		if p.i >= len(p.b) || (p.b[p.i] != '\'' && p.b[p.i] != '"') {
			return name, false, malformed("unquoted value of attribute %q", p.str(a.name))
		}
		q := p.b[p.i]
		p.i++
		a.value.start = p.i
		for ; p.i < len(p.b) && p.b[p.i] != q; p.i++ {
			switch p.b[p.i] {
			case '<':
				return name, false, malformed("'<' in value of attribute %q", p.str(a.name))
			case '&':
				a.escaped = true
				if err = p.checkRef(); err != nil {
					return
				}
				p.i-- // checkRef moved past ';'
			case '\r':
				a.escaped = true
			}
		}
		if p.i >= len(p.b) {
			return name, false, malformed("unterminated value of attribute %q", p.str(a.name))
		}
		a.value.end = p.i
		p.i++
		for _, o := range p.attrs {
			if string(p.str(o.name)) == string(p.str(a.name)) {
				return name, false, malformed("duplicate attribute %q", p.str(a.name))
			}
		}
		if len(p.attrs) >= maxAttrs {
			return name, false, malformed("too many attributes in <%s>", p.str(name))
		}
		p.attrs = append(p.attrs, a)
	}
}

// checkRef validates the reference at p.i ('&') and moves past its ';'.
func (p *scanner) checkRef() error {
	start := p.i
	end := start + 1
	for end < len(p.b) && p.b[end] != ';' && end-start < 40 {
		end++
	}
	if end >= len(p.b) || p.b[end] != ';' {
		return malformed("invalid reference at offset %d", start)
	}
	ref := string(p.b[start+1 : end])
	if _, ok := decodeRef(ref); !ok {
		return malformed("invalid reference &%s;", ref)
	}
	p.i = end + 1
	return nil
}

// decodeRef decodes the body of a reference ("amp", "#38", "#x26").
func decodeRef(ref string) (rune, bool) {
	switch ref {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	digits, base := ref[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil || n > unicode.MaxRune || !isXMLChar(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

// decodeValue resolves references and line ends in an attribute value the
// way encoding/xml does (\r\n and \r become \n).
func decodeValue(v []byte) string {
	var sb strings.Builder
	sb.Grow(len(v))
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '&':
			j := i + 1
			for v[j] != ';' {
				j++
			}
			r, _ := decodeRef(string(v[i+1 : j]))
			sb.WriteRune(r)
			i = j
		case '\r':
			sb.WriteByte('\n')
			if i+1 < len(v) && v[i+1] == '\n' {
				i++
			}
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// declare records the namespace declarations of the current start tag at
// depth, and returns the default namespace it declares, if any.
func (p *scanner) declare(depth int) (defNS span, hasDef bool) {
	for _, a := range p.attrs {
		n := p.str(a.name)
		switch {
		case string(n) == "xmlns":
			defNS, hasDef = a.value, true
		case len(n) > 6 && string(n[:6]) == "xmlns:":
			p.decls = append(p.decls, nsDecl{prefix: span{a.name.start + 6, a.name.end}, value: a.value, depth: depth})
		}
	}
	return
}

// lookup returns the namespace declaration in scope for prefix.
func (p *scanner) lookup(prefix []byte) (nsDecl, bool) {
	for j := len(p.decls) - 1; j >= 0; j-- {
		if string(p.str(p.decls[j].prefix)) == string(prefix) {
			return p.decls[j], true
		}
	}
	return nsDecl{}, false
}

// checkPrefixes fails if the element name or an attribute uses a prefix
// that is not declared (Namespaces in XML §5).
func (p *scanner) checkPrefixes(name span) error {
	check := func(q span, attr bool) error {
		pre := p.str(p.prefixOf(q))
		if len(pre) == 0 || string(pre) == "xml" || attr && string(pre) == "xmlns" {
			return nil
		}
		if string(pre) == "xmlns" {
			return malformed("element name %q uses the reserved prefix xmlns", p.str(q))
		}
		if _, ok := p.lookup(pre); !ok {
			return malformed("undeclared prefix %q in %q", pre, p.str(q))
		}
		return nil
	}
	if err := check(name, false); err != nil {
		return err
	}
	for _, a := range p.attrs {
		if err := check(a.name, true); err != nil {
			return err
		}
	}
	return nil
}

// wrapper scans the <body/> element and everything after it.
func (p *scanner) wrapper(b *Body) error {
	p.attrs = p.attrs[:0]
	p.stack = p.stack[:0]
	p.decls = p.decls[:0]
	tagStart := p.i
	name, empty, err := p.startTag()
	if err != nil {
		return err
	}
	defNS, hasDef := p.declare(0)
	if err := p.checkPrefixes(name); err != nil {
		return err
	}
	// The wrapper must be httpbind's <body/>.
	pre := p.prefixOf(name)
	local := p.str(span{pre.end, name.end})
	if pre.end > pre.start {
		local = local[1:]
		d, _ := p.lookup(p.str(pre))
		defNS, hasDef = d.value, true
	}
	if string(local) != "body" {
		return malformed("root element is <%s/>, not <body/>", p.str(name))
	}
	if !hasDef || string(p.str(defNS)) != NSHTTPBind {
		return malformed("<body/> is not in namespace %s", NSHTTPBind)
	}

	// Attributes: one string for the whole start tag, keys and plain values
	// are substrings of it.
	tag := string(p.b[tagStart:p.i])
	sub := func(s span) string { return tag[s.start-tagStart : s.end-tagStart] }
	b.Attrs = make(map[string]string, len(p.attrs))
	for _, a := range p.attrs {
		key := sub(a.name)
		if pa := p.prefixOf(a.name); pa.end > pa.start {
			if d, ok := p.lookup(p.str(pa)); ok && string(p.str(d.value)) == NSXBOSH && string(p.str(pa)) != "xmpp" {
				key = "xmpp:" + key[pa.end-pa.start+1:]
			}
		}
		if a.escaped {
			b.Attrs[key] = decodeValue(p.str(a.value))
		} else {
			b.Attrs[key] = sub(a.value)
		}
	}

	if !empty {
		if err := p.children(b, name); err != nil {
			return err
		}
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return malformed("data after </body>")
	}
	return nil
}

// children scans the content of the wrapper, cutting each top-level child
// element out of the input.
func (p *scanner) children(b *Body, wrapper span) error {
	depth := 0 // elements open inside the wrapper
	childStart := 0
	for {
		// Character data up to the next markup.
		for p.i < len(p.b) && p.b[p.i] != '<' {
			switch p.b[p.i] {
			case '&':
				if depth == 0 {
					return malformed("character data directly inside <body/>")
				}
				if err := p.checkRef(); err != nil {
					return err
				}
				continue
			case ' ', '\t', '\n', '\r':
			default:
				if depth == 0 {
					return malformed("character data directly inside <body/>")
				}
			}
			p.i++
		}
		if p.i >= len(p.b) {
			return malformed("unclosed <%s>", p.str(wrapper))
		}
		switch {
		case p.has("</"):
			p.i += 2
			n, err := p.name()
			if err != nil {
				return err
			}
			p.skipSpace()
			if p.i >= len(p.b) || p.b[p.i] != '>' {
				return malformed("bad end tag </%s", p.str(n))
			}
			p.i++
			if depth == 0 {
				if string(p.str(n)) != string(p.str(wrapper)) {
					return malformed("</%s> closes <%s>", p.str(n), p.str(wrapper))
				}
				return nil
			}
			top := p.stack[len(p.stack)-1]
			if string(p.str(n)) != string(p.str(top)) {
				return malformed("</%s> closes <%s>", p.str(n), p.str(top))
			}
			p.stack = p.stack[:len(p.stack)-1]
			p.popDecls(depth)
			depth--
			if depth == 0 {
				b.addPayload(p.b[childStart:p.i:p.i])
			}
		case p.has("<![CDATA["):
			if depth == 0 {
				return malformed("character data directly inside <body/>")
			}
			p.i += 9
			if err := p.skipPast("]]>", "CDATA section"); err != nil {
				return err
			}
		case p.has("<!--"):
			return malformed("comment inside <body/>")
		case p.has("<?"):
			return malformed("processing instruction inside <body/>")
		case p.has("<!"):
			return malformed("DTD or directive inside <body/>")
		default:
			start := p.i
			n, empty, err := p.startTag()
			if err != nil {
				return err
			}
			p.declare(depth + 1)
			if err := p.checkPrefixes(n); err != nil {
				return err
			}
			if depth == 0 {
				childStart = start
			}
			if empty {
				p.popDecls(depth + 1)
				if depth == 0 {
					b.addPayload(p.b[start:p.i:p.i])
				}
				continue
			}
			if depth >= maxDepth {
				return malformed("elements nested deeper than %d", maxDepth)
			}
			depth++
			p.stack = append(p.stack, n)
		}
	}
}

// addPayload appends a payload, sized for a typical batch at first.
func (b *Body) addPayload(p []byte) {
	if b.Payloads == nil {
		b.Payloads = make([][]byte, 0, 4)
	}
	b.Payloads = append(b.Payloads, p)
}

// popDecls forgets the declarations made at depth.
func (p *scanner) popDecls(depth int) {
	for len(p.decls) > 0 && p.decls[len(p.decls)-1].depth >= depth {
		p.decls = p.decls[:len(p.decls)-1]
	}
}
