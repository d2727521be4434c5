// Package config turns boshd's TOML file into typed, validated settings.
// Decoding is strict: an unknown key or a value of the wrong type is an
// error naming the file, line and column. The defaults live in Default, and
// config.toml at the repository root documents each key with them (a test
// holds the two together).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
)

// Config is the whole file.
type Config struct {
	HTTP     HTTP     `toml:"http"`
	BOSH     BOSH     `toml:"bosh"`
	Poll     Poll     `toml:"poll"`
	WS       WS       `toml:"websocket"`
	Upstream Upstream `toml:"upstream"`
	Domains  []Domain `toml:"domain"`
	Cluster  Cluster  `toml:"cluster"`
	Prebind  Prebind  `toml:"prebind"`
	Log      Log      `toml:"log"`
	Metrics  Metrics  `toml:"metrics"`
	Debug    Debug    `toml:"debug"`
}

// HTTP is the [http] table: the listener and what it serves.
type HTTP struct {
	Listen        string `toml:"listen"`
	Path          string `toml:"path"`
	PollPath      string `toml:"poll_path"`
	WebSocketPath string `toml:"websocket_path"`
	// PublicBOSHURL and PublicWebSocketURL are the endpoints' URLs as
	// clients reach them, listed in /.well-known/host-meta; "" derives
	// them from the request's Host and scheme.
	PublicBOSHURL      string `toml:"public_bosh_url"`
	PublicWebSocketURL string `toml:"public_websocket_url"`
	// HostMeta serves XEP-0156 /.well-known/host-meta(.json).
	HostMeta       bool     `toml:"host_meta"`
	TLSCert        string   `toml:"tls_cert"`
	TLSKey         string   `toml:"tls_key"`
	CORSOrigins    []string `toml:"cors_origins"`
	MaxBodyBytes   int64    `toml:"max_body_bytes"`
	StaticDir      string   `toml:"static_dir"`
	TrustedProxies []string `toml:"trusted_proxies"`
	// HealthPath answers 200 while the process is alive; ReadyPath 200
	// while it accepts new sessions and 503 while it drains or stops.
	HealthPath string `toml:"health_path"`
	ReadyPath  string `toml:"ready_path"`
	// Compression compresses answers (gzip, deflate) for clients that
	// ask with Accept-Encoding; off by default because of BREACH (see
	// config.toml). CompressionMinBytes: answers below it stay plain.
	Compression         bool `toml:"compression"`
	CompressionMinBytes int  `toml:"compression_min_bytes"`
}

// BOSH is the [bosh] table: XEP-0124 session parameters and limits.
type BOSH struct {
	MaxWait               Duration `toml:"max_wait"`
	MaxHold               int      `toml:"max_hold"`
	Inactivity            Duration `toml:"inactivity"`
	Polling               Duration `toml:"polling"`
	MaxPause              Duration `toml:"max_pause"`
	MaxSessions           int      `toml:"max_sessions"`
	MaxSessionsPerAddress int      `toml:"max_sessions_per_address"`
	// PerAddressExempt lists client addresses or CIDRs that
	// max_sessions_per_address does not apply to (default loopback).
	PerAddressExempt []string `toml:"per_address_exempt"`
	MaxQueueBytes    int      `toml:"max_queue_bytes"`
	// MaxStreams bounds the XML streams of one session, the first
	// included (XEP-0124 §16); 1 turns multiple streams off.
	MaxStreams int `toml:"max_streams"`
}

// Poll is the [poll] table: XEP-0025 and adaptive poll intervals.
type Poll struct {
	PollMin        Duration `toml:"poll_min"`
	PollMax        Duration `toml:"poll_max"`
	HoldCap        Duration `toml:"hold_cap"`
	SessionTimeout Duration `toml:"session_timeout"`
}

// WS is the [websocket] table: the RFC 7395 endpoint's keepalive and
// shutdown behaviour.
type WS struct {
	PingInterval Duration `toml:"ping_interval"`
	PingTimeout  Duration `toml:"ping_timeout"`
	SeeOtherURI  string   `toml:"see_other_uri"`
}

