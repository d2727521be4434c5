package bosh

import (
	"net/http"
	"strings"

	"boshd/bosh/endpoint"
)

// HTTP compression of answers (XEP-0124 §5: "If the connection manager
// receives a request with an Accept-Encoding header, it MAY include an
// HTTP Content-Encoding header in the response (indicating one of the
// encodings specified in the request) and compress the response body
// accordingly"), with endpoint.Compression, off unless Config.Compression
// turns it on (endpoint/compress.go says why: BREACH).
//
// The spec ties the compression of answers to each request's
// Accept-Encoding alone. Its 'accept' attribute (§7.2) is something else:
// on the creation response it lists the codings the connection manager
// can decompress in requests. boshd decompresses none, so it never sends
// 'accept'. A client that puts an 'accept' attribute on its creation
// request (§7.1 defines none for requests, but the schema allows it on
// any <body/> and some clients send it) limits the session's answers to
// the codings listed there; without one, each request's Accept-Encoding
// decides.
//
// Answers are compressed when they are written, for the request that
// carries them (answerHeader, on both answer paths): the rid cache
// (§14.3) keeps them plain, so a resent request gets the same answer
// encoded for its own Accept-Encoding.

// encodingsOf is the set of codings a session's answers may use: those
// its creation request lists in 'accept', if it has that attribute, else
// all.
func encodingsOf(b *Body) endpoint.Encodings {
	if v, ok := b.Get("accept"); ok {
		return parseAccept(v)
	}
	return endpoint.AllEncodings
}

// parseAccept reads an 'accept' attribute: coding names separated by
// spaces (§7.2 in v1.11) or commas (earlier versions). Unknown names are
// ignored, so a list of nothing boshd knows means no compression.
func parseAccept(v string) endpoint.Encodings {
	var s endpoint.Encodings
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		switch strings.ToLower(f) {
		case "gzip", "x-gzip":
			s = s.With(endpoint.Gzip)
		case "deflate":
			s = s.With(endpoint.Deflate)
		}
	}
	return s
}

// compression is what chooses the coding of the answers to r, for a
// session whose set of codings is allowed: the settings in force when r
// arrived.
func (h *Handler) compression(r *http.Request, allowed endpoint.Encodings) endpoint.Compression {
	cfg := h.config()
	c := endpoint.Compression{On: cfg.Compression, MinBytes: cfg.CompressionMinBytes, Allowed: allowed}
	return c.For(r)
}
