package bosh

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"strconv"
	"strings"
	"sync"
)

// HTTP compression of answers (XEP-0124 §5: "If the connection manager
// receives a request with an Accept-Encoding header, it MAY include an
// HTTP Content-Encoding header in the response (indicating one of the
// encodings specified in the request) and compress the response body
// accordingly").
//
// The spec ties the compression of answers to each request's
// Accept-Encoding alone. Its 'accept' attribute (§7.2) is something else:
// on the creation response it lists the encodings the connection manager
// can decompress in requests. boshd decompresses none, so it never sends
// 'accept'. A client that puts an 'accept' attribute on its creation
// request (not defined for requests by §7.1, but some clients send it)
// limits the session to the encodings listed there; without one, each
// request's Accept-Encoding decides.
//
// Off by default (Config.Compression): an answer that carries a secret
// (a SASL challenge, an auth token, a message) beside text an attacker
// can choose (a message the attacker sends to the victim, a nickname)
// leaks the secret through the compressed length to an attacker who can
// watch the sizes of the answers on the wire (BREACH, CVE-2013-3587). TLS
// does not hide lengths.
//
// Answers are compressed at the moment they are written, for the request
// that carries them: the rid cache (§14.3) keeps them uncompressed, so a
// resent request gets the same answer encoded for its own Accept-Encoding.

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

// AllEncodings is every coding boshd applies: a session whose creation
// request had no 'accept' attribute.
const AllEncodings = Encodings(1<<Gzip | 1<<Deflate)

func (s Encodings) has(e Encoding) bool { return e != Identity && s&(1<<e) != 0 }

// parseAccept reads the 'accept' attribute of a creation request: coding
// names separated by commas or spaces (§7.2 has spaces, earlier versions
// commas). Unknown names are ignored, so a list of nothing boshd knows
// means no compression for the session.
func parseAccept(v string) Encodings {
	var s Encodings
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		switch strings.ToLower(f) {
		case "gzip", "x-gzip":
			s |= 1 << Gzip
		case "deflate":
			s |= 1 << Deflate
		}
	}
	return s
}

// Compression is what chooses the coding of an answer: the endpoint's
// switch and threshold, the session's set and the request's
// Accept-Encoding. The zero value compresses nothing.
type Compression struct {
	// On is the endpoint's switch (Config.Compression).
	On bool
	// MinBytes: answers shorter than this are never compressed.
	MinBytes int
	// Allowed is the session's set (AllEncodings, or its 'accept').
	Allowed Encodings
	// AcceptEncoding is the request's Accept-Encoding header.
	AcceptEncoding string
}

// Choose returns the coding for an answer of n bytes: the one the
// request's Accept-Encoding prefers (RFC 9110 §12.5.3: the highest
// q-value, q=0 meaning "not acceptable", "*" any coding not listed;
// gzip before deflate on a tie) among the session's set, or Identity when
// compression is off, the answer is shorter than MinBytes, or nothing
// acceptable is left.
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
// their pools reset), so both answer paths, net/http's and a parked
// connection's (hold.go), send the same bytes for the same answer.
func (c Compression) Encode(body []byte) ([]byte, Encoding) {
	e := c.Choose(len(body))
	if e == Identity {
		return body, Identity
	}
	return compress(e, body), e
}

// compressionLevel trades ratio for CPU: level 1 keeps most of the gain on
// the repetitive XML of stanzas for a fraction of the default level's
// time (docs/benchmarks.md, "HTTP compression").
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
		panic("bosh: compress with " + strconv.Itoa(int(e)))
	}
	return out.Bytes()
}