// Upstream is the [upstream] table: how boshd connects to XMPP servers.
type Upstream struct {
	TLS                string   `toml:"tls"`
	CAFile             string   `toml:"ca_file"`
	InsecureSkipVerify bool     `toml:"insecure_skip_verify"`
	DialTimeout        Duration `toml:"dial_timeout"`
	MaxStanzaBytes     int      `toml:"max_stanza_bytes"`
	MaxDepth           int      `toml:"max_depth"`
	SourceAddresses    []string `toml:"source_addresses"`
}

// Domain is one [[domain]]: a served XMPP domain and its routes.
type Domain struct {
	Name   string   `toml:"name"`
	Routes []string `toml:"routes"`
}

// Cluster is the [cluster] table: running as one node of a fleet behind a
// load balancer (docs/deploy.md).
type Cluster struct {
	// NodeID, when set, starts every session ID this process issues
	// ("n2.Xy…" for BOSH, "n2:…" for XEP-0025), so that a load balancer
	// can route on it. 1–32 of [a-z0-9-].
	NodeID string `toml:"node_id"`
	// ShutdownGrace is how long a drain lasts: after SIGTERM, new sessions
	// are refused and open ones go on for at most this long. 0: stop at
	// once.
	ShutdownGrace Duration `toml:"shutdown_grace"`
}

// MaxNodeID is the longest cluster.node_id.
const MaxNodeID = 32

// CheckNodeID reports whether id is a valid cluster.node_id: 1 to 32
// characters, each a lower-case ASCII letter, a digit or "-" (the
// characters that BOSH sids, XEP-0025 identifiers and HAProxy server
// names all carry unchanged).
func CheckNodeID(id string) error {
	if id == "" || len(id) > MaxNodeID || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("%q is not a node name: use 1 to %d characters of a-z, 0-9 and \"-\"", id, MaxNodeID)
	}
	return nil
}

// Prebind is the [prebind] table: pre-binding for web applications
// (package bosh/prebind), off unless Secret is set.
type Prebind struct {
	// Secret is the bearer token a web application presents; "" (the
	// default) turns pre-binding off.
	Secret Secret `toml:"secret"`
	// Path is where pre-binding is served. Default "/prebind".
	Path string `toml:"path"`
	// Allow, when not empty, limits pre-binding to these addresses and
	// CIDRs (after http.trusted_proxies has named the client).
	Allow []string `toml:"allow"`
}

// Secret is a credential from the file. It prints as "(set)" or "" (in
// -check's output, in %v), so that it never shows; Reveal gives the value.
type Secret struct{ v string }

// UnmarshalText takes the secret from a TOML string.
func (s *Secret) UnmarshalText(b []byte) error {
	s.v = string(b)
	return nil
}

// MarshalText hides the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String hides the secret.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return "(set)"
}

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return s.v }

// minSecretBytes is the shortest pre-binding secret accepted: its holder
// can test passwords against the XMPP server through boshd, so it must not
// be guessable.
const minSecretBytes = 16

// Log is the [log] table.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Metrics is the [metrics] table: who may read /metrics (Prometheus) and
// /status, and where they are served.
type Metrics struct {
	// Allow lists the client addresses (IPs or CIDRs) answered; others get
	// 403. The address is the one the session limits use, so a reverse
	// proxy listed in http.trusted_proxies does not make everyone
	// loopback. Default: loopback only.
	Allow []string `toml:"allow"`
	// Listen, when set, serves /metrics and /status on this host:port
	// instead of the main listener.
	Listen string `toml:"listen"`
}

// Debug is the [debug] table: diagnostics that are off by default.
type Debug struct {
	// PprofListen, when not empty, serves Go's net/http/pprof profiles on
	// this loopback host:port (for benchmarks and profiling only).
	PprofListen string `toml:"pprof_listen"`
}

