package bosh

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"boshd/xmppconn"
)

// ErrBadBody is wrapped by every error of [ParseBody]: the request is not
// one well-formed <body/> wrapper (XEP-0124 §6), which the binding answers
// with the terminal condition bad-request.
var ErrBadBody = errors.New("bosh: malformed body")

// Attr is one attribute of the <body/> wrapper. Space is the attribute's
// namespace URI ("" for unqualified attributes, NSXBOSH for xmpp:restart).
type Attr struct {
	Space, Local, Value string
}

// Body is a parsed request: the wrapper's attributes and its child
// elements ("payloads"), each exactly as the client sent it.
type Body struct {
	Attrs    []Attr
	Payloads [][]byte
}

// Get returns the value of the unqualified attribute name.
func (b *Body) Get(name string) (string, bool) {
	for _, a := range b.Attrs {
		if a.Space == "" && a.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// GetNS returns the value of the attribute local in namespace space. For
// NSXBOSH it also accepts any prefixed attribute with that local name,
// because some clients bind the xmpp prefix to a wrong namespace
// (see docs: Swift sends urn:xmpp:bosh).
func (b *Body) GetNS(space, local string) (string, bool) {
	var loose string
	found := false
	for _, a := range b.Attrs {
		if a.Local != local || a.Space == "" {
			continue
		}
		if a.Space == space {
			return a.Value, true
		}
		if space == NSXBOSH && !found {
			loose, found = a.Value, true
		}
	}
	return loose, found
}

// maxAttrs bounds the attributes of one wrapper; real clients send fewer
// than fifteen.
const maxAttrs = 64

// maxDepth bounds nesting inside a request body.
const maxDepth = 64

// maxDecls bounds the prefix declarations in scope inside one payload,
// which every prefixed name is looked up in; stanzas declare a few.
const maxDecls = 256

// ParseBody parses one request body. It accepts a leading byte-order mark,
// XML declaration and white space (clients send them; XEP-0124 §6 does not
// forbid the declaration), and rejects anything XEP-0124 §6 excludes:
// character data directly inside the wrapper, comments, processing
// instructions and DTDs inside it, partial or mismatched elements, and a
// root element other than httpbind's <body/>.
func ParseBody(raw []byte) (*Body, error) {
	var steps int
	return parseBody(raw, &steps)
}

// parseBody is ParseBody; it adds to *steps the comparisons its checks of
// names made (dupAttr, usePrefix), so that a test can see that they grow
// linearly with the input instead of timing the parse.
func parseBody(raw []byte, steps *int) (*Body, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	if start, ok := scanEmptyWrapper(raw); ok {
		return wrapper(start, steps) // most requests: an empty poll (wrapper.go)
	}
	return parseBodyXML(raw, steps)
}

// parseBodyXML is parseBody with encoding/xml, for every body that
// scanEmptyWrapper does not take.
func parseBodyXML(raw []byte, steps *int) (*Body, error) {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	bad := badBody

	// Prolog: an optional declaration, white space, nothing else.
	var start xml.StartElement
	for {
		tok, err := d.RawToken()
		if err != nil {
			if err == io.EOF {
				return nil, bad("no <body/> element")
			}
			return nil, bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return nil, bad("processing instruction before <body/>")
			}
			continue
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, bad("text before <body/>")
			}
			continue
		case xml.StartElement:
			start = t
		default:
			return nil, bad("%T before <body/>", tok)
		}
		break
	}
	b, err := wrapper(start, steps)
	if err != nil {
		return nil, err
	}
	prefixes, defaultNS := wrapperScope(start)
	// Children: complete elements, cut out of raw by offset. A payload
	// that uses a prefix declared only on the wrapper gets the declaration
	// copied into its own start tag, since it travels on without the
	// wrapper (XEP-0124 §6 lets the wrapper declare them).
	var stack []xml.Name
	var scope []nsDecl // prefixes declared inside the current payload
	var borrowed []string
	childStart := int64(0)
	for {
		before := d.InputOffset()
		tok, err := d.RawToken()
		if err != nil {
			if err == io.EOF {
				return nil, bad("unclosed <body/>")
			}
			return nil, bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				childStart = before
				scope, borrowed = scope[:0], borrowed[:0]
				if t.Name.Local == "body" && t.Name.Space == "" && attrValue(t.Attr, "", "xmlns", defaultNS) == NSHTTPBind {
					return nil, bad("<body/> inside <body/>")
				}
			}
			if len(stack) >= maxDepth {
				return nil, bad("nested deeper than %d", maxDepth)
			}
			if dupAttr(t.Attr, steps) {
				return nil, bad("an attribute of <%s> appears twice", t.Name.Local)
			}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" {
					if len(scope) >= maxDecls {
						return nil, bad("more than %d namespace declarations in one payload", maxDecls)
					}
					scope = append(scope, nsDecl{prefix: a.Name.Local, depth: len(stack)})
				}
			}
			if err := usePrefix(t.Name.Space, scope, prefixes, &borrowed, steps); err != nil {
				return nil, bad("%v", err)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" {
					if err := usePrefix(a.Name.Space, scope, prefixes, &borrowed, steps); err != nil {
						return nil, bad("%v", err)
					}
				}
			}
			stack = append(stack, t.Name)
		case xml.EndElement:
			if len(stack) == 0 {
				if t.Name != start.Name {
					return nil, bad("</%s> closes <body/>", t.Name.Local)
				}
				return b, checkEpilog(d)
			}
			if top := stack[len(stack)-1]; top != t.Name {
				return nil, bad("</%s> closes <%s>", t.Name.Local, top.Local)
			}
			stack = stack[:len(stack)-1]
			for len(scope) > 0 && scope[len(scope)-1].depth >= len(stack) {
				scope = scope[:len(scope)-1]
			}
			if len(stack) == 0 {
				p := raw[childStart:d.InputOffset()]
				if err := xmppconn.CheckElement(p); err != nil {
					return nil, bad("%v", err) // what encoding/xml lets through (issue 11)
				}
				if len(borrowed) > 0 {
					p = declare(p, t.Name, borrowed, prefixes)
				}
				b.Payloads = append(b.Payloads, p)
			}
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) != 0 {
				return nil, bad("text directly inside <body/>")
			}
		case xml.Comment:
			return nil, bad("comment inside <body/>")
		case xml.ProcInst:
			return nil, bad("processing instruction inside <body/>")
		case xml.Directive:
			return nil, bad("DTD or directive inside <body/>")
		}
	}
}

