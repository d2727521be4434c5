package endpoint

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"testing"
)

func TestCompressionChoose(t *testing.T) {
	on := Compression{On: true, MinBytes: 100, Allowed: AllEncodings}
	with := func(c Compression, ae string) Compression { c.AcceptEncoding = ae; return c }
	for _, tt := range []struct {
		name string
		c    Compression
		n    int
		want Encoding
	}{
		{"off", Compression{MinBytes: 100, Allowed: AllEncodings, AcceptEncoding: "gzip"}, 5000, Identity},
		{"zero value", Compression{}, 5000, Identity},
		{"no Accept-Encoding", on, 5000, Identity},
		{"gzip", with(on, "gzip"), 5000, Gzip},
		{"deflate", with(on, "deflate"), 5000, Deflate},
		{"browser list", with(on, "gzip, deflate, br, zstd"), 5000, Gzip},
		{"tie prefers gzip", with(on, "deflate, gzip"), 5000, Gzip},
		{"higher q wins", with(on, "gzip;q=0.5, deflate"), 5000, Deflate},
		{"q with spaces", with(on, "gzip ; q=0.2 , deflate;q=0.3"), 5000, Deflate},
		{"gzip refused", with(on, "gzip;q=0"), 5000, Identity},
		{"gzip refused, deflate left", with(on, "gzip;q=0, deflate"), 5000, Deflate},
		{"case-insensitive", with(on, "GZIP;Q=1"), 5000, Gzip},
		{"x-gzip", with(on, "x-gzip"), 5000, Gzip},
		{"star", with(on, "*"), 5000, Gzip},
		{"star refuses the unlisted", with(on, "deflate;q=0.1, *;q=0"), 5000, Deflate},
		{"star but gzip refused", with(on, "gzip;q=0, *"), 5000, Deflate},
		{"only unknown codings", with(on, "br, zstd"), 5000, Identity},
		{"identity", with(on, "identity"), 5000, Identity},
		{"malformed q is refusal", with(on, "gzip;q=abc"), 5000, Identity},
		{"q above 1 is refusal", with(on, "gzip;q=2"), 5000, Identity},
		{"below threshold", with(on, "gzip"), 99, Identity},
		{"at threshold", with(on, "gzip"), 100, Gzip},
		{"empty answer", Compression{On: true, Allowed: AllEncodings, AcceptEncoding: "gzip"}, 0, Identity},
		{"session allows deflate only", Compression{On: true, MinBytes: 100, Allowed: Encodings(0).With(Deflate), AcceptEncoding: "gzip, deflate"}, 5000, Deflate},
		{"session allows gzip only", Compression{On: true, MinBytes: 100, Allowed: Encodings(0).With(Gzip), AcceptEncoding: "deflate"}, 5000, Identity},
		{"session allows nothing", Compression{On: true, MinBytes: 100, Allowed: Encodings(0), AcceptEncoding: "gzip"}, 5000, Identity},
	} {
		if got := tt.c.Choose(tt.n); got != tt.want {
			t.Errorf("%s: Choose(%d) with %q = %q, want %q", tt.name, tt.n, tt.c.AcceptEncoding, got, tt.want)
		}
	}
}

// stanzas returns a <body/> of about n bytes of message stanzas, the
// typical content of a large answer.
func stanzas(n int) []byte {
	b := []byte("<body xmlns='http://jabber.org/protocol/httpbind'>")
	for i := 0; len(b) < n-len("</body>"); i++ {
		b = fmt.Appendf(b, "<message xmlns='jabber:client' from='alice@example.com/phone' to='bob@example.com/web' type='chat' id='m%d'><body>message number %d, with some text in it</body></message>", i, i)
	}
	return append(b, "</body>"...)
}

func decode(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch enc {
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	case "":
		return b
	default:
		t.Fatalf("Content-Encoding %q", enc)
	}
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	return out
}

// TestCompressionEncode: what Encode returns decodes to the answer with
// the standard readers, is smaller, is the same bytes each time (both
// answer paths send the same), and an answer left plain is not copied.
func TestCompressionEncode(t *testing.T) {
	body := stanzas(4096)
	for _, ae := range []string{"gzip", "deflate", "br"} {
		c := Compression{On: true, MinBytes: 1024, Allowed: AllEncodings, AcceptEncoding: ae}
		out, enc := c.Encode(body)
		if enc == Identity {
			if ae != "br" || &out[0] != &body[0] {
				t.Errorf("%s: left plain (%d bytes)", ae, len(out))
			}
			continue
		}
		if enc.String() != ae {
			t.Errorf("Accept-Encoding %s: coding %s", ae, enc)
		}
		if len(out) >= len(body)/2 {
			t.Errorf("%s: %d bytes from %d", ae, len(out), len(body))
		}
		if got := decode(t, enc.String(), out); !bytes.Equal(got, body) {
			t.Errorf("%s: decodes to %q", ae, got)
		}
		again, _ := c.Encode(body)
		if !bytes.Equal(again, out) {
			t.Errorf("%s: a second Encode gives other bytes", ae)
		}
	}
}

// TestCompressionApply: the header fields that go with the bytes sent.
func TestCompressionApply(t *testing.T) {
	body := stanzas(2048)
	for _, tt := range []struct {
		name     string
		c        Compression
		wantEnc  string
		wantVary bool
	}{
		{"compressed", Compression{On: true, MinBytes: 1024, Allowed: AllEncodings, AcceptEncoding: "gzip"}, "gzip", true},
		{"on, plain", Compression{On: true, MinBytes: 1024, Allowed: AllEncodings}, "", true},
		{"off", Compression{AcceptEncoding: "gzip"}, "", false},
	} {
		hdr := http.Header{"Vary": {"Origin"}}
		out := tt.c.Apply(hdr, body)
		if got := hdr.Get("Content-Encoding"); got != tt.wantEnc {
			t.Errorf("%s: Content-Encoding %q, want %q", tt.name, got, tt.wantEnc)
		}
		if got := hdr.Get("Content-Length"); got != fmt.Sprint(len(out)) {
			t.Errorf("%s: Content-Length %s for %d bytes", tt.name, got, len(out))
		}
		want := []string{"Origin"}
		if tt.wantVary {
			want = append(want, "Accept-Encoding")
		}
		if got := hdr.Values("Vary"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: Vary %q, want %q", tt.name, got, want)
		}
		if got := decode(t, tt.wantEnc, out); !bytes.Equal(got, body) {
			t.Errorf("%s: decodes to %.80q", tt.name, got)
		}
	}
}

// BenchmarkCompress is the CPU cost of compressing one answer of typical
// sizes (docs/benchmarks.md, "HTTP compression"); ratio is compressed
// size over plain size.
func BenchmarkCompress(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10} {
		body := stanzas(size)
		for _, ae := range []string{"gzip", "deflate"} {
			c := Compression{On: true, MinBytes: 1, Allowed: AllEncodings, AcceptEncoding: ae}
			b.Run(fmt.Sprintf("%s/%dKB", ae, size>>10), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				var out []byte
				for b.Loop() {
					out, _ = c.Encode(body)
				}
				b.ReportMetric(float64(len(out))/float64(len(body)), "ratio")
			})
		}
	}
}
