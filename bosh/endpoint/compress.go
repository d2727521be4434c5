package endpoint

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// HTTP compression of answers (RFC 9110 §8.4, §12.5.3), for the front
// ends whose protocol allows it: XEP-0124 §5 lets a connection manager
// compress a response with a coding the request's Accept-Encoding lists;
// XEP-0025 answers are plain HTTP responses too.
//
// It is off unless the front end turns it on: an answer that carries a
// secret (a SASL exchange, a token, a message) beside text an attacker can
// choose (a message the attacker sends to the victim, a nickname) leaks the
// secret through the compressed length to anyone who can watch the sizes
// of the answers on the wire (BREACH, CVE-2013-3587); TLS does not hide
// lengths.

// Encoding is the content coding of one answer (RFC 9110 §8.4.1).
type Encoding uint8

// The codings boshd applies. Identity is no coding at all.
const (
	Identity Encoding = iota
	Gzip              // RFC 1952, "gzip"
	Deflate           // RFC 1950 zlib around RFC 1951 deflate, "deflate" (RFC 9110 §8.4.1.2)
)

// String returns the coding's name as Content-Encoding spells it ("" for
// Identity).
func (e Encoding) String() string {
	switch e {
	case Gzip:
		return "gzip"
	case Deflate:
		return "deflate"
	}
	return ""
}

// Encodings is a set of codings a session may use.
type Encodings uint8

// AllEncodings is every coding boshd applies: the set of a session whose
// protocol negotiates none (a BOSH session whose creation request had no
// 'accept' attribute, every XEP-0025 session).
const AllEncodings = Encodings(1<<Gzip | 1<<Deflate)

func (s Encodings) has(e Encoding) bool { return e != Identity && s&(1<<e) != 0 }

// With returns the set with e added.
func (s Encodings) With(e Encoding) Encodings {
	if e == Identity {
		return s
	}
	return s | 1<<e
}

// Compression is what chooses the coding of an answer: the endpoint's
// switch and threshold, the session's set and the request's
// Accept-Encoding. The zero value compresses nothing.
type Compression struct {
	// On is the front end's switch.
	On bool
	// MinBytes: answers shorter than this are never compressed.
	MinBytes int
	// Allowed is the set of codings the session may use (AllEncodings
	// unless the protocol negotiates fewer).
	Allowed Encodings
	// AcceptEncoding is the request's Accept-Encoding header.
	AcceptEncoding string
}

// Choose returns the coding for an answer of n bytes: the one the
// request's Accept-Encoding prefers (RFC 9110 §12.5.3: the highest
// q-value, q=0 meaning "not acceptable", "*" any coding not listed;
// gzip before deflate on a tie) among the session's set, or Identity when
// compression is off, the answer is shorter than MinBytes, the request has
// no Accept-Encoding (RFC 9110 then allows any coding, but a client that
// decodes says so), or nothing acceptable is left.
func (c Compression) Choose(n int) Encoding {
	if !c.On || n < c.MinBytes || n == 0 || c.Allowed == 0 || c.AcceptEncoding == "" {
		return Identity
	}
	var q [3]int // per Encoding, in thousandths; -1 not listed
	q[Gzip], q[Deflate] = -1, -1
	star := -1
	for _, item := range strings.Split(c.AcceptEncoding, ",") {
		name, params, _ := strings.Cut(item, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		w := qvalue(params)
		switch name {
		case "gzip", "x-gzip":
			q[Gzip] = max(q[Gzip], w)
		case "deflate":
			q[Deflate] = max(q[Deflate], w)
		case "*":
			star = max(star, w)
		}
	}
	best, bestQ := Identity, 0
	for _, e := range [...]Encoding{Gzip, Deflate} {
		w := q[e]
		if w < 0 {
			w = star
		}
		if c.Allowed.has(e) && w > bestQ {
			best, bestQ = e, w
		}
	}
	return best
}

// qvalue reads the weight of an Accept-Encoding item (";q=0.5"), in
// thousandths; no q means 1. A malformed weight counts as 0: not
// acceptable, the safe reading.
func qvalue(params string) int {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0
		}
		return int(f * 1000)
	}
	return 1000
}

