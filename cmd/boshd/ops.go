package main

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"boshd/bosh/metrics"
	"boshd/cmd/boshd/internal/config"
)

// The operators' endpoints: /metrics (Prometheus text format) and /status
// (a summary for a person or a script), answered only to the addresses in
// metrics.allow, on the main listener or on metrics.listen.

// accessRule decides who may read /metrics and /status.
type accessRule struct {
	allow      []*net.IPNet
	clientAddr func(remote, forwarded string) string
}

func newAccessRule(cfg config.Config) (*accessRule, error) {
	allow, err := parseNets("metrics.allow", cfg.Metrics.Allow)
	if err != nil {
		return nil, err
	}
	clientAddr, err := clientAddrFunc(cfg.HTTP.TrustedProxies)
	if err != nil {
		return nil, err
	}
	return &accessRule{allow: allow, clientAddr: clientAddr}, nil
}

// allows reports whether r's client address (after trusted proxies, as
// for the session limits) is in the allow list.
func (a *accessRule) allows(r *http.Request) bool {
	ip := net.ParseIP(a.clientAddr(r.RemoteAddr, r.Header.Get("X-Forwarded-For")))
	if ip == nil {
		return false
	}
	for _, n := range a.allow {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// guard answers 403 to a client metrics.allow does not list.
func (s *server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		access := s.access
		s.mu.Unlock()
		if !access.allows(r) {
			http.Error(w, "boshd: forbidden (metrics.allow)", http.StatusForbidden)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// addOps mounts /metrics and /status on mux.
func (s *server) addOps(mux *http.ServeMux) {
	mux.Handle("/metrics", s.guard(promhttp.HandlerFor(s.promReg, promhttp.HandlerOpts{})))
	mux.Handle("/status", s.guard(http.HandlerFunc(s.serveStatus)))
}

// serveOps serves /metrics and /status on their own listener
// (metrics.listen) until the returned function is called, which stops it
// and waits for its goroutine.
func (s *server) serveOps(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	s.addOps(mux)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	s.log.Infof("serving /metrics and /status on http://%s (metrics.listen)", ln.Addr())
	return func() { hs.Close(); <-done }, nil
}

// countRequests counts each request h answers in
// boshd_http_requests_total, by the status code it wrote.
func countRequests(t metrics.Transport, m *metrics.Metrics, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codeWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		m.Request(t, cw.code())
	})
}

// codeWriter notes the status code written through it.
type codeWriter struct {
	http.ResponseWriter
	status int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the status sent; a handler that wrote nothing (its client had
// gone) gets net/http's implicit 200.
func (w *codeWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// status is what /status shows.
type status struct {
	Build         buildInfo  `json:"build"`
	Started       time.Time  `json:"started"`
	UptimeSeconds int64      `json:"uptime_seconds"`
	Reloaded      *time.Time `json:"reloaded,omitempty"`
	Config        string     `json:"config,omitempty"`
	// Node is cluster.node_id; Ready is what /readyz says (false while
	// the node drains or stops).
	Node         string         `json:"node,omitempty"`
	Ready        bool           `json:"ready"`
	Sessions     statusSessions `json:"sessions"`
	HeldRequests int            `json:"held_requests"`
	Limits       []statusLimit  `json:"limits"`
	Domains      []statusDomain `json:"domains"`
}

type statusSessions struct {
	Total       int                      `json:"total"`
	ByTransport map[string]int           `json:"by_transport"`
	ByDomain    []metrics.DomainSessions `json:"by_domain"`
}

// statusLimit is a configured limit and, where boshd tracks it, its use.
type statusLimit struct {
	Key   string `json:"key"`
	Limit int64  `json:"limit"` // 0: no limit
	Unit  string `json:"unit"`
	InUse *int64 `json:"in_use,omitempty"`
}

type statusDomain struct {
	Domain      string         `json:"domain"`
	Routes      []string       `json:"routes"` // empty: DNS SRV
	LastConnect *statusConnect `json:"last_connect,omitempty"`
}

type statusConnect struct {
	Addr         string    `json:"addr,omitempty"`
	At           time.Time `json:"at"`
	Milliseconds float64   `json:"milliseconds"`
	OK           bool      `json:"ok"`
	Error        string    `json:"error,omitempty"`
}

// snapshot gathers the status now.
func (s *server) snapshot() status {
	s.mu.Lock()
	cfg, reloaded := s.cfg, s.reloaded
	s.mu.Unlock()
	now := time.Now()
	st := status{
		Build:         s.build,
		Started:       s.started,
		UptimeSeconds: int64(now.Sub(s.started) / time.Second),
		Config:        s.opts.path,
		Node:          cfg.Cluster.NodeID,
		Ready:         !s.notReady.Load(),
		HeldRequests:  s.metrics.Held(),
	}
	if !reloaded.IsZero() {
		st.Reloaded = &reloaded
	}
	st.Sessions.ByDomain = s.metrics.Sessions()
	st.Sessions.ByTransport = map[string]int{}
	for _, t := range []metrics.Transport{metrics.BOSH, metrics.Poll, metrics.WebSocket} {
		st.Sessions.ByTransport[t.String()] = 0
	}
	for _, d := range st.Sessions.ByDomain {
		st.Sessions.ByTransport[d.Transport] += d.Sessions
		st.Sessions.Total += d.Sessions
	}
	use := func(n int) *int64 { v := int64(n); return &v }
	st.Limits = []statusLimit{
		{"bosh.max_sessions", int64(cfg.BOSH.MaxSessions), "sessions", use(s.counter.Total())},
		{"bosh.max_sessions_per_address", int64(cfg.BOSH.MaxSessionsPerAddress), "sessions (busiest address)", use(s.counter.Busiest())},
		{"bosh.max_hold", int64(cfg.BOSH.MaxHold), "requests per session", nil},
		{"bosh.max_streams", int64(cfg.BOSH.MaxStreams), "streams per session", nil},
		{"bosh.max_queue_bytes", int64(cfg.BOSH.MaxQueueBytes), "bytes per session", nil},
		{"http.max_body_bytes", int64(cfg.HTTP.MaxBodyBytes), "bytes per request", nil},
		{"upstream.max_stanza_bytes", int64(cfg.Upstream.MaxStanzaBytes), "bytes per stanza", nil},
		{"bosh.max_wait", int64(time.Duration(cfg.BOSH.MaxWait) / time.Second), "seconds", nil},
		{"bosh.inactivity", int64(time.Duration(cfg.BOSH.Inactivity) / time.Second), "seconds", nil},
	}
	for _, d := range cfg.Domains {
		sd := statusDomain{Domain: strings.ToLower(d.Name), Routes: append([]string{}, d.Routes...)}
		if c, ok := s.metrics.LastConnect(sd.Domain); ok {
			sd.LastConnect = &statusConnect{Addr: c.Addr, At: c.At, Milliseconds: float64(c.Took.Microseconds()) / 1000, OK: c.Err == "", Error: c.Err}
		}
		st.Domains = append(st.Domains, sd)
	}
	return st
}

// serveStatus answers /status: HTML for a browser (Accept: text/html or
// ?format=html), JSON otherwise (?format=json forces it).
func (s *server) serveStatus(w http.ResponseWriter, r *http.Request) {
	st := s.snapshot()
	format := r.URL.Query().Get("format")
	if format == "" && strings.Contains(r.Header.Get("Accept"), "text/html") {
		format = "html"
	}
	if format == "html" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := statusPage.Execute(w, st); err != nil {
			s.log.WithError(err).Warn("status page")
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"since": func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>boshd status</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.bad{color:#b00}</style></head>
<body><h1>boshd status</h1>
<p>{{.Build.Version}}{{with .Build.Revision}} revision {{.}}{{end}}{{with .Build.Time}} ({{.}}){{end}}{{if .Build.Modified}} with local changes{{end}}, {{.Build.Go}}.
Up {{since .Started}} (since {{.Started.Format "2006-01-02 15:04:05 MST"}}){{with .Reloaded}}, configuration reloaded {{since .}} ago{{end}}.{{with .Config}} Config file {{.}}.{{end}}
{{with .Node}}Node {{.}}, {{end}}{{if .Ready}}ready for new sessions{{else}}<span class="bad">draining or stopping: new sessions refused</span>{{end}}.</p>
<h2>Sessions: {{.Sessions.Total}}</h2>
<table><tr><th>transport</th><th>sessions</th></tr>
{{range $t, $n := .Sessions.ByTransport}}<tr><td>{{$t}}</td><td>{{$n}}</td></tr>
{{end}}</table>
<table><tr><th>transport</th><th>domain</th><th>sessions</th></tr>
{{range .Sessions.ByDomain}}<tr><td>{{.Transport}}</td><td>{{.Domain}}</td><td>{{.Sessions}}</td></tr>
{{else}}<tr><td colspan="3">no sessions</td></tr>
{{end}}</table>
<p>Held requests: {{.HeldRequests}}</p>
<h2>Limits</h2>
<table><tr><th>key</th><th>limit</th><th>unit</th><th>in use</th></tr>
{{range .Limits}}<tr><td>{{.Key}}</td><td>{{if .Limit}}{{.Limit}}{{else}}none{{end}}</td><td>{{.Unit}}</td><td>{{with .InUse}}{{.}}{{end}}</td></tr>
{{end}}</table>
<h2>Upstream routes</h2>
<table><tr><th>domain</th><th>routes</th><th>last connect</th></tr>
{{range .Domains}}<tr><td>{{.Domain}}</td><td>{{range .Routes}}{{.}} {{else}}DNS SRV{{end}}</td><td>{{with .LastConnect}}{{if .OK}}ok{{else}}<span class="bad">failed: {{.Error}}</span>{{end}} {{.Addr}} in {{.Milliseconds}} ms, {{since .At}} ago{{else}}none yet{{end}}</td></tr>
{{end}}</table>
</body></html>
`))