// Default returns the settings used for every key the file leaves out.
// Keep config.toml in step: TestExampleMatchesDefaults checks it.
func Default() Config {
	return Config{
		HTTP: HTTP{
			Listen:        "127.0.0.1:5280",
			Path:          "/http-bind",
			PollPath:      "/http-poll",
			WebSocketPath: "/xmpp-websocket",
			HostMeta:      true,
			CORSOrigins:   []string{"*"},
			MaxBodyBytes:  1 << 20,
			HealthPath:    "/healthz",
			ReadyPath:     "/readyz",
			// Off: compressing secrets beside attacker-chosen text
			// leaks them (BREACH); see config.toml.
			CompressionMinBytes: 1024,
		},
		BOSH: BOSH{
			MaxWait:     Duration(60 * time.Second),
			MaxHold:     1,
			Inactivity:  Duration(60 * time.Second),
			Polling:     Duration(2 * time.Second),
			MaxPause:    Duration(120 * time.Second),
			MaxStreams:  8,
			MaxSessions: 20000,
			// One address: one household or a small office behind NAT
			// (a few sessions per person, one per tab); see config.toml.
			MaxSessionsPerAddress: 100,
			// Loopback: a reverse proxy on the same machine without
			// http.trusted_proxies would otherwise make every user one
			// address, and the limit a cap on the whole service.
			PerAddressExempt: []string{"127.0.0.0/8", "::1"},
			MaxQueueBytes:    1 << 20,
		},
		Poll: Poll{
			PollMin:        Duration(2 * time.Second),
			PollMax:        Duration(30 * time.Second),
			HoldCap:        Duration(20 * time.Second),
			SessionTimeout: Duration(5 * time.Minute),
		},
		WS: WS{
			PingInterval: Duration(30 * time.Second),
			PingTimeout:  Duration(15 * time.Second),
		},
		Upstream: Upstream{
			TLS:            "optional",
			DialTimeout:    Duration(10 * time.Second),
			MaxStanzaBytes: 256 << 10,
			MaxDepth:       64,
		},
		Prebind: Prebind{Path: "/prebind"},
		Log:     Log{Level: "info", Format: "text"},
		Metrics: Metrics{Allow: []string{"127.0.0.0/8", "::1"}},
	}
}

// Load reads and validates the file at path over the defaults.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors) over the defaults, strictly,
// and validates the result.
func Parse(name string, data []byte) (Config, error) {
	c := Default()
	// A list in the file replaces the default, never extends it; an
	// explicit empty list decodes as empty, not nil, and turns CORS off.
	c.HTTP.CORSOrigins = nil
	c.Metrics.Allow = nil
	if err := checkDurations(name, data); err != nil {
		return Config{}, err
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, decodeError(name, err)
	}
	if c.HTTP.CORSOrigins == nil {
		c.HTTP.CORSOrigins = Default().HTTP.CORSOrigins
	}
	if c.Metrics.Allow == nil {
		c.Metrics.Allow = Default().Metrics.Allow
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %s: %w", name, err)
	}
	return c, nil
}

// decodeError names the file, line and column of a decoding error.
func decodeError(name string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var msgs []string
		for _, e := range strict.Errors {
			row, col := e.Position()
			msgs = append(msgs, fmt.Sprintf("%s:%d:%d: unknown key %q", name, row, col, strings.Join(e.Key(), ".")))
		}
		return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		key := strings.Join(de.Key(), ".")
		if key != "" {
			key = " (key " + key + ")"
		}
		return fmt.Errorf("config: %s:%d:%d: %v%s", name, row, col, de, key)
	}
	return fmt.Errorf("config: %s: %w", name, err)
}