// Encode returns body as the request should get it, and its coding: body
// itself for Identity, else a new slice holding the compressed bytes. It
// is a pure function of its arguments (the writers it borrows go back to
// their pools reset): every path an answer takes (net/http's, a parked
// connection's in package bosh) sends the same bytes for the same answer.
func (c Compression) Encode(body []byte) ([]byte, Encoding) {
	e := c.Choose(len(body))
	if e == Identity {
		return body, Identity
	}
	return compress(e, body), e
}

// Apply encodes body with Encode and sets the header fields that go with
// it: Content-Encoding when compressed, Content-Length of what is sent,
// and, while compression is on, Vary: Accept-Encoding, on plain answers
// too, since any answer of the endpoint depends on it (RFC 9110 §12.5.5).
// It returns the bytes to send.
func (c Compression) Apply(hdr http.Header, body []byte) []byte {
	out, enc := c.Encode(body)
	if c.On {
		hdr.Add("Vary", "Accept-Encoding")
	}
	if enc != Identity {
		hdr.Set("Content-Encoding", enc.String())
	}
	hdr.Set("Content-Length", strconv.Itoa(len(out)))
	return out
}

// For returns c for the answers to r: with r's Accept-Encoding.
func (c Compression) For(r *http.Request) Compression {
	if c.On {
		c.AcceptEncoding = r.Header.Get("Accept-Encoding")
	}
	return c
}

// compressionLevel trades ratio for CPU: on chat stanzas level 1 gives
// answers 3–6 % larger than the library's default level 6 for half its
// CPU or less (docs/benchmarks.md, "HTTP compression").
const compressionLevel = flate.BestSpeed

// The writers hold the compressor's window and tables (hundreds of KB):
// pooled, one answer does not allocate them.
var (
	gzipWriters = sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(nil, compressionLevel)
		return w
	}}
	zlibWriters = sync.Pool{New: func() any {
		w, _ := zlib.NewWriterLevel(nil, compressionLevel)
		return w
	}}
)

// compress encodes body with e (Gzip or Deflate) into a new slice.
func compress(e Encoding, body []byte) []byte {
	// XML stanzas shrink to well under half; the buffer grows if not.
	out := bytes.NewBuffer(make([]byte, 0, len(body)/2+64))
	switch e {
	case Gzip:
		w := gzipWriters.Get().(*gzip.Writer)
		w.Reset(out)
		w.Write(body) // a bytes.Buffer does not fail
		w.Close()
		w.Reset(nil)
		gzipWriters.Put(w)
	case Deflate:
		w := zlibWriters.Get().(*zlib.Writer)
		w.Reset(out)
		w.Write(body)
		w.Close()
		w.Reset(nil)
		zlibWriters.Put(w)
	default:
		panic("endpoint: compress with " + strconv.Itoa(int(e)))
	}
	return out.Bytes()
}

// ErrUnsupportedEncoding is a request body in a content coding the
// endpoint does not decode (RFC 9110 §15.5.16: 415).
var ErrUnsupportedEncoding = errors.New("endpoint: unsupported Content-Encoding")

// DecodeBody undoes a request body's Content-Encoding (gzip or deflate,
// the codings a front end may offer to decompress, as XEP-0124 §7.2's
// 'accept' attribute does), to at most max bytes: a body that inflates
// past it is ErrBodyTooLarge, as it would be sent plain. No coding, or
// identity, returns raw itself; another coding is ErrUnsupportedEncoding.
func DecodeBody(contentEncoding string, raw []byte, max int64) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(contentEncoding))
	var r io.ReadCloser
	var err error
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(raw))
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedEncoding, contentEncoding)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint: %s request body: %w", enc, err)
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("endpoint: %s request body: %w", enc, err)
	}
	if int64(len(out)) > max {
		return nil, fmt.Errorf("%w: decompressed past the limit of %d bytes", ErrBodyTooLarge, max)
	}
	return out, nil
}
