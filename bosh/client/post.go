package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"
)

// DefaultContentType is sent as the request Content-Type and the 'content'
// attribute unless Config.Content says otherwise (XEP-0124 §5, §7.1).
const DefaultContentType = "text/xml; charset=utf-8"

// DefaultMaxBodySize bounds the size of one response body.
const DefaultMaxBodySize = 4 << 20

// DefaultHTTPClient is the client used when Config.HTTPClient is nil and by
// Post when hc is nil. It keeps connections alive for reuse (one BOSH
// session needs two: the held request and the next one), never uses a
// proxy (tests run on loopback), does not ask for compressed answers
// (XEP-0206 §4 advises against mixing compressions) and uses small
// buffers, because a load generator keeps thousands of connections open.
// It has no overall timeout: a held request legitimately lasts 'wait'
// seconds; sessions bound each attempt themselves (see Config.Timeout).
var DefaultHTTPClient = &http.Client{Transport: NewTransport()}

// NewTransport returns a transport configured like DefaultHTTPClient's, for
// callers that want their own connection pool.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          0, // no global limit
		MaxIdleConnsPerHost:   4096,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: 0,
		WriteBufferSize:       2048,
		ReadBufferSize:        2048,
		ForceAttemptHTTP2:     false,
	}
}

// HTTPError reports a response whose HTTP status is not 200. XEP-0124
// §17.1 defines 400, 403 and 404 for legacy sessions; anything else comes
// from an intermediary or a failing connection manager. Body holds the
// response (parsed when it was a well-formed <body/>, else only Raw and
// the HTTP fields).
type HTTPError struct {
	Status int
	Body   *Body
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("client: HTTP status %d %s", e.Status, http.StatusText(e.Status))
}

// Post sends one raw request body and returns the parsed answer: the
// protocol-test primitive, with no session state, no retry and no check of
// the body sent (XEP-0124 §5: every request is a POST). It sends
// Content-Type DefaultContentType. A status other than 200 gives an
// *HTTPError (and the body as far as it could be parsed); a 200 answer that
// is not a well-formed <body/> gives an error wrapping ErrMalformed, with
// the raw answer in the returned Body. hc nil means DefaultHTTPClient.
func Post(ctx context.Context, hc *http.Client, url string, body []byte) (*Body, error) {
	return post(ctx, hc, url, DefaultContentType, nil, body, DefaultMaxBodySize, nil)
}

// post sends body through net/http; written, when not nil, is called (on
// the transport's goroutine) once the request has been written.
func post(ctx context.Context, hc *http.Client, url, contentType string, header http.Header, body []byte, maxSize int64, written func()) (*Body, error) {
	if hc == nil {
		hc = DefaultHTTPClient
	}
	if written != nil {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { written() },
		})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("client: post to %s: %w", url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: post to %s: %w", url, err)
	}
	raw, err := readBody(resp, maxSize)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("client: read answer from %s: %w", url, err)
	}
	return responseBody(resp, raw)
}

// readBody reads the whole response, decoded (decodeBody), at most
// maxSize bytes of it.
func readBody(resp *http.Response, maxSize int64) ([]byte, error) {
	raw, err := readRaw(resp, maxSize)
	if err != nil {
		return nil, err
	}
	return decodeBody(resp, raw, maxSize)
}

// readRaw reads the whole response with a single allocation when the
// length is announced (XEP-0124 §5: CMs should not use chunked coding).
func readRaw(resp *http.Response, maxSize int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 {
		if n > maxSize {
			return nil, fmt.Errorf("answer of %d bytes exceeds %d", n, maxSize)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > maxSize {
		return nil, fmt.Errorf("answer exceeds %d bytes", maxSize)
	}
	return buf, nil
}
