// Package endpoint is the HTTP shell every boshd front end sits in: what
// an HTTP endpoint of a connection manager does whatever protocol it
// carries. It recovers a panicking request (net/http's conn.serve would
// drop the connection), answers GET and HEAD with a page for a person who
// opened the URL in a browser, answers CORS preflights and marks answers
// for the configured origins (browsers preflight text/xml POSTs), refuses
// other methods with 405, marks every answer uncacheable (RFC 9111 §5.2),
// and reads a POST body with a size limit before handing it to the
// protocol. [Compression] compresses a front end's answers for clients
// that ask with Accept-Encoding, when the front end turns it on.
//
// A front end implements [Protocol] for what its protocol adds (XEP-0124
// bodies in package bosh, XEP-0025 id;key,xml in package bosh/httppoll) and
// serves [New]'s handler. The WebSocket front end (RFC 7395) can use
// [Shell.Preflight] and [NoCache] for its upgrade request.
package endpoint

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Config is the shell's part of a front end's configuration.
type Config struct {
	// InfoPage is the HTML a GET shows; required.
	InfoPage string
	// CORSOrigins lists the origins whose pages may call the endpoint; "*"
	// allows any. Empty: no CORS headers.
	CORSOrigins []string
	// MaxBodyBytes limits a request body (must be > 0).
	MaxBodyBytes int64
	// Log receives the panics (required).
	Log logrus.FieldLogger
}

// Protocol is what a front end adds to the shell.
type Protocol interface {
	// ServePost answers a POST whose body was read whole, within the limit.
	ServePost(w http.ResponseWriter, r *http.Request, body []byte)
	// RefuseBody answers a POST whose body could not be read: too large
	// (errors.Is(err, ErrBodyTooLarge)) or cut short. The shell has set
	// Connection: close, since the rest of the body was not read.
	RefuseBody(w http.ResponseWriter, r *http.Request, err error)
	// Panicked answers a request whose handling panicked with v, if the
	// protocol can still say something; the panic has been logged.
	Panicked(w http.ResponseWriter, r *http.Request, v any)
}

// Shell is an http.Handler around a Protocol.
type Shell struct {
	cfg atomic.Pointer[Config] // see Reload
	p   Protocol
}

// New returns the shell for p.
func New(cfg Config, p Protocol) *Shell {
	if cfg.MaxBodyBytes <= 0 || cfg.Log == nil {
		panic("endpoint: Config.MaxBodyBytes and Config.Log are required")
	}
	s := &Shell{p: p}
	s.cfg.Store(&cfg)
	return s
}

// Reload puts cfg in force for the requests that arrive from now on (a
// configuration reload: CORS origins, body limit, logger).
func (s *Shell) Reload(cfg Config) {
	if cfg.MaxBodyBytes <= 0 || cfg.Log == nil {
		panic("endpoint: Config.MaxBodyBytes and Config.Log are required")
	}
	s.cfg.Store(&cfg)
}

// config returns the settings in force.
func (s *Shell) config() *Config { return s.cfg.Load() }

// Allow is the methods every endpoint answers.
const Allow = "POST, GET, HEAD, OPTIONS"

// ServeHTTP answers one HTTP request.
func (s *Shell) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.config().Log.WithField("panic", fmt.Sprint(v)).WithField("stack", string(debug.Stack())).Error("request panicked")
			s.p.Panicked(w, r, v)
		}
	}()
	// Nothing an endpoint answers may be cached, HTTP errors included (a
	// 405 is cacheable by default, RFC 9110 §15.5.6).
	NoCache(w.Header())
	if s.Preflight(w, r) {
		return
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(s.config().InfoPage)))
		if r.Method == http.MethodGet {
			io.WriteString(w, s.config().InfoPage)
		}
		return
	case http.MethodOptions:
		w.Header().Set("Allow", Allow)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", Allow)
		http.Error(w, "boshd: method not allowed; this endpoint uses POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := ReadBody(r, s.config().MaxBodyBytes)
	if err != nil {
		w.Header().Set("Connection", "close")
		s.p.RefuseBody(w, r, err)
		return
	}
	s.p.ServePost(w, r, body)
}

// NoCache marks an answer uncacheable, for HTTP/1.0 caches too.
func NoCache(h http.Header) {
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate")
	h.Set("Pragma", "no-cache")
}

// ErrBodyTooLarge is a request body over the limit.
var ErrBodyTooLarge = errors.New("endpoint: request body too large")

// ReadBody reads a request body, refusing one over max before reading it
// whole: a declared length over the limit is refused unread, and an
// undeclared one is read no further than one byte past it.
func ReadBody(r *http.Request, max int64) ([]byte, error) {
	if r.ContentLength > max {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, r.ContentLength, max)
	}
	n := r.ContentLength
	if n < 0 || n > 64<<10 {
		n = 512
	}
	buf := make([]byte, 0, n+1)
	lr := io.LimitReader(r.Body, max+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, max)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("endpoint: reading request body: %w", err)
		}
	}
}

// Seconds is d in whole seconds, rounded up: the unit of the advised poll
// interval (X-Poll-Interval, boshd:poll-interval).
func Seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
