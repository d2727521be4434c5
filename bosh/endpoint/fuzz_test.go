package endpoint

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzCompression checks the Accept-Encoding parser and the encoder
// together: whatever the header, the coding chosen is one the session
// allows (or none) and one the header names (or "*"), and what Encode
// returns decodes (DecodeBody, the request side's decoder) to the body it
// was given.
func FuzzCompression(f *testing.F) {
	f.Add("gzip, deflate, br", uint8(AllEncodings), []byte("<body xmlns='http://jabber.org/protocol/httpbind'/>"))
	f.Add("deflate;q=0.5, gzip;q=0", uint8(AllEncodings), []byte("<message><body>hello hello hello</body></message>"))
	f.Add("*;q=0.1, identity", uint8(1<<Deflate), []byte{})
	f.Add("gzip;q=abc,,;,=", uint8(0), []byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, ae string, allowed uint8, body []byte) {
		c := Compression{On: true, MinBytes: 1, Allowed: Encodings(allowed) & AllEncodings, AcceptEncoding: ae}
		out, e := c.Encode(body)
		if e != Identity && !c.Allowed.has(e) {
			t.Fatalf("%q with set %b chose %s", ae, c.Allowed, e)
		}
		if lower := strings.ToLower(ae); e != Identity && !strings.Contains(lower, e.String()) && !strings.Contains(lower, "*") {
			t.Fatalf("%s chosen from %q, which does not name it", e, ae)
		}
		got, err := DecodeBody(e.String(), out, int64(len(body)))
		if err != nil {
			t.Fatalf("%s of %d bytes does not decode: %v", e, len(body), err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("%s round trip changed the body", e)
		}
	})
}

// FuzzDecodeBody: whatever bytes claim to be gzip or deflate, DecodeBody
// never panics and never returns more than the limit.
func FuzzDecodeBody(f *testing.F) {
	gz, _ := Compression{On: true, Allowed: AllEncodings, AcceptEncoding: "gzip"}.Encode(bytes.Repeat([]byte("<presence/>"), 200))
	zl, _ := Compression{On: true, Allowed: AllEncodings, AcceptEncoding: "deflate"}.Encode(bytes.Repeat([]byte("<presence/>"), 200))
	f.Add(true, gz)
	f.Add(false, zl)
	f.Add(true, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, gzip bool, raw []byte) {
		ce := "deflate"
		if gzip {
			ce = "gzip"
		}
		const max = 1000
		out, err := DecodeBody(ce, raw, max)
		if err == nil && len(out) > max {
			t.Fatalf("%d bytes decoded past the limit of %d", len(out), max)
		}
		if errors.Is(err, ErrUnsupportedEncoding) {
			t.Fatalf("%s reported unsupported", ce)
		}
	})
}
