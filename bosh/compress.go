package bosh

import (
	"errors"
	"net/http"
	"strings"

	"boshd/bosh/endpoint"
)

// HTTP compression (XEP-0124 §5: "If the connection manager receives a
// request with an Accept-Encoding header, it MAY include an HTTP
// Content-Encoding header in the response (indicating one of the
// encodings specified in the request) and compress the response body
// accordingly"), with endpoint.Compression, off unless Config.Compression
// turns it on (endpoint/compress.go says why: BREACH).
//
// The spec ties the compression of answers to each request's
// Accept-Encoding alone. Its 'accept' attribute (§7.2) is the other
// direction: on the creation response it lists the codings the connection
// manager can decompress in requests, which the client MAY then send
// compressed with a Content-Encoding header. With compression on, boshd
// says accept='gzip' and decodes gzip and deflate request bodies
// (decodeRequest), to no more than the body limit. It lists gzip alone:
// §7.2's text separates the list with spaces, its example with commas,
// and a single name reads the same under both.
//
// A client that puts an 'accept' attribute on its creation request (§7.1
// defines none for requests, but the schema allows it on any <body/> and
// some clients send it) limits the session's answers to the codings
// listed there; without one, each request's Accept-Encoding decides.
//
// Answers are compressed when they are written, for the request that
// carries them (answerHeader, on both answer paths): the rid cache
// (§14.3) keeps them plain, so a resent request gets the same answer
// encoded for its own Accept-Encoding.

// acceptAttr is the creation response's 'accept' while compression is
// on: what decodeRequest decodes, in a form every reading of §7.2 parses.
const acceptAttr = "gzip"

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

// decodeRequest undoes a compressed request body (Content-Encoding gzip
// or deflate, offered by the 'accept' attribute) while compression is on,
// or answers the request with an HTTP error and reports false: 413 for a
// body that inflates past the limit, 415 for another coding, 400 for one
// that does not decode. A request body cannot be a BOSH answer, so these
// are HTTP errors, as §17.1 has for requests that cannot be read.
func (h *Handler) decodeRequest(w http.ResponseWriter, r *http.Request, raw []byte) ([]byte, bool) {
	cfg := h.config()
	ce := r.Header.Get("Content-Encoding")
	if !cfg.Compression || ce == "" {
		return raw, true
	}
	body, err := endpoint.DecodeBody(ce, raw, cfg.MaxBodyBytes)
	switch {
	case err == nil:
		return body, true
	case errors.Is(err, endpoint.ErrBodyTooLarge):
		http.Error(w, "boshd: "+err.Error(), http.StatusRequestEntityTooLarge)
	case errors.Is(err, endpoint.ErrUnsupportedEncoding):
		w.Header().Set("Accept-Encoding", "gzip, deflate") // RFC 9110 §12.5.3
		http.Error(w, "boshd: "+err.Error(), http.StatusUnsupportedMediaType)
	default:
		cfg.Log.WithField("remote", r.RemoteAddr).WithError(err).Debug("request body not decoded")
		http.Error(w, "boshd: request body not decoded", http.StatusBadRequest)
	}
	return nil, false
}