// Validate checks the values that decoding cannot: ranges, addresses and
// combinations. Each error names its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		bad("http.listen", "%q is not host:port", c.HTTP.Listen)
	}
	if !strings.HasPrefix(c.HTTP.Path, "/") {
		bad("http.path", "must start with /")
	}
	if c.HTTP.PollPath != "" && (!strings.HasPrefix(c.HTTP.PollPath, "/") || c.HTTP.PollPath == c.HTTP.Path) {
		bad("http.poll_path", "must start with / and differ from http.path")
	}
	if p := c.HTTP.WebSocketPath; p != "" && (!strings.HasPrefix(p, "/") || p == c.HTTP.Path || p == c.HTTP.PollPath) {
		bad("http.websocket_path", "must start with / and differ from http.path and http.poll_path")
	}
	for key, u := range map[string]string{"http.public_bosh_url": c.HTTP.PublicBOSHURL, "http.public_websocket_url": c.HTTP.PublicWebSocketURL, "websocket.see_other_uri": c.WS.SeeOtherURI} {
		if u != "" && !strings.Contains(u, "://") {
			bad(key, "%q is not an absolute URL", u)
		}
	}
	if time.Duration(c.WS.PingInterval) < time.Second || time.Duration(c.WS.PingTimeout) < time.Second {
		bad("websocket.ping_interval", "ping_interval and ping_timeout must be at least 1s")
	}
	paths := map[string]string{"http.path": c.HTTP.Path}
	if c.HTTP.PollPath != "" {
		paths["http.poll_path"] = c.HTTP.PollPath
	}
	if c.HTTP.WebSocketPath != "" {
		paths["http.websocket_path"] = c.HTTP.WebSocketPath
	}
	for _, k := range []struct{ key, path string }{{"http.health_path", c.HTTP.HealthPath}, {"http.ready_path", c.HTTP.ReadyPath}} {
		if k.path == "" {
			continue
		}
		if !strings.HasPrefix(k.path, "/") {
			bad(k.key, "must start with /")
		}
		for other, p := range paths {
			if p == k.path {
				bad(k.key, "%q is also %s", k.path, other)
			}
		}
		paths[k.key] = k.path
	}
	if c.Cluster.NodeID != "" {
		if err := CheckNodeID(c.Cluster.NodeID); err != nil {
			bad("cluster.node_id", "%v", err)
		}
	}
	if g := time.Duration(c.Cluster.ShutdownGrace); g < 0 || g > 24*time.Hour {
		bad("cluster.shutdown_grace", "must be between 0s and 24h")
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		bad("http.tls_cert", "tls_cert and tls_key go together")
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes", "must be at least 1024")
	}
	if c.HTTP.CompressionMinBytes < 1 {
		bad("http.compression_min_bytes", "must be at least 1")
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			bad("http.trusted_proxies", "%q is not an address or CIDR", p)
		}
	}
	for _, p := range c.BOSH.PerAddressExempt {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			bad("bosh.per_address_exempt", "%q is not an address or CIDR", p)
		}
	}
	if d := time.Duration(c.BOSH.MaxWait); d < time.Second || d > 10*time.Minute {
		bad("bosh.max_wait", "must be between 1s and 10m")
	}
	if c.BOSH.MaxHold < 1 || c.BOSH.MaxHold > 8 {
		bad("bosh.max_hold", "must be between 1 and 8")
	}
	if time.Duration(c.BOSH.Inactivity) < time.Second {
		bad("bosh.inactivity", "must be at least 1s")
	}
	if time.Duration(c.BOSH.Polling) < 0 {
		bad("bosh.polling", "must not be negative")
	}
	if c.BOSH.MaxStreams < 1 || c.BOSH.MaxStreams > 64 {
		bad("bosh.max_streams", "must be between 1 and 64")
	}
	if time.Duration(c.BOSH.MaxPause) < 0 {
		bad("bosh.max_pause", "must not be negative")
	}
	if c.BOSH.MaxSessions < 0 || c.BOSH.MaxSessionsPerAddress < 0 {
		bad("bosh.max_sessions", "limits must not be negative")
	}
	if c.BOSH.MaxQueueBytes < 4096 {
		bad("bosh.max_queue_bytes", "must be at least 4096")
	}
	if c.Poll.PollMin <= 0 || c.Poll.PollMax < c.Poll.PollMin {
		bad("poll.poll_max", "need 0 < poll_min <= poll_max")
	}
	if c.Poll.HoldCap < 0 {
		bad("poll.hold_cap", "must not be negative")
	}
	// A held poll must be answered before the HTTP server cuts it off.
	if limit := c.HTTPWriteTimeout(); c.HTTP.PollPath != "" && time.Duration(c.Poll.HoldCap) >= limit {
		bad("poll.hold_cap", "%v must be below bosh.max_wait + %v (%v), the HTTP write timeout", time.Duration(c.Poll.HoldCap), writeSlack, limit)
	}
	if time.Duration(c.Poll.SessionTimeout) < time.Second {
		bad("poll.session_timeout", "must be at least 1s")
	}
	switch c.Upstream.TLS {
	case "required", "optional", "off":
	default:
		bad("upstream.tls", "%q is not one of required, optional, off", c.Upstream.TLS)
	}
	if time.Duration(c.Upstream.DialTimeout) <= 0 {
		bad("upstream.dial_timeout", "must be positive")
	}
	if c.Upstream.MaxStanzaBytes < 1024 {
		bad("upstream.max_stanza_bytes", "must be at least 1024")
	}
	if c.Upstream.MaxDepth < 4 {
		bad("upstream.max_depth", "must be at least 4")
	}
	for _, a := range c.Upstream.SourceAddresses {
		if net.ParseIP(a) == nil {
			bad("upstream.source_addresses", "%q is not an IP address", a)
		}
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		key := fmt.Sprintf("domain[%d]", i)
		if d.Name == "" || strings.ContainsAny(d.Name, "@/ ") {
			bad(key+".name", "%q is not a domain", d.Name)
		}
		if seen[strings.ToLower(d.Name)] {
			bad(key+".name", "%q is listed twice", d.Name)
		}
		seen[strings.ToLower(d.Name)] = true
		for _, r := range d.Routes {
			if _, port, err := net.SplitHostPort(r); err != nil || port == "" {
				bad(key+".routes", "%q is not host:port", r)
			}
		}
	}
	if sec := c.Prebind.Secret.Reveal(); sec != "" && len(sec) < minSecretBytes {
		bad("prebind.secret", "must be at least %d bytes (e.g. openssl rand -hex 32)", minSecretBytes)
	}
	if !strings.HasPrefix(c.Prebind.Path, "/") {
		bad("prebind.path", "must start with /")
	}
	if c.Metrics.Listen == "" {
		paths["/metrics"], paths["/status"] = "/metrics", "/status"
	}
	for other, p := range paths {
		if p == c.Prebind.Path {
			bad("prebind.path", "%q is also %s", p, other)
		}
	}
	for _, a := range c.Prebind.Allow {
		if _, _, err := net.ParseCIDR(a); err != nil && net.ParseIP(a) == nil {
			bad("prebind.allow", "%q is not an address or CIDR", a)
		}
	}
	switch c.Log.Level {
	case "panic", "fatal", "error", "warn", "warning", "info", "debug", "trace":
	default:
		bad("log.level", "%q is not a level", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "must be text or json")
	}
	for _, a := range c.Metrics.Allow {
		if _, _, err := net.ParseCIDR(a); err != nil && net.ParseIP(a) == nil {
			bad("metrics.allow", "%q is not an address or CIDR", a)
		}
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", "%q is not host:port", c.Metrics.Listen)
		}
	}
	if c.Debug.PprofListen != "" {
		host, _, err := net.SplitHostPort(c.Debug.PprofListen)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			bad("debug.pprof_listen", "%q is not a loopback host:port", c.Debug.PprofListen)
		}
	}
	return errors.Join(errs...)
}

