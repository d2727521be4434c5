package metrics

import (
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Transport is a client-facing protocol, the "transport" label.
type Transport int

// The transports boshd serves.
const (
	// BOSH is XEP-0124 with XEP-0206 (package bosh).
	BOSH Transport = iota
	// Poll is XEP-0025 HTTP Polling (package bosh/httppoll).
	Poll
	// WebSocket is RFC 7395 XMPP over WebSocket.
	WebSocket
	numTransports
)

var transportNames = [numTransports]string{"bosh", "poll", "websocket"}

// String is the label value: "bosh", "poll" or "websocket".
func (t Transport) String() string {
	if t < 0 || t >= numTransports {
		return "unknown"
	}
	return transportNames[t]
}

// Direction is which way a stanza went, the "direction" label.
type Direction int

// The two directions.
const (
	// ToServer: sent by the client, written to the XMPP server.
	ToServer Direction = iota
	// ToClient: sent by the XMPP server, queued for the client.
	ToClient
	numDirections
)

var directionNames = [numDirections]string{"to_server", "to_client"}

// String is the label value: "to_server" or "to_client".
func (d Direction) String() string {
	if d < 0 || d >= numDirections {
		return "unknown"
	}
	return directionNames[d]
}

// Condition labels of boshd_session_ends_total besides the XEP-0124 §17.2
// conditions.
const (
	// EndTerminate: the client ended the session (XEP-0124 §13, or the
	// XEP-0025 client closing its stream).
	EndTerminate = "terminate"
	// EndInactivity: no request came within the inactivity period
	// (XEP-0124 §10, XEP-0025 §3 session timeout).
	EndInactivity = "inactivity"
)

// ConnectBuckets are boshd_upstream_connect_seconds's buckets: a TCP
// connect on a LAN takes a millisecond, STARTTLS and stream negotiation a
// few more, a distant or loaded server up to the dial timeout (10s).
var ConnectBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds boshd's series. Create it with New; a nil *Metrics is a
// valid value whose methods do nothing. Its methods may be called from any
// goroutine.
type Metrics struct {
	sessions    [numTransports]prometheus.Gauge
	ends        *prometheus.CounterVec
	requests    *prometheus.CounterVec
	held        prometheus.Gauge
	connect     prometheus.Histogram
	stanzas     [numDirections]prometheus.Counter
	stanzaBytes [numDirections]prometheus.Counter
	// codes caches the request counter of each transport and status code,
	// created at the first request with that code.
	codes [numTransports][600]atomic.Pointer[prometheus.Counter]

	mu       sync.Mutex // guards the fields below
	byDomain map[domainKey]int
	connects map[string]Connect
}

type domainKey struct {
	t      Transport
	domain string
}

// New creates boshd's series and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	sessions := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "boshd_sessions",
		Help: "Live client sessions, by transport (bosh, poll, websocket).",
	}, []string{"transport"})
	m := &Metrics{
		ends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "boshd_session_ends_total",
			Help: "Sessions ended, by transport and condition (XEP-0124 §17.2 condition, terminate, inactivity).",
		}, []string{"transport", "condition"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "boshd_http_requests_total",
			Help: "HTTP requests answered by the client endpoints, by transport and status code.",
		}, []string{"transport", "code"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "boshd_held_requests",
			Help: "HTTP requests held open waiting for data (BOSH long polls, held XEP-0025 polls).",
		}),
		connect: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "boshd_upstream_connect_seconds",
			Help:    "Time to open an upstream XMPP stream (TCP, STARTTLS, stream features), every attempt.",
			Buckets: ConnectBuckets,
		}),
		byDomain: make(map[domainKey]int),
		connects: make(map[string]Connect),
	}
	stanzas := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boshd_stanzas_total",
		Help: "Stanzas relayed, by direction (to_server, to_client).",
	}, []string{"direction"})
	stanzaBytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "boshd_stanza_bytes_total",
		Help: "Bytes of stanzas relayed, by direction (to_server, to_client).",
	}, []string{"direction"})
	for t := range numTransports {
		m.sessions[t] = sessions.WithLabelValues(t.String())
	}
	for d := range numDirections {
		m.stanzas[d] = stanzas.WithLabelValues(d.String())
		m.stanzaBytes[d] = stanzaBytes.WithLabelValues(d.String())
	}
	reg.MustRegister(sessions, m.ends, m.requests, m.held, m.connect, stanzas, stanzaBytes)
	return m
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors (go_goroutines, process_resident_memory_bytes, …), for New
// and the /metrics handler.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// SessionStarted counts a new session of transport t to domain.
func (m *Metrics) SessionStarted(t Transport, domain string) {
	if m == nil || t < 0 || t >= numTransports {
		return
	}
	m.sessions[t].Inc()
	m.mu.Lock()
	m.byDomain[domainKey{t, domain}]++
	m.mu.Unlock()
}

