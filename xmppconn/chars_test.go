package xmppconn

import (
	"errors"
	"strings"
	"testing"
)

// TestSplitterCharacters checks the well-formedness the splitter enforces
// on characters and references (chars.go), in character data, attribute
// values, CDATA sections, names and XML declarations, however the bytes
// are cut into pieces: what a strict XML parser accepts passes byte-exact,
// the rest is ErrNotWellFormed with the offset of the fault.
func TestSplitterCharacters(t *testing.T) {
	tests := charCases()
	decls := []struct {
		name string
		decl string
		bad  bool
	}{
		{name: "declaration", decl: "<?xml version='1.0'?>"},
		{name: "full declaration", decl: "<?xml version=\"1.0\" encoding='utf-8' standalone='no' ?>"},
		{name: "version 1.1", decl: "<?xml version='1.1'?>", bad: true},
		{name: "Latin-1", decl: "<?xml version='1.0' encoding='ISO-8859-1'?>", bad: true},
		{name: "no version", decl: "<?xml encoding='UTF-8'?>", bad: true},
		{name: "junk in the declaration", decl: "<?xml version='1.0' foo?>", bad: true},
		{name: "control character in a PI", decl: "<?x \x01?>", bad: true},
		{name: "PI without a target", decl: "<? x?>", bad: true},
	}
	for _, d := range decls {
		bad := ""
		if d.bad {
			bad = d.decl
		}
		tests = append(tests, charCase{name: d.name, in: d.decl + streamOpen, bad: bad})
	}
	for _, tt := range tests {
		for cname, chunker := range chunkings() {
			t.Run(tt.name+"/"+cname, func(t *testing.T) {
				in, at := streamOpen+tt.in, len(streamOpen)
				if strings.HasPrefix(tt.in, "<?") {
					in, at = tt.in, 0
				}
				els, err := split(&Splitter{}, []byte(in), chunker())
				if tt.bad == "" {
					if err != nil || len(els) == 0 || string(els[len(els)-1].Raw) != in[at:] {
						t.Fatalf("got %q, %v; want %q", raws(els), err, tt.in)
					}
					return
				}
				if !errors.Is(err, ErrNotWellFormed) {
					t.Fatalf("got %q, %v; want ErrNotWellFormed", raws(els), err)
				}
				// The error names the offset of the fault, within the
				// element.
				where := at + strings.Index(tt.in, tt.bad)
				if !strings.Contains(err.Error(), " at byte ") || errOffset(t, err) < at || errOffset(t, err) > where+len(tt.bad) {
					t.Errorf("error %q: want an offset in [%d, %d]", err, at, where+len(tt.bad))
				}
			})
		}
	}
}

