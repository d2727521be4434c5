package xmppconn

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// split feeds in to a fresh splitter in pieces of the sizes next returns
// and collects elements until the input is used up or an error occurs.
func split(sp *Splitter, in []byte, next func() int) ([]Element, error) {
	var els []Element
	for len(in) > 0 {
		n := min(max(next(), 1), len(in))
		sp.Write(in[:n])
		in = in[n:]
		for {
			el, ok, err := sp.Next()
			if err != nil {
				return els, err
			}
			if !ok {
				break
			}
			els = append(els, el)
		}
	}
	return els, nil
}

// chunkings are the ways every table case is fed: at once, byte by byte,
// and in random pieces.
func chunkings() map[string]func() func() int {
	return map[string]func() func() int{
		"whole":  func() func() int { return func() int { return 1 << 30 } },
		"bytes":  func() func() int { return func() int { return 1 } },
		"random": func() func() int { r := rand.New(rand.NewPCG(1, 2)); return func() int { return 1 + r.IntN(17) } },
		"large":  func() func() int { r := rand.New(rand.NewPCG(3, 4)); return func() int { return 1 + r.IntN(700) } },
	}
}

// want is an expected element: its kind, name and raw bytes.
type want struct {
	kind Kind
	name string
	raw  string
}

func hdr(raw string) want      { return want{KindHeader, "stream", raw} }
func st(name, raw string) want { return want{KindStanza, name, raw} }

const (
	streamOpen  = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	streamClose = "</stream:stream>"
)

var endEl = want{KindEnd, "stream", streamClose}

func readFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSplitter(t *testing.T) {
	prosody := readFixture(t, "prosody-c2s.xml")
	ejabberd := readFixture(t, "ejabberd-c2s.xml")
	prosodyErr := readFixture(t, "prosody-streamerror.xml")
	cut := func(s, from, to string) string {
		i := strings.Index(s, from)
		j := strings.Index(s[i:], to)
		if i < 0 || j < 0 {
			t.Fatalf("fixture lacks %q...%q", from, to)
		}
		return s[i : i+j+len(to)]
	}

	tests := []struct {
		name  string
		in    string
		limit int
		depth int
		want  []want
		err   error
	}{
		{
			name: "prosody transcript",
			in:   prosody,
			want: []want{
				hdr(cut(prosody, "<?xml", "version='1.0'>")),
				{KindFeatures, "features", cut(prosody, "<stream:features>", "</stream:features>")},
				st("success", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
				hdr(cut(prosody[strings.Index(prosody, "<success"):], "<?xml", "version='1.0'>")),
				{KindFeatures, "features", cut(prosody, "<stream:features><ver", "</stream:features>")},
				st("iq", cut(prosody, "<iq type='result' id='b1'>", "</iq>")),
				st("iq", cut(prosody, "<iq type='result' id='r1'", "</iq>")),
				st("presence", cut(prosody, "<presence", "</presence>")),
				st("message", cut(prosody, "<message", "</message>")),
				st("iq", "<iq type='result' id='p1' to='alice@localhost/r'/>"),
				endEl,
			},
		},
		{
			name: "ejabberd transcript",
			in:   ejabberd,
			want: []want{
				hdr(cut(ejabberd, "<?xml", "'jabber:client'>")),
				{KindFeatures, "features", cut(ejabberd, "<stream:features>", "</stream:features>")},
				st("success", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"),
				hdr(cut(ejabberd[strings.Index(ejabberd, "<success"):], "<?xml", "'jabber:client'>")),
				{KindFeatures, "features", cut(ejabberd, "<stream:features><bind", "</stream:features>")},
				st("iq", cut(ejabberd, "<iq type='result' id='b1'>", "</iq>")),
				st("iq", cut(ejabberd, "<iq xml:lang='en' to='alice@localhost/r' from='alice@localhost' type='result' id='r1'>", "</iq>")),
				st("presence", cut(ejabberd, "<presence", "/>")),
				st("message", cut(ejabberd, "<message", "</message>")),
				st("iq", cut(ejabberd, "<iq xml:lang='en' to='alice@localhost/r' from='alice@localhost' type='result' id='p1'", "/>")),
				endEl,
			},
		},
		{
			name: "prosody stream error",
			in:   prosodyErr,
			want: []want{
				hdr(cut(prosodyErr, "<?xml", "'>")),
				{KindError, "error", cut(prosodyErr, "<stream:error>", "</stream:error>")},
				endEl,
			},
		},
		{
			name: "whitespace keepalives dropped",
			in:   "\n " + streamOpen + " \n<message/>\r\n\t \n<iq id='1'/> " + streamClose + "\n",
			want: []want{hdr(streamOpen), st("message", "<message/>"), st("iq", "<iq id='1'/>"), endEl},
		},
		{
			name: "quotes hide > and / in attribute values",
			in:   streamOpen + `<message to='a>b' id="x/y'>"><body a='/>' b=">">x &gt; y > z</body></message>`,
			want: []want{hdr(streamOpen), st("message", `<message to='a>b' id="x/y'>"><body a='/>' b=">">x &gt; y > z</body></message>`)},
		},
		{
			name: "CDATA may hold markup",
			in:   streamOpen + "<message><body><![CDATA[<not a='tag'> ]] ]> </body>]]></body></message>",
			want: []want{hdr(streamOpen), st("message", "<message><body><![CDATA[<not a='tag'> ]] ]> </body>]]></body></message>")},
		},
		{
			name: "prefixed elements and spaces in end tags",
			in:   streamOpen + "<foo:bar xmlns:foo='urn:x'><foo:baz/><baz ></baz\n></foo:bar >",
			want: []want{hdr(streamOpen), st("bar", "<foo:bar xmlns:foo='urn:x'><foo:baz/><baz ></baz\n></foo:bar >")},
		},
		{
			name: "restart with XML declaration inside the stream",
			in:   streamOpen + "<success/>\n<?xml version='1.0'?>\n" + streamOpen + "<stream:features/>",
			want: []want{hdr(streamOpen), st("success", "<success/>"), hdr("<?xml version='1.0'?>\n" + streamOpen), {KindFeatures, "features", "<stream:features/>"}},
		},
		{
			name: "processing instruction before a stanza is skipped",
			in:   streamOpen + "<?foo bar?> <message/>",
			want: []want{hdr(streamOpen), st("message", "<message/>")},
		},
		{
			name: "other stream prefix",
			in:   "<s:stream xmlns:s='http://etherx.jabber.org/streams'><s:features/><stream:features/><s:error><x/></s:error></s:stream>",
			want: []want{
				hdr("<s:stream xmlns:s='http://etherx.jabber.org/streams'>"),
				{KindFeatures, "features", "<s:features/>"},
				st("features", "<stream:features/>"),
				{KindError, "error", "<s:error><x/></s:error>"},
				{KindEnd, "stream", "</s:stream>"},
			},
		},
		{
			name: "UTF-8 names",
			in:   streamOpen + "<été xmlns='urn:x'><ü/></été>",
			want: []want{hdr(streamOpen), st("été", "<été xmlns='urn:x'><ü/></été>")},
		},
		{
			name:  "element of exactly the limit",
			in:    streamOpen + "<message>" + strings.Repeat("x", 100-len("<message></message>")) + "</message>",
			limit: 100,
			want:  []want{hdr(streamOpen), st("message", "<message>"+strings.Repeat("x", 100-len("<message></message>"))+"</message>")},
		},
		{
			name:  "nesting at the limit",
			in:    streamOpen + "<a><b><c/></b></a>",
			depth: 4,
			want:  []want{hdr(streamOpen), st("a", "<a><b><c/></b></a>")},
		},
		{
			name: "incomplete element waits",
			in:   streamOpen + "<message><body>hi</body>",
			want: []want{hdr(streamOpen)},
		},

		// Errors.
		{name: "comment in the stream", in: streamOpen + "<!-- hi -->", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "comment in a stanza", in: streamOpen + "<a><!-- hi --></a>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "DOCTYPE", in: "<!DOCTYPE stream>" + streamOpen, err: ErrNotWellFormed},
		{name: "unknown markup", in: streamOpen + "<a><!ENTITY x></a>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "end tag mismatch", in: streamOpen + "<message><body></message></body>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "end tag prefix mismatch", in: streamOpen + "<a:b></c:b>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "stream end tag mismatch", in: streamOpen + "</stream:strea>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "text at depth 1", in: streamOpen + " hello <a/>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "element before the header", in: "<message/>", err: ErrNotWellFormed},
		{name: "text before the header", in: "hello" + streamOpen, err: ErrNotWellFormed},
		{name: "element after the end", in: streamOpen + streamClose + "<a/>", want: []want{hdr(streamOpen), endEl}, err: ErrNotWellFormed},
		{name: "processing instruction in a stanza", in: streamOpen + "<a><?x y?></a>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "CDATA at depth 1", in: streamOpen + "<![CDATA[x]]>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "< in attribute value", in: streamOpen + "<a b='<'/>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "attribute without value", in: streamOpen + "<a b/>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "unquoted attribute", in: streamOpen + "<a b=c/>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "no space between attributes", in: streamOpen + "<a b='1'c='2'/>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "space after <", in: streamOpen + "< a/>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "slash inside a start tag", in: streamOpen + "<a / b='1'>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "malformed end tag", in: streamOpen + "<a></a b>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{name: "empty stream header", in: "<stream:stream/>", err: ErrNotWellFormed},
		{name: "< inside a tag", in: streamOpen + "<a <b>", want: []want{hdr(streamOpen)}, err: ErrNotWellFormed},
		{
			name:  "element over the limit",
			in:    streamOpen + "<message>" + strings.Repeat("x", 101-len("<message></message>")) + "</message><iq/>",
			limit: 100,
			want:  []want{hdr(streamOpen)},
			err:   ErrTooLarge,
		},
		{
			name:  "incomplete element over the limit",
			in:    streamOpen + "<message>" + strings.Repeat("x", 200),
			limit: 100,
			want:  []want{hdr(streamOpen)},
			err:   ErrTooLarge,
		},
		{
			name:  "incomplete tag over the limit",
			in:    streamOpen + "<message a='" + strings.Repeat("x", 200),
			limit: 100,
			want:  []want{hdr(streamOpen)},
			err:   ErrTooLarge,
		},
		{
			name:  "header over the limit",
			in:    "<stream:stream a='" + strings.Repeat("x", 200) + "'>",
			limit: 100,
			err:   ErrTooLarge,
		},
		{
			name:  "nesting over the limit",
			in:    streamOpen + "<a><b><c><d/></c></b></a>",
			depth: 4,
			want:  []want{hdr(streamOpen)},
			err:   ErrTooDeep,
		},
	}
	for _, tt := range tests {
		for cname, chunker := range chunkings() {
			t.Run(tt.name+"/"+cname, func(t *testing.T) {
				sp := &Splitter{MaxElementBytes: tt.limit, MaxDepth: tt.depth}
				els, err := split(sp, []byte(tt.in), chunker())
				if tt.err == nil && err != nil {
					t.Fatalf("error %v", err)
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				var got []want
				for _, el := range els {
					got = append(got, want{el.Kind, el.Name, string(el.Raw)})
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d elements, want %d:\n%+v\nwant\n%+v", len(got), len(tt.want), got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("element %d:\n got %v %q %q\nwant %v %q %q", i, got[i].kind, got[i].name, got[i].raw, tt.want[i].kind, tt.want[i].name, tt.want[i].raw)
					}
				}
				// After an error, every call returns it.
				if tt.err != nil {
					if _, _, err2 := sp.Next(); err2 != err {
						t.Errorf("second Next: %v, want the same error %v", err2, err)
					}
				}
			})
		}
	}
}

// TestSplitterStartTag checks NameEnd and HasXMLNS, which the BOSH binding
// uses to insert xmlns='jabber:client' (XEP-0206 §2).
func TestSplitterStartTag(t *testing.T) {
	tests := []struct {
		el       string
		nameEnd  int
		hasXMLNS bool
	}{
		{"<presence/>", 9, false},
		{"<iq\ttype='get'/>", 3, false},
		{"<message xmlns='jabber:client'/>", 8, true},
		{"<message  xmlns = \"jabber:client\" >x</message>", 8, true},
		{"<message xmlns:foo='urn:x'/>", 8, false},
		{"<message foo:xmlns='urn:x'/>", 8, false},
		{"<message a='xmlns=' />", 8, false},
		{"<message><x xmlns='urn:x'/></message>", 8, false},
		{"<sm:r xmlns:sm='urn:xmpp:sm:3'/>", 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.el, func(t *testing.T) {
			var sp Splitter
			sp.Write([]byte(streamOpen + tt.el))
			if _, ok, err := sp.Next(); !ok || err != nil {
				t.Fatalf("header: %v %v", ok, err)
			}
			el, ok, err := sp.Next()
			if !ok || err != nil {
				t.Fatalf("element: %v %v", ok, err)
			}
			if el.NameEnd != tt.nameEnd || el.HasXMLNS != tt.hasXMLNS {
				t.Errorf("NameEnd %d HasXMLNS %v, want %d %v", el.NameEnd, el.HasXMLNS, tt.nameEnd, tt.hasXMLNS)
			}
		})
	}
	// A header's NameEnd counts the XML declaration before it.
	var sp Splitter
	sp.Write([]byte("<?xml version='1.0'?>" + streamOpen))
	el, _, _ := sp.Next()
	if got := string(el.Raw[:el.NameEnd]); got != "<?xml version='1.0'?><stream:stream" {
		t.Errorf("header Raw[:NameEnd] = %q", got)
	}
}

// TestSplitterAllocs checks the hot path: one allocation per element (its
// Raw), none for scanning or for common element names.
func TestSplitterAllocs(t *testing.T) {
	var sp Splitter
	sp.Write([]byte(streamOpen))
	sp.Next()
	stanzas := []byte("<message to='a@b/c' type='chat'><body>hello</body><x xmlns='urn:x'><y a='1'/></x></message> <presence/><iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
	allocs := testing.AllocsPerRun(100, func() {
		sp.Write(stanzas)
		for {
			_, ok, err := sp.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
		}
	})
	if allocs > 3 {
		t.Errorf("%v allocations for 3 elements, want 3", allocs)
	}
}

// TestSplitterReleasesBuffer checks that a large element does not leave a
// large buffer behind in an idle splitter.
func TestSplitterReleasesBuffer(t *testing.T) {
	var sp Splitter
	sp.Write([]byte(streamOpen))
	sp.Next()
	big := "<message><body>" + strings.Repeat("x", 100<<10) + "</body></message>"
	for i := 0; i < len(big); i += 1000 {
		sp.fill(strings.NewReader(big[i:min(i+1000, len(big))]))
		for {
			_, ok, err := sp.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
		}
	}
	if cap(sp.buf) <= keepBufCap {
		t.Fatalf("buffer did not grow: cap %d", cap(sp.buf))
	}
	sp.fill(strings.NewReader(" "))
	if cap(sp.buf) > keepBufCap {
		t.Errorf("idle buffer cap %d, want at most %d", cap(sp.buf), keepBufCap)
	}
}

// TestSplitterErrorOffset checks that errors name the byte in the whole
// input, not in the buffer, after the buffer has been compacted.
func TestSplitterErrorOffset(t *testing.T) {
	var sp Splitter
	in := streamOpen + strings.Repeat("<a/>", 100) + "x"
	for i := 0; i < len(in); i += 7 {
		sp.Write([]byte(in[i:min(i+7, len(in))]))
		for {
			_, ok, err := sp.Next()
			if err != nil {
				want := "at byte " + strconv.Itoa(len(in)-1)
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not say %q", err, want)
				}
				return
			}
			if !ok {
				break
			}
		}
	}
	t.Fatal("no error")
}
