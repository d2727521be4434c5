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

	"boshd/bosh/endpoint"
)

func TestParseAccept(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want endpoint.Encodings
	}{
		{"gzip", endpoint.Encodings(0).With(endpoint.Gzip)},
		{"deflate", endpoint.Encodings(0).With(endpoint.Deflate)},
		{"gzip deflate", endpoint.AllEncodings},  // XEP-0124 v1.11: space-separated
		{"gzip,deflate", endpoint.AllEncodings},  // earlier versions: comma-separated
		{"GZIP, deflate", endpoint.AllEncodings}, // both, any case
		{"br zstd", 0},
		{"", 0},
	} {
		if got := parseAccept(tt.in); got != tt.want {
			t.Errorf("parseAccept(%q) = %b, want %b", tt.in, got, tt.want)
		}
	}
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

// TestCompressionAcceptAttribute: an 'accept' attribute on the creation
// request limits the session's answers to the codings it lists, whatever
// each request's Accept-Encoding says.
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
			sid, up, _ := h.open(10, 10, extra)
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

// TestCompressionReload: http.compression is reloadable: a session
// created while it was off gets compressed answers once a reload turns it
// on, for the requests that arrive after the reload.
func TestCompressionReload(t *testing.T) {
	h := newHarness(t, nil)
	sid, up, _ := h.open(10, 10, "")
	poll := func(rid uint64) string {
		done := make(chan string)
		go func() {
			resp, _ := postRaw(t, h.srv.URL, body(rid, sid, "", ""), "gzip")
			done <- resp.Header.Get("Content-Encoding")
		}()
		h.waitParked(1)
		up.Push(t, bigStanza(3000))
		return <-done
	}
	if enc := poll(11); enc != "" {
		t.Fatalf("compression off: Content-Encoding %q", enc)
	}
	cfg := *h.h.config()
	cfg.Compression = true
	h.h.Reload(cfg)
	if enc := poll(12); enc != "gzip" {
		t.Fatalf("after the reload turned compression on: Content-Encoding %q, want gzip", enc)
	}
}

// TestCreationResponseAccept: with compression on, the creation response
// says accept='gzip' (XEP-0124 §7.2: the codings boshd decompresses in
// requests); with it off, nothing.
func TestCreationResponseAccept(t *testing.T) {
	for _, on := range []bool{true, false} {
		h := newHarness(t, func(c *Config) { c.Compression = on })
		_, _, created := h.open(10, 10, "")
		got := created.attr("accept")
		if want := map[bool]string{true: "gzip", false: ""}[on]; got != want {
			t.Errorf("compression %v: accept=%q, want %q", on, got, want)
		}
	}
}

// TestCompressedRequests: after accept='gzip', a client may send its
// requests compressed (XEP-0124 §7.2). boshd decodes gzip and deflate
// bodies and forwards their payloads; refuses a body that inflates past
// max_body_bytes (413), a coding it does not know (415) and bytes that do
// not decode (400); and, with compression off, decodes nothing.
func TestCompressedRequests(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		io.WriteString(w, s)
		w.Close()
		return b.Bytes()
	}
	zl := func(s string) []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		io.WriteString(w, s)
		w.Close()
		return b.Bytes()
	}
	h := newHarness(t, func(c *Config) { c.Compression = true; c.MaxBodyBytes = 4096 })
	// wait='1': each request below is held until its wait runs out.
	sid, up, _ := h.open(10, 1, "")
	post := func(h *harness, enc string, raw []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL, bytes.NewReader(raw))
		req.Header.Set("Content-Encoding", enc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i, tt := range []struct {
		enc  string
		pack func(string) []byte
	}{{"gzip", gz}, {"deflate", zl}} {
		rid := uint64(11 + i)
		id := fmt.Sprintf("m%d", i)
		status, ans := post(h, tt.enc, tt.pack(body(rid, sid, "", "<message xmlns='jabber:client' to='b@localhost' id='"+id+"'/>")))
		if status != 200 || strings.Contains(ans, "terminate") {
			t.Fatalf("%s request: %d %s", tt.enc, status, ans)
		}
		if el := up.Next(t); !strings.Contains(string(el.Raw), "id='"+id+"'") {
			t.Fatalf("%s request: upstream got %s", tt.enc, el.Raw)
		}
	}
	bomb := gz(body(13, sid, "", "<message xmlns='jabber:client'><body>"+strings.Repeat("x", 8192)+"</body></message>"))
	if len(bomb) >= 4096 {
		t.Fatalf("the bomb is %d bytes, not below the limit", len(bomb))
	}
	for _, tt := range []struct {
		name   string
		enc    string
		raw    []byte
		status int
	}{
		{"inflates past max_body_bytes", "gzip", bomb, http.StatusRequestEntityTooLarge},
		{"unknown coding", "br", []byte("xx"), http.StatusUnsupportedMediaType},
		{"not gzip", "gzip", []byte(body(13, sid, "", "")), http.StatusBadRequest},
	} {
		if status, ans := post(h, tt.enc, tt.raw); status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, status, ans, tt.status)
		}
	}

	off := newHarness(t, nil)
	offSID, _, _ := off.open(10, 10, "")
	if _, ans := post(off, "gzip", gz(body(11, offSID, "", ""))); !strings.Contains(ans, "condition='bad-request'") {
		t.Errorf("compression off, gzip request: %s, want bad-request (nothing decoded)", ans)
	}
}
