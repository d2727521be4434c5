// Command boshd is an XMPP connection manager: it serves XMPP over BOSH
// (XEP-0124, XEP-0206), XMPP over WebSocket (RFC 7395) and the XEP-0025
// HTTP Polling fallback to browsers, with XEP-0156 discovery of them,
// and bridges each session to an XMPP server over TCP.
//
// Usage:
//
//	boshd [-config FILE] [-listen ADDR] [-route DOMAIN=HOST:PORT]... [-node-id NAME] [-log-level LEVEL] [-check] [-version]
//
// Flags override the file. -check validates the configuration, prints the
// effective settings and exits; -version prints the version and build.
// /metrics and /status serve operators (see ops.go); /healthz and /readyz
// a load balancer (see drain.go).
//
// Signals: SIGHUP rereads the file (see reload.go). SIGTERM or SIGINT
// stops the process after answering held requests; with
// cluster.shutdown_grace above 0 it drains first (see drain.go), a second
// signal ends the drain, and a signal during the final shutdown kills at
// once.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"boshd/bosh"
	"boshd/bosh/httppoll"
	"boshd/bosh/metrics"
	"boshd/bosh/prebind"
	"boshd/bosh/relay"
	"boshd/bosh/websocket"
	"boshd/cmd/boshd/internal/config"
	"boshd/xmppconn"
)

type routeFlags []string

func (r *routeFlags) String() string     { return strings.Join(*r, ",") }
func (r *routeFlags) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "boshd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("boshd", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.path, "config", "", "TOML configuration `file` (see config.toml)")
	fs.StringVar(&o.listen, "listen", "", "listen `address` (overrides http.listen)")
	fs.StringVar(&o.logLevel, "log-level", "", "log `level` (overrides log.level)")
	check := fs.Bool("check", false, "validate the configuration, print the effective settings and exit")
	version := fs.Bool("version", false, "print the version and build, and exit")
	fs.Var(&o.routes, "route", "serve `DOMAIN=HOST:PORT` (repeatable; overrides the file's routes for DOMAIN)")
	fs.StringVar(&o.nodeID, "node-id", "", "this process's `NAME` in a fleet, put in front of every session id (overrides cluster.node_id)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		fmt.Print(readBuild().String())
		return nil
	}
	cfg, err := o.load()
	if err != nil {
		return err
	}
	if *check {
		fmt.Print(cfg.String())
		return nil
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	if err := configureLogger(log, cfg.Log); err != nil {
		return err
	}
	srv, err := newServer(cfg, o, log)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// SIGHUP (systemctl reload) rereads the file; without this, Go's
	// default action for it ends the process at once.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return srv.run(sigs, hup)
}

// options are the command line's: the file and the flags that override it,
// applied again on every reload.
type options struct {
	path, listen, logLevel, nodeID string
	routes                         routeFlags
}

