package client

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// decodeBody undoes the Content-Encoding of an answer (XEP-0124 §5: a
// connection manager may compress an answer with a coding the request's
// Accept-Encoding listed; ask for it with Config.Header). gzip and
// deflate (zlib, RFC 9110 §8.4.1.2) are decoded, to at most maxSize
// bytes; an answer without Content-Encoding is raw itself. The response
// keeps its Content-Encoding header, so a caller can tell.
func decodeBody(resp *http.Response, raw []byte, maxSize int64) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	var r io.Reader
	var err error
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(raw))
	default:
		return nil, fmt.Errorf("answer in Content-Encoding %q", enc)
	}
	if err != nil {
		return nil, fmt.Errorf("%s answer: %w", enc, err)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s answer: %w", enc, err)
	}
	if int64(len(out)) > maxSize {
		return nil, fmt.Errorf("%s answer decodes to more than %d bytes", enc, maxSize)
	}
	return out, nil
}