// badBody wraps ErrBadBody.
func badBody(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadBody}, args...)...)
}

// wrapper checks the <body/> start tag (XEP-0124 §6: httpbind's namespace,
// no attribute twice, prefixes declared) and returns the Body with its
// attributes, namespaces resolved. It adds dupAttr's comparisons to *steps.
func wrapper(start xml.StartElement, steps *int) (*Body, error) {
	bad := badBody
	if start.Name.Local != "body" {
		return nil, bad("root element is <%s/>, not <body/>", start.Name.Local)
	}
	if len(start.Attr) > maxAttrs {
		return nil, bad("too many attributes")
	}
	if dupAttr(start.Attr, steps) {
		return nil, bad("an attribute appears twice in <body/>")
	}
	wrapperNS, _ := lookupPrefix(start.Attr, start.Name.Space)
	if wrapperNS != NSHTTPBind {
		return nil, bad("<body/> is not in namespace %s", NSHTTPBind)
	}
	b := &Body{Attrs: make([]Attr, 0, len(start.Attr))}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		space := ""
		if a.Name.Space != "" {
			var ok bool
			if space, ok = lookupPrefix(start.Attr, a.Name.Space); !ok {
				return nil, bad("undeclared prefix %q", a.Name.Space)
			}
		}
		b.Attrs = append(b.Attrs, Attr{Space: space, Local: a.Name.Local, Value: a.Value})
	}

	return b, nil
}