// writeSlack is how much longer than bosh.max_wait the HTTP server lets
// writing an answer take.
const writeSlack = 30 * time.Second

// HTTPWriteTimeout is the HTTP server's write timeout: a held request is
// answered after at most bosh.max_wait, plus slack for writing it.
func (c *Config) HTTPWriteTimeout() time.Duration {
	return time.Duration(c.BOSH.MaxWait) + writeSlack
}

// AddRoute adds or replaces a domain from a -route DOMAIN=HOST:PORT flag;
// repeating the flag for one domain adds routes to it.
func (c *Config) AddRoute(spec string, fromFlag map[string]bool) error {
	domain, addr, ok := strings.Cut(spec, "=")
	if !ok || domain == "" || addr == "" {
		return fmt.Errorf("-route %q: want DOMAIN=HOST:PORT", spec)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("-route %q: %q is not host:port", spec, addr)
	}
	domain = strings.ToLower(domain)
	for i := range c.Domains {
		if strings.EqualFold(c.Domains[i].Name, domain) {
			if !fromFlag[domain] {
				c.Domains[i].Routes = nil
			}
			c.Domains[i].Routes = append(c.Domains[i].Routes, addr)
			fromFlag[domain] = true
			return nil
		}
	}
	c.Domains = append(c.Domains, Domain{Name: domain, Routes: []string{addr}})
	fromFlag[domain] = true
	return nil
}

// String prints the effective settings as TOML.
func (c Config) String() string {
	b, err := toml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	return string(b)
}
