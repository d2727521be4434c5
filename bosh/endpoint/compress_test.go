package endpoint

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
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

// stanzas returns a <body/> of about n bytes of chat messages, the
// typical content of a large answer: varied words (a fixed pseudo-random
// sequence), so that it compresses like text rather than like one
// sentence repeated.
func stanzas(n int) []byte {
	words := strings.Fields(`the a to and of in is it you that for on was with he as
		have be at one this had by word but not what all were we when your can said
		there use an each which she do how their if will up other about out many then
		them these so some her would make like him into time has look two more write go
		see number no way could people my than first water been call who oil its now
		find long down day did get come made may part meeting tomorrow lunch deploy
		release build server client session ok thanks sure later tonight weekend`)
	rnd := rand.New(rand.NewPCG(1, 2))
	b := []byte("<body xmlns='http://jabber.org/protocol/httpbind'>")
	for i := 0; len(b) < n-len("</body>"); i++ {
		b = fmt.Appendf(b, "<message xmlns='jabber:client' from='user%d@example.com/web-%x' to='bob@example.com/phone' type='chat' id='%x'><body>", rnd.IntN(50), rnd.Uint32(), rnd.Uint64())
		for j := 5 + rnd.IntN(30); j > 0; j-- {
			b = append(b, words[rnd.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = append(b, "</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"...)
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
				cpu := cpuTime()
				for b.Loop() {
					out, _ = c.Encode(body)
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(len(out))/float64(len(body)), "ratio")
			})
		}
		// For comparison only: gzip at the library's default level (6),
		// which boshd does not use (compressionLevel).
		b.Run(fmt.Sprintf("gzip-level6/%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
			var out bytes.Buffer
			cpu := cpuTime()
			for b.Loop() {
				out.Reset()
				w.Reset(&out)
				w.Write(body)
				w.Close()
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(out.Len())/float64(len(body)), "ratio")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used, in ns:
// on a shared machine it counts the work done, not the waiting for a core
// that ns/op includes.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func TestDecodeBody(t *testing.T) {
	plain := stanzas(2048)
	enc := func(e Encoding) []byte {
		out, _ := Compression{On: true, Allowed: AllEncodings, AcceptEncoding: e.String()}.Encode(plain)
		return out
	}
	for _, tt := range []struct {
		ce      string
		raw     []byte
		max     int64
		wantErr error // nil: decodes to plain
	}{
		{"", plain, 4096, nil},
		{"identity", plain, 4096, nil},
		{"gzip", enc(Gzip), 4096, nil},
		{" GZIP ", enc(Gzip), 4096, nil},
		{"deflate", enc(Deflate), 4096, nil},
		{"gzip", enc(Gzip), int64(len(plain)) - 1, ErrBodyTooLarge},
		{"br", plain, 4096, ErrUnsupportedEncoding},
		{"gzip", plain, 4096, errNotDecoded},
		{"gzip", enc(Gzip)[:40], 4096, errNotDecoded},
	} {
		got, err := DecodeBody(tt.ce, tt.raw, tt.max)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("%q: %v", tt.ce, err)
		case tt.wantErr == nil && !bytes.Equal(got, plain):
			t.Errorf("%q: decodes to %.60q", tt.ce, got)
		case tt.wantErr == errNotDecoded && (err == nil || errors.Is(err, ErrBodyTooLarge) || errors.Is(err, ErrUnsupportedEncoding)):
			t.Errorf("%q, %d bytes of garbage: err %v", tt.ce, len(tt.raw), err)
		case tt.wantErr != nil && tt.wantErr != errNotDecoded && !errors.Is(err, tt.wantErr):
			t.Errorf("%q (limit %d): err %v, want %v", tt.ce, tt.max, err, tt.wantErr)
		}
	}
}

// errNotDecoded marks, in TestDecodeBody, bytes that are not in the coding
// they claim: any error but the two named ones.
var errNotDecoded = errors.New("not decoded")