// lookupPrefix returns the namespace that prefix ("" for the default
// namespace) is bound to by the wrapper's own declarations, as wrapperScope
// would map it, without building the map.
func lookupPrefix(attrs []xml.Attr, prefix string) (string, bool) {
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	ns, found := "", prefix == ""
	for _, a := range attrs {
		if prefix == "" && a.Name.Space == "" && a.Name.Local == "xmlns" ||
			prefix != "" && a.Name.Space == "xmlns" && a.Name.Local == prefix {
			ns, found = a.Value, true
		}
	}
	return ns, found
}

// wrapperScope returns the prefixes and the default namespace declared on
// the wrapper itself.
func wrapperScope(start xml.StartElement) (prefixes map[string]string, defaultNS string) {
	prefixes = map[string]string{"xml": "http://www.w3.org/XML/1998/namespace"}
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			defaultNS = a.Value
		case a.Name.Space == "xmlns":
			prefixes[a.Name.Local] = a.Value
		}
	}
	return prefixes, defaultNS
}

// checkEpilog allows only white space after </body>.
func checkEpilog(d *xml.Decoder) error {
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: after </body>: %v", ErrBadBody, err)
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) != 0 {
			return fmt.Errorf("%w: content after </body>", ErrBadBody)
		}
	}
}

// dupAttr reports whether an attribute name appears twice, which makes
// the document not well-formed (XML 1.0 §3.1). Pairwise for the few
// attributes real elements have; a set for many, which would otherwise
// cost quadratic time. It adds the comparisons it makes to *steps.
func dupAttr(attrs []xml.Attr, steps *int) bool {
	if len(attrs) > 16 {
		*steps += len(attrs)
		seen := make(map[xml.Name]struct{}, len(attrs))
		for _, a := range attrs {
			if _, ok := seen[a.Name]; ok {
				return true
			}
			seen[a.Name] = struct{}{}
		}
		return false
	}
	for i := 1; i < len(attrs); i++ {
		*steps += i
		for j := 0; j < i; j++ {
			if attrs[i].Name == attrs[j].Name {
				return true
			}
		}
	}
	return false
}

// attrValue returns the value of the attribute prefix:local, or def.
func attrValue(attrs []xml.Attr, prefix, local, def string) string {
	for _, a := range attrs {
		if a.Name.Space == prefix && a.Name.Local == local {
			return a.Value
		}
	}
	return def
}

// nsDecl is a prefix declared at some depth inside a payload.
type nsDecl struct {
	prefix string
	depth  int
}

// usePrefix checks that prefix is declared, inside the payload or on the
// wrapper; in the latter case it is noted in borrowed. It adds the
// declarations it compares with (at most maxDecls, then the borrowed ones)
// to *steps.
func usePrefix(prefix string, scope []nsDecl, wrapper map[string]string, borrowed *[]string, steps *int) error {
	if prefix == "" || prefix == "xml" {
		return nil
	}
	*steps += len(scope) + len(*borrowed)
	for i := len(scope) - 1; i >= 0; i-- {
		if scope[i].prefix == prefix {
			return nil
		}
	}
	if _, ok := wrapper[prefix]; !ok {
		return fmt.Errorf("undeclared prefix %q", prefix)
	}
	for _, p := range *borrowed {
		if p == prefix {
			return nil
		}
	}
	*borrowed = append(*borrowed, prefix)
	return nil
}

// declare returns a copy of the payload p, whose root element is name,
// with declarations of the borrowed prefixes added to its start tag.
func declare(p []byte, name xml.Name, borrowed []string, wrapper map[string]string) []byte {
	n := 1 + len(name.Local) // '<' and the name
	if name.Space != "" {
		n += len(name.Space) + 1
	}
	out := make([]byte, 0, len(p)+64*len(borrowed))
	out = append(out, p[:n]...)
	for _, prefix := range borrowed {
		out = xmppconn.AppendAttr(out, "xmlns:"+prefix, wrapper[prefix])
	}
	return append(out, p[n:]...)
}