// errOffset reads the offset an error of the splitter ends with.
func errOffset(t *testing.T, err error) int {
	t.Helper()
	s := err.Error()
	i := strings.LastIndex(s, " at byte ")
	n := 0
	for _, c := range s[i+len(" at byte "):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// charCase is a top-level element (or an XML declaration and a header)
// and where it breaks the rules, if it does.
type charCase struct {
	name string
	in   string
	bad  string // "" if in is well-formed, else where the error points
}

func charCases() []charCase {
	return []charCase{
		{name: "predefined entities", in: "<a b='&lt;&gt;&amp;&apos;&quot;'>&lt;&gt;&amp;&apos;&quot;</a>"},
		{name: "character references", in: "<a b='&#65;&#x41;&#x10FFFF;'>&#9;&#xA;&#13;&#x1F600;&#xFFFD;&#xE000;&#0000065;</a>"},
		{name: "UTF-8", in: "<a b='é😀'>é 中文 😀 \u07ff\u0800\ufffd\U00010000\U0010ffff</a>"},
		{name: "tab, LF, CR, DEL", in: "<a b='\t\n\r\x7f'>\t\n\r\x7f</a>"},
		{name: "]] and > apart", in: "<a b=']]>'>]] > ]>]]&gt;<b/>]]</a>"},
		{name: "CDATA", in: "<a><![CDATA[<&é]]]></a>"},
		{name: "non-ASCII names", in: "<é xmlns='x' ñ·='1'><a·b/></é>"},
		{name: "qualified names", in: "<a:b xmlns:a='x' a:c='1'/>"},

		{name: "NUL in text", in: "<a>x\x00</a>", bad: "\x00"},
		{name: "control character in text", in: "<a>x\x1b[31m</a>", bad: "\x1b"},
		{name: "control character in an attribute", in: "<a b='\x01'/>", bad: "\x01"},
		{name: "control character in CDATA", in: "<a><![CDATA[\x0c]]></a>", bad: "\x0c"},
		{name: "invalid UTF-8 in text", in: "<a>x\xff</a>", bad: "\xff"},
		{name: "invalid UTF-8 in an attribute", in: "<a b='\xc3('/>", bad: "\xc3"},
		{name: "stray continuation byte", in: "<a>\x80</a>", bad: "\x80"},
		{name: "overlong encoding", in: "<a>\xc0\xbc</a>", bad: "\xc0"},
		{name: "encoded surrogate", in: "<a>\xed\xa0\x80</a>", bad: "\xed"},
		{name: "U+FFFE", in: "<a>\xef\xbf\xbe</a>", bad: "\xef"},
		{name: "U+FFFF in an attribute", in: "<a b='\xef\xbf\xbf'/>", bad: "\xef"},
		{name: "truncated sequence", in: "<a>\xe4\xb8</a>", bad: "\xe4"},
		{name: "&#0;", in: "<a>&#0;</a>", bad: "&#0;"},
		{name: "&#x0; in an attribute", in: "<a b='&#x0;'/>", bad: "&#x0;"},
		{name: "control character reference", in: "<a>&#x1B;</a>", bad: "&#x1B;"},
		{name: "surrogate reference", in: "<a>&#xD800;</a>", bad: "&#xD800;"},
		{name: "&#xFFFE;", in: "<a>&#xFFFE;</a>", bad: "&#xFFFE;"},
		{name: "reference past U+10FFFF", in: "<a>&#x110000;</a>", bad: "&#x110000;"},
		{name: "huge reference", in: "<a>&#99999999999;</a>", bad: "&#99999999999;"},
		{name: "uppercase X", in: "<a>&#X41;</a>", bad: "&#X41;"},
		{name: "no digits", in: "<a>&#x;</a>", bad: "&#x;"},
		{name: "decimal with hex digits", in: "<a>&#1a;</a>", bad: "&#1a;"},
		{name: "undefined entity", in: "<a>&unknown;</a>", bad: "&unknown;"},
		{name: "undefined entity in an attribute", in: "<a b='&nbsp;'/>", bad: "&nbsp;"},
		{name: "bare &", in: "<a>fish & chips</a>", bad: "& "},
		{name: "bare & in an attribute", in: "<a b='x&y'/>", bad: "&y"},
		{name: "empty reference", in: "<a>&;</a>", bad: "&;"},
		{name: "unterminated reference", in: "<a>&amp</a>", bad: "&amp<"},
		{name: "long reference", in: "<a>&#x0000000000000041;</a>", bad: "&#x0000000000000041;"},
		{name: "]]> in text", in: "<a>x]]>y</a>", bad: "]]>"},
		{name: "invalid name character", in: "<a×/>", bad: "a×"},
		{name: "invalid UTF-8 in a name", in: "<a\xff/>", bad: "a\xff"},
		{name: "invalid attribute name", in: "<a b\xd7\x90×='1'/>", bad: "b\xd7\x90×"},
		{name: "two colons", in: "<a:b:c/>", bad: "a:b:c"},
		{name: "leading colon in an attribute", in: "<a :b='1'/>", bad: ":b"},
		{name: "trailing colon", in: "<a:/>", bad: "a:"},
	}
}

// TestCheckElement: CheckElement, for BOSH payloads, agrees with the
// splitter on every case, and points at the fault; one element alone.
func TestCheckElement(t *testing.T) {
	tests := charCases()
	tests = append(tests,
		charCase{name: "two elements", in: "<a/><b/>", bad: "<b/>"},
		charCase{name: "incomplete", in: "<a><b/>", bad: "<a>"},
		charCase{name: "text after", in: "<a/>x", bad: "x"},
		charCase{name: "comment", in: "<a><!-- x --></a>", bad: "<!--"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckElement([]byte(tt.in))
			switch {
			case tt.bad == "":
				if err != nil {
					t.Fatalf("CheckElement(%q) = %v, want nil", tt.in, err)
				}
			case !errors.Is(err, ErrNotWellFormed):
				t.Fatalf("CheckElement(%q) = %v, want ErrNotWellFormed", tt.in, err)
			case strings.Contains(err.Error(), " at byte ") && errOffset(t, err) > strings.Index(tt.in, tt.bad)+len(tt.bad):
				t.Errorf("error %q points past the fault at %d", err, strings.Index(tt.in, tt.bad))
			}
		})
	}
}
