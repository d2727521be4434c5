package prebind

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// inproc is an http.RoundTripper that hands each request to the BOSH
// endpoint's ServeHTTP on the caller's goroutine and returns what it wrote:
// the pre-binder is a client of the endpoint like any other, minus the
// network. The inner request carries the pre-binding caller's address
// (RemoteAddr and X-Forwarded-For), so that the endpoint's per-address
// limits and logs see the web application.
type inproc struct {
	h         http.Handler
	remote    string
	forwarded string
}

// errNoAnswer is a request the endpoint did not answer: it gave up on it
// because the request's context ended.
var errNoAnswer = errors.New("prebind: the BOSH endpoint wrote no answer")

func (t *inproc) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	in.RemoteAddr = t.remote
	in.RequestURI = req.URL.RequestURI()
	in.Header.Del("X-Forwarded-For")
	if t.forwarded != "" {
		in.Header.Set("X-Forwarded-For", t.forwarded)
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, in)
	if req.Body != nil {
		req.Body.Close()
	}
	if rec.status == 0 {
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
		return nil, errNoAnswer
	}
	return &http.Response{
		Status:        strconv.Itoa(rec.status) + " " + http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the http.ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
