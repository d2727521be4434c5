package bosh

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"
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
		{"session allows deflate only", Compression{On: true, MinBytes: 100, Allowed: parseAccept("deflate"), AcceptEncoding: "gzip, deflate"}, 5000, Deflate},
		{"session allows gzip only", Compression{On: true, MinBytes: 100, Allowed: parseAccept("gzip"), AcceptEncoding: "deflate"}, 5000, Identity},
		{"session allows nothing", Compression{On: true, MinBytes: 100, Allowed: parseAccept("identity"), AcceptEncoding: "gzip"}, 5000, Identity},
	} {
		if got := tt.c.Choose(tt.n); got != tt.want {
			t.Errorf("%s: Choose(%d) with %q = %q, want %q", tt.name, tt.n, tt.c.AcceptEncoding, got, tt.want)
		}
	}
}

func TestParseAccept(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Encodings
	}{
		{"gzip", 1 << Gzip},
		{"deflate", 1 << Deflate},
		{"gzip deflate", AllEncodings},  // XEP-0124 v1.11: space-separated
		{"gzip,deflate", AllEncodings},  // earlier versions: comma-separated
		{"GZIP, deflate", AllEncodings}, // both, any case
		{"br zstd", 0},
		{"", 0},
	} {
		if got := parseAccept(tt.in); got != tt.want {
			t.Errorf("parseAccept(%q) = %b, want %b", tt.in, got, tt.want)
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

// bigMessage is a stanza from the server, bigStanza one of about n bytes.
const bigMessage = `<message from='a@localhost' to='b@localhost' type='chat' id='big'><body>%s</body></message>`

func bigStanza(n int) string {
	return fmt.Sprintf(bigMessage, strings.Repeat("hello compressed world ", n/23+1))
}

// postRaw posts body with the given Accept-Encoding ("" sends none) and
// returns the answer as it came on the wire (not decoded).
func postRaw(t testing.TB, url, body, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	// DisableCompression: net/http neither adds Accept-Encoding nor
	// decodes behind the test's back.
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

func varyAcceptEncoding(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}

// TestCompressedAnswers: an empty poll held, then answered by upstream
// data, comes back compressed as its Accept-Encoding asks when the data
// is above the threshold, plain otherwise; on both answer paths (parked on
// a taken-over connection, and held the net/http way), with the same
// bytes on both; Vary: Accept-Encoding on every answer while compression
// is on, and nothing of it while off.
func TestCompressedAnswers(t *testing.T) {
	big, small := bigStanza(3000), bigStanza(200)
	wire := map[string][]byte{} // Accept-Encoding and size -> the bytes parked sent
	for _, parked := range []bool{true, false} {
		for _, tt := range []struct {
			name    string
			on      bool
			ae      string
			stanza  string
			wantEnc string
		}{
			{"gzip asked", true, "gzip", big, "gzip"},
			{"deflate asked", true, "deflate", big, "deflate"},
			{"browser list", true, "gzip, deflate, br", big, "gzip"},
			{"nothing asked", true, "", big, ""},
			{"below the threshold", true, "gzip", small, ""},
			{"compression off", false, "gzip", big, ""},
		} {
			name := fmt.Sprintf("%s/parked=%v", tt.name, parked)
			t.Run(name, func(t *testing.T) {
				h := newHarnessServing(t, func(c *Config) { c.Compression = tt.on }, parked)
				sid, up, _ := h.open(10, 10, "")
				done := make(chan struct{})
				var resp *http.Response
				var raw []byte
				go func() {
					defer close(done)
					resp, raw = postRaw(t, h.srv.URL, body(11, sid, "", ""), tt.ae)
				}()
				if parked {
					h.waitParked(1)
				} else {
					h.waitOpen(sid, 11)
				}
				up.Push(t, tt.stanza)
				<-done
				if got := resp.Header.Get("Content-Encoding"); got != tt.wantEnc {
					t.Fatalf("Content-Encoding %q, want %q", got, tt.wantEnc)
				}
				if resp.ContentLength != int64(len(raw)) {
					t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(raw))
				}
				if got := varyAcceptEncoding(resp.Header); got != tt.on {
					t.Errorf("Vary %q: Accept-Encoding listed %v, want %v", resp.Header.Values("Vary"), got, tt.on)
				}
				plain := decode(t, tt.wantEnc, raw)
				if !bytes.Contains(plain, []byte("id='big'")) || !bytes.HasPrefix(plain, []byte("<body ")) {
					t.Fatalf("answer decodes to %.200q", plain)
				}
				if tt.wantEnc != "" && len(raw) >= len(plain) {
					t.Errorf("%d bytes compressed from %d", len(raw), len(plain))
				}
				key := tt.name
				if prev, ok := wire[key]; !ok {
					wire[key] = raw
				} else if !bytes.Equal(prev, raw) {
					t.Errorf("the parked and net/http paths sent different bytes:\n%q\n%q", prev, raw)
				}
			})
		}
	}
}

// TestCompressionAcceptAttribute: boshd decompresses no request, so its
// creation response carries no 'accept' attribute (XEP-0124 §7.2 makes it
// the list of codings the connection manager can decompress); an 'accept'
// attribute on the creation request limits the session's answers to the
// codings it lists, whatever each request's Accept-Encoding says.
func TestCompressionAcceptAttribute(t *testing.T) {
	for _, tt := range []struct {
		accept  string // the creation request's attribute; "-" for none
		wantEnc string
	}{
		{"-", "gzip"},
		{"gzip deflate", "gzip"},
		{"gzip,deflate", "gzip"},
		{"deflate", "deflate"},
		{"br", ""},
	} {
		t.Run(tt.accept, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.Compression = true })
			extra := ""
			if tt.accept != "-" {
				extra = fmt.Sprintf(" accept='%s'", tt.accept)
			}
			sid, up, created := h.open(10, 10, extra)
			if v := created.root.SelectAttr("accept"); v != nil {
				t.Errorf("creation response has accept=%q; boshd decompresses no request", v.Value)
			}
			done := make(chan struct{})
			var resp *http.Response
			go func() {
				defer close(done)
				resp, _ = postRaw(t, h.srv.URL, body(11, sid, "", ""), "gzip, deflate")
			}()
			h.waitOpen(sid, 11)
			up.Push(t, bigStanza(3000))
			<-done
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEnc {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.wantEnc)
			}
		})
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