// SessionEnded counts the end of a session SessionStarted counted, and
// why (see the package doc for the condition values).
func (m *Metrics) SessionEnded(t Transport, domain, condition string) {
	if m == nil || t < 0 || t >= numTransports {
		return
	}
	m.sessions[t].Dec()
	m.ends.WithLabelValues(t.String(), condition).Inc()
	m.mu.Lock()
	k := domainKey{t, domain}
	if n := m.byDomain[k] - 1; n > 0 {
		m.byDomain[k] = n
	} else {
		delete(m.byDomain, k)
	}
	m.mu.Unlock()
}

// Request counts an HTTP request of transport t answered with code.
func (m *Metrics) Request(t Transport, code int) {
	if m == nil || t < 0 || t >= numTransports {
		return
	}
	if code < 0 || code >= len(m.codes[t]) {
		m.requests.WithLabelValues(t.String(), strconv.Itoa(code)).Inc()
		return
	}
	p := m.codes[t][code].Load()
	if p == nil {
		c := m.requests.WithLabelValues(t.String(), strconv.Itoa(code))
		m.codes[t][code].Store(&c)
		p = &c
	}
	(*p).Inc()
}

// HeldInc counts a request that starts waiting for data.
func (m *Metrics) HeldInc() {
	if m != nil {
		m.held.Inc()
	}
}

// HeldDec counts a held request that was answered or abandoned.
func (m *Metrics) HeldDec() {
	if m != nil {
		m.held.Dec()
	}
}

// Connect is the result of one attempt to open an upstream stream.
type Connect struct {
	// Addr is the host:port connected to, "" when none was reached.
	Addr string
	// At is when the attempt ended, Took how long it took.
	At   time.Time
	Took time.Duration
	// Err is why it failed, "" on success.
	Err string
}

// UpstreamConnect records an attempt to open an upstream stream to domain:
// its duration goes into the histogram, the result is the domain's last
// connect result on /status.
func (m *Metrics) UpstreamConnect(domain, addr string, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.connect.Observe(took.Seconds())
	c := Connect{Addr: addr, At: time.Now(), Took: took}
	if err != nil {
		c.Err = err.Error()
	}
	m.mu.Lock()
	m.connects[domain] = c
	m.mu.Unlock()
}

// Stanza counts one stanza of n bytes relayed in direction d.
func (m *Metrics) Stanza(d Direction, n int) {
	if m == nil || d < 0 || d >= numDirections {
		return
	}
	m.stanzas[d].Inc()
	m.stanzaBytes[d].Add(float64(n))
}

// Stanzas counts n stanzas of size bytes in all relayed in direction d
// (a request's payloads, written upstream in one write).
func (m *Metrics) Stanzas(d Direction, n, size int) {
	if m == nil || d < 0 || d >= numDirections || n == 0 {
		return
	}
	m.stanzas[d].Add(float64(n))
	m.stanzaBytes[d].Add(float64(size))
}

// DomainSessions is the number of live sessions of one transport to one
// domain.
type DomainSessions struct {
	Transport string `json:"transport"`
	Domain    string `json:"domain"`
	Sessions  int    `json:"sessions"`
}

// Sessions returns the live sessions by transport and domain, sorted.
func (m *Metrics) Sessions() []DomainSessions {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	out := make([]DomainSessions, 0, len(m.byDomain))
	for k, n := range m.byDomain {
		out = append(out, DomainSessions{Transport: k.t.String(), Domain: k.domain, Sessions: n})
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Transport != out[j].Transport {
			return out[i].Transport < out[j].Transport
		}
		return out[i].Domain < out[j].Domain
	})
	return out
}

// Held returns the number of requests held now (boshd_held_requests).
func (m *Metrics) Held() int {
	if m == nil {
		return 0
	}
	var d dto.Metric
	if err := m.held.Write(&d); err != nil {
		return 0
	}
	return int(d.GetGauge().GetValue())
}

// LastConnect returns domain's last upstream connect result, if any.
func (m *Metrics) LastConnect(domain string) (Connect, bool) {
	if m == nil {
		return Connect{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.connects[domain]
	return c, ok
}