// load reads the file (or the defaults without one), applies the flags and
// validates the result.
func (o options) load() (config.Config, error) {
	cfg := config.Default()
	if o.path != "" {
		var err error
		if cfg, err = config.Load(o.path); err != nil {
			return config.Config{}, err
		}
	}
	if o.listen != "" {
		cfg.HTTP.Listen = o.listen
	}
	if o.logLevel != "" {
		cfg.Log.Level = o.logLevel
	}
	if o.nodeID != "" {
		if err := config.CheckNodeID(o.nodeID); err != nil {
			return config.Config{}, fmt.Errorf("-node-id: %w", err)
		}
		cfg.Cluster.NodeID = o.nodeID
	}
	fromFlag := map[string]bool{}
	for _, r := range o.routes {
		if err := cfg.AddRoute(r, fromFlag); err != nil {
			return config.Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, fmt.Errorf("config: %w", err)
	}
	if len(cfg.Domains) == 0 {
		return config.Config{}, errors.New("no domain to serve: add a [[domain]] to the config or pass -route DOMAIN=HOST:PORT")
	}
	return cfg, nil
}

// configureLogger sets the level and format of l; on a reload it changes
// the logger every front end and session already logs through.
func configureLogger(l *logrus.Logger, c config.Log) error {
	lvl, err := logrus.ParseLevel(c.Level)
	if err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	l.SetLevel(lvl)
	if c.Format == "json" {
		l.SetFormatter(&logrus.JSONFormatter{DisableHTMLEscape: true, TimestampFormat: time.RFC3339Nano})
	} else {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return nil
}

// server is the running process: the HTTP listener, the front ends and
// what a reload swaps.
type server struct {
	opts    options
	log     *logrus.Logger
	started time.Time
	build   buildInfo
	http    *http.Server
	// frontEnds are every front end (bosh, and poll and websocket when
	// mounted), in the
	// order they are drained, counted and shut down before the HTTP
	// server, so that held requests are answered first.
	frontEnds []frontEnd
	// notReady turns /readyz to 503: set when a drain or shutdown starts.
	notReady atomic.Bool
	// held is the listener of connections handed back after a held BOSH
	// request (bosh.Handler.HeldConns), served by http too.
	held net.Listener

	// What every generation of settings shares: the domains (swapped in
	// place by Update), the session counter behind the limits, the
	// metrics, and the front ends themselves by type (they take new
	// settings through Reload; frontEnds lists the same two).
	domains *relay.Domains
	counter *relay.Counter
	metrics *metrics.Metrics
	promReg *prometheus.Registry
	bosh    *bosh.Handler
	poll    *httppoll.Handler  // nil when http.poll_path is ""
	ws      *websocket.Handler // nil when http.websocket_path is ""
	prebind *prebind.Handler   // nil when prebind.secret is ""

	// mu guards the fields below. run's goroutine, which alone writes
	// them (on reload), reads them without it.
	mu       sync.Mutex
	cfg      config.Config
	access   *accessRule
	reloaded time.Time
}

// frontEnd is what the process does with a protocol front end (package
// bosh, bosh/httppoll) over its life.
type frontEnd interface {
	Drain()
	Sessions() int
	Shutdown(context.Context) error
}

func newServer(cfg config.Config, o options, log *logrus.Logger) (*server, error) {
	s := &server{
		opts:    o,
		log:     log,
		started: time.Now(),
		build:   readBuild(),
		counter: relay.NewCounter(),
		promReg: metrics.NewRegistry(),
		cfg:     cfg,
	}
	s.metrics = metrics.New(s.promReg)
	dialer, err := newDialer(cfg)
	if err != nil {
		return nil, err
	}
	s.domains = &relay.Domains{Dialer: dialer, Served: servedDomains(cfg), Metrics: s.metrics}
	bc, pc, wc, err := s.frontEndConfigs(cfg)
	if err != nil {
		return nil, err
	}
	if s.access, err = newAccessRule(cfg); err != nil {
		return nil, err
	}
	s.bosh = bosh.New(bc)
	mux := http.NewServeMux()
	bh := countRequests(metrics.BOSH, s.metrics, s.bosh)
	mux.Handle(cfg.HTTP.Path, bh)
	if !strings.HasSuffix(cfg.HTTP.Path, "/") {
		mux.Handle(cfg.HTTP.Path+"/", bh) // Tsung and some proxies add a slash
	}
	s.frontEnds = append(s.frontEnds, s.bosh)
	s.held = s.bosh.HeldConns()
	s.addPolling(mux, pc)
	s.addWebSocket(mux, wc)
	s.addHostMeta(mux)
	if err := s.addPrebind(mux, cfg); err != nil {
		return nil, err
	}
	s.addProbes(mux)
	if cfg.Metrics.Listen == "" {
		s.addOps(mux)
	}
	if cfg.HTTP.StaticDir != "" {
		mux.Handle("/", http.FileServer(http.Dir(cfg.HTTP.StaticDir)))
	}
	s.http = &http.Server{
		Addr:              cfg.HTTP.Listen,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.HTTPWriteTimeout(),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	return s, nil
}

// frontEndConfigs turns the file's settings into the two front ends'
// configurations, sharing the server's domains, counter and metrics.
func (s *server) frontEndConfigs(cfg config.Config) (bosh.Config, httppoll.Config, websocket.Config, error) {
	clientAddr, err := clientAddrFunc(cfg.HTTP.TrustedProxies)
	if err != nil {
		return bosh.Config{}, httppoll.Config{}, websocket.Config{}, err
	}
	exempt, err := addrMatcher("bosh.per_address_exempt", cfg.BOSH.PerAddressExempt)
	if err != nil {
		return bosh.Config{}, httppoll.Config{}, websocket.Config{}, err
	}
	// What both front ends share: one session counter covers both limits.
	shared := relay.FrontEnd{
		Domains:                s.domains,
		MaxBodyBytes:           cfg.HTTP.MaxBodyBytes,
		MaxSessions:            cfg.BOSH.MaxSessions,
		MaxSessionsPerAddress:  cfg.BOSH.MaxSessionsPerAddress,
		Counter:                s.counter,
		MaxQueueBytes:          cfg.BOSH.MaxQueueBytes,
		DialTimeout:            time.Duration(cfg.Upstream.DialTimeout),
		ClientAddr:             clientAddr,
		ExemptFromAddressLimit: exempt,
		Node:                   cfg.Cluster.NodeID,
		Log:                    s.log,
		Metrics:                s.metrics,
		// The one relay.Observer: stanzas from the server (the rest is
		// counted where the front ends know the domain, see metrics.Observer).
		Observer: metrics.Observer(s.metrics),
	}
	bc := bosh.Config{
		FrontEnd:     shared,
		MaxWait:      time.Duration(cfg.BOSH.MaxWait),
		MaxHold:      cfg.BOSH.MaxHold,
		Inactivity:   time.Duration(cfg.BOSH.Inactivity),
		Polling:      time.Duration(cfg.BOSH.Polling),
		MaxPause:     maxPause(cfg.BOSH.MaxPause),
		MaxStreams:   cfg.BOSH.MaxStreams,
		PollInterval: pollInterval(cfg.Poll),
		CORSOrigins:  cfg.HTTP.CORSOrigins,

		Compression:         cfg.HTTP.Compression,
		CompressionMinBytes: cfg.HTTP.CompressionMinBytes,
	}
	return bc, pollConfig(cfg, shared, s.log), wsConfig(cfg, shared, s.log), nil
}

// servedDomains lists the configured domains, normalised.
func servedDomains(cfg config.Config) []string {
	var served []string
	for _, d := range cfg.Domains {
		served = append(served, strings.ToLower(d.Name))
	}
	return served
}

// addPrebind serves pre-binding ([prebind], package bosh/prebind) when a
// secret is configured. It drives the BOSH handler itself, not the
// counting wrapper on http.path: its in-process requests are not client
// HTTP requests (the sessions it opens count as BOSH sessions, and the
// page's requests on them as BOSH requests).
func (s *server) addPrebind(mux *http.ServeMux, cfg config.Config) error {
	if cfg.Prebind.Secret.Reveal() == "" {
		return nil
	}
	pc, err := s.prebindConfig(cfg)
	if err != nil {
		return err
	}
	s.prebind = prebind.New(pc)
	mux.Handle(cfg.Prebind.Path, s.prebind)
	return nil
}

// prebindConfig turns the file's [prebind] table and trusted proxies into
// the pre-binding handler's configuration (at start and on reload).
func (s *server) prebindConfig(cfg config.Config) (prebind.Config, error) {
	allow, err := prebind.ParseAllow(cfg.Prebind.Allow)
	if err != nil {
		return prebind.Config{}, fmt.Errorf("prebind.allow: %w", err)
	}
	clientAddr, err := clientAddrFunc(cfg.HTTP.TrustedProxies)
	if err != nil {
		return prebind.Config{}, err
	}
	return prebind.Config{
		Secret: cfg.Prebind.Secret.Reveal(),
		Allow:  allow,
		BOSH:   s.bosh,
		ClientAddr: func(r *http.Request) string {
			return relay.ClientAddr(r.RemoteAddr, r.Header.Get("X-Forwarded-For"), clientAddr)
		},
		Log: s.log,
	}, nil
}

func maxPause(d config.Duration) time.Duration {
	if d == 0 {
		return -1 // pausing disabled
	}
	return time.Duration(d)
}

func newDialer(cfg config.Config) (*xmppconn.Dialer, error) {
	d := &xmppconn.Dialer{
		Routes:          map[string][]string{},
		Timeout:         time.Duration(cfg.Upstream.DialTimeout),
		MaxElementBytes: cfg.Upstream.MaxStanzaBytes,
		MaxDepth:        cfg.Upstream.MaxDepth,
		TLSConfig:       &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Upstream.InsecureSkipVerify},
	}
	switch cfg.Upstream.TLS {
	case "required":
		d.TLS = xmppconn.TLSRequired
	case "off":
		d.TLS = xmppconn.TLSOff
	default:
		d.TLS = xmppconn.TLSOptional
	}
	if cfg.Upstream.CAFile != "" {
		pem, err := os.ReadFile(cfg.Upstream.CAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream.ca_file: %s holds no PEM certificate", cfg.Upstream.CAFile)
		}
		d.TLSConfig.RootCAs = pool
	}
	for _, a := range cfg.Upstream.SourceAddresses {
		d.LocalAddrs = append(d.LocalAddrs, net.ParseIP(a))
	}
	for _, dom := range cfg.Domains {
		if len(dom.Routes) > 0 {
			d.Routes[strings.ToLower(dom.Name)] = dom.Routes
		}
	}
	return d, nil
}

// parseNets parses addresses and CIDRs; an address is a network of one.
// addrMatcher reports whether a client address (as clientAddrFunc returns
// it) is in list's addresses or CIDRs; nil when list is empty.
func addrMatcher(key string, list []string) (func(addr string) bool, error) {
	nets, err := parseNets(key, list)
	if err != nil || len(nets) == 0 {
		return nil, err
	}
	return func(addr string) bool {
		ip := net.ParseIP(addr)
		for _, n := range nets {
			if ip != nil && n.Contains(ip) {
				return true
			}
		}
		return false
	}, nil
}

func parseNets(key string, list []string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, t := range list {
		if !strings.Contains(t, "/") {
			if strings.Contains(t, ":") {
				t += "/128"
			} else {
				t += "/32"
			}
		}
		_, n, err := net.ParseCIDR(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		nets = append(nets, n)
	}
	return nets, nil
}

// clientAddrFunc returns how a request's client address is found: the TCP
// peer, or, when that peer is a trusted proxy, the last address in
// X-Forwarded-For that is not itself a trusted proxy.
func clientAddrFunc(trusted []string) (func(remote, forwarded string) string, error) {
	nets, err := parseNets("http.trusted_proxies", trusted)
	if err != nil {
		return nil, err
	}
	isTrusted := func(ip net.IP) bool {
		for _, n := range nets {
			if n.Contains(ip) {
				return true
			}
		}
		return false
	}
	return func(remote, forwarded string) string {
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		ip := net.ParseIP(host)
		if ip == nil || !isTrusted(ip) || forwarded == "" {
			return host
		}
		hops := strings.Split(forwarded, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h := strings.TrimSpace(hops[i])
			hip := net.ParseIP(h)
			if hip == nil {
				return host
			}
			if !isTrusted(hip) {
				return hip.String()
			}
		}
		return host
	}, nil
}

// run serves until the listener fails or a signal arrives on sigs,
// reloading the file at each signal on hup; then it drains (when
// cluster.shutdown_grace is set) and shuts down.
func (s *server) run(sigs chan os.Signal, hup <-chan os.Signal) error {
	ln, err := net.Listen("tcp", s.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if s.cfg.HTTP.TLSCert != "" {
		scheme = "https"
	}
	entry := s.log.WithFields(logrus.Fields{"addr": ln.Addr().String(), "path": s.cfg.HTTP.Path, "version": s.build.Version})
	for _, d := range s.cfg.Domains {
		entry = entry.WithField("domain:"+d.Name, strings.Join(d.Routes, " "))
	}
	if s.cfg.Cluster.NodeID != "" {
		entry = entry.WithField("node", s.cfg.Cluster.NodeID)
	}
	entry.Infof("boshd serving %s://%s%s", scheme, ln.Addr(), s.cfg.HTTP.Path)
	if s.cfg.Prebind.Secret.Reveal() != "" {
		s.log.WithField("allow", strings.Join(s.cfg.Prebind.Allow, " ")).Infof("pre-binding on %s://%s%s", scheme, ln.Addr(), s.cfg.Prebind.Path)
	}
	if s.cfg.Debug.PprofListen != "" {
		stopPprof, err := s.servePprof(s.cfg.Debug.PprofListen)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	if s.cfg.Metrics.Listen != "" {
		stopOps, err := s.serveOps(s.cfg.Metrics.Listen)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopOps()
	}
	errc := make(chan error, 1)
	go func() {
		if scheme == "https" {
			errc <- s.http.ServeTLS(ln, s.cfg.HTTP.TLSCert, s.cfg.HTTP.TLSKey)
		} else {
			errc <- s.http.Serve(ln)
		}
	}()
	// Keep-alive connections that held a BOSH request come back through
	// their own listener to the same server (bosh.Handler.HeldConns).
	heldDone := make(chan struct{})
	go func() { defer close(heldDone); s.http.Serve(s.held) }()
	defer func() { s.held.Close(); <-heldDone }()
wait:
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-hup:
			s.reload()
		case sig := <-sigs:
			s.notReady.Store(true)
			s.log.WithField("signal", sig.String()).Info("signal received")
			break wait
		}
	}
	if grace := time.Duration(s.cfg.Cluster.ShutdownGrace); grace > 0 {
		s.drain(grace, sigs)
	}
	// From here on a signal has its default action: it kills at once
	// instead of waiting out the bounded shutdown.
	signal.Stop(sigs)
	s.log.WithField("sessions", s.sessions()).Info("shutting down: answering held requests with system-shutdown and closing upstream streams")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, fe := range s.frontEnds {
		if err := fe.Shutdown(sctx); err != nil {
			s.log.WithError(err).Warn("front end did not stop in time")
		}
	}
	if err := s.http.Shutdown(sctx); err != nil {
		s.log.WithError(err).Warn("HTTP server did not stop in time")
		s.http.Close()
	}
	<-errc
	s.log.Info("stopped")
	return nil
}

// servePprof serves Go's runtime profiles (net/http/pprof) on addr, a
// loopback address ([debug] pprof_listen), until the returned function is
// called; that function stops the listener and waits for its goroutine.
func (s *server) servePprof(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug.pprof_listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	s.log.Warnf("serving profiles on http://%s/debug/pprof/ (debug.pprof_listen)", ln.Addr())
	return func() { hs.Close(); <-done }, nil
}
