// Command boshd is an XMPP connection manager: it serves XMPP over BOSH
// (XEP-0124, XEP-0206) and the XEP-0025 HTTP Polling fallback to browsers
// and bridges each session to an XMPP server over TCP.
//
// Usage:
//
//	boshd [-config FILE] [-listen ADDR] [-route DOMAIN=HOST:PORT]... [-log-level LEVEL] [-check]
//
// Flags override the file. -check validates the configuration, prints the
// effective settings and exits.
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
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh"
	"boshd/bosh/relay"
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
	cfgPath := fs.String("config", "", "TOML configuration `file` (see config.toml)")
	listen := fs.String("listen", "", "listen `address` (overrides http.listen)")
	logLevel := fs.String("log-level", "", "log `level` (overrides log.level)")
	check := fs.Bool("check", false, "validate the configuration, print the effective settings and exit")
	var routes routeFlags
	fs.Var(&routes, "route", "serve `DOMAIN=HOST:PORT` (repeatable; overrides the file's routes for DOMAIN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	if *listen != "" {
		cfg.HTTP.Listen = *listen
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
	}
	fromFlag := map[string]bool{}
	for _, r := range routes {
		if err := cfg.AddRoute(r, fromFlag); err != nil {
			return err
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(cfg.Domains) == 0 {
		return errors.New("no domain to serve: add a [[domain]] to the config or pass -route DOMAIN=HOST:PORT")
	}
	if *check {
		fmt.Print(cfg.String())
		return nil
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	srv, err := newServer(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default action: a second one
	// kills at once instead of waiting out the bounded shutdown.
	context.AfterFunc(ctx, stop)
	return srv.run(ctx)
}

func newLogger(c config.Log) (*logrus.Logger, error) {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	lvl, err := logrus.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	l.SetLevel(lvl)
	if c.Format == "json" {
		l.SetFormatter(&logrus.JSONFormatter{DisableHTMLEscape: true, TimestampFormat: time.RFC3339Nano})
	} else {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return l, nil
}

// server is the running process: the HTTP listener and the front ends.
type server struct {
	cfg  config.Config
	log  *logrus.Logger
	http *http.Server
	// held is the listener of connections handed back after a held BOSH
	// request (bosh.Handler.HeldConns), served by http too.
	held net.Listener
	// shutdowns are the front ends' Shutdown methods, called before the
	// HTTP server's so that held requests are answered first.
	shutdowns []func(context.Context) error
}

func newServer(cfg config.Config, log *logrus.Logger) (*server, error) {
	dialer, err := newDialer(cfg)
	if err != nil {
		return nil, err
	}
	domains := &relay.Domains{Dialer: dialer}
	for _, d := range cfg.Domains {
		domains.Served = append(domains.Served, strings.ToLower(d.Name))
	}
	clientAddr, err := clientAddrFunc(cfg.HTTP.TrustedProxies)
	if err != nil {
		return nil, err
	}
	// What both front ends share: one session counter covers both limits.
	shared := relay.FrontEnd{
		Domains:               domains,
		MaxBodyBytes:          cfg.HTTP.MaxBodyBytes,
		MaxSessions:           cfg.BOSH.MaxSessions,
		MaxSessionsPerAddress: cfg.BOSH.MaxSessionsPerAddress,
		Counter:               relay.NewCounter(),
		MaxQueueBytes:         cfg.BOSH.MaxQueueBytes,
		DialTimeout:           time.Duration(cfg.Upstream.DialTimeout),
		ClientAddr:            clientAddr,
		Log:                   log,
	}
	bh := bosh.New(bosh.Config{
		FrontEnd:     shared,
		MaxWait:      time.Duration(cfg.BOSH.MaxWait),
		MaxHold:      cfg.BOSH.MaxHold,
		Inactivity:   time.Duration(cfg.BOSH.Inactivity),
		Polling:      time.Duration(cfg.BOSH.Polling),
		MaxPause:     maxPause(cfg.BOSH.MaxPause),
		PollInterval: pollInterval(cfg.Poll),
		CORSOrigins:  cfg.HTTP.CORSOrigins,
	})
	mux := http.NewServeMux()
	mux.Handle(cfg.HTTP.Path, bh)
	if !strings.HasSuffix(cfg.HTTP.Path, "/") {
		mux.Handle(cfg.HTTP.Path+"/", bh) // Tsung and some proxies add a slash
	}
	s := &server{cfg: cfg, log: log, held: bh.HeldConns()}
	s.shutdowns = append(s.shutdowns, bh.Shutdown)
	s.addHTTPPoll(mux, shared)
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

// clientAddrFunc returns how a request's client address is found: the TCP
// peer, or, when that peer is a trusted proxy, the last address in
// X-Forwarded-For that is not itself a trusted proxy.
func clientAddrFunc(trusted []string) (func(remote, forwarded string) string, error) {
	var nets []*net.IPNet
	for _, t := range trusted {
		if !strings.Contains(t, "/") {
			if strings.Contains(t, ":") {
				t += "/128"
			} else {
				t += "/32"
			}
		}
		_, n, err := net.ParseCIDR(t)
		if err != nil {
			return nil, fmt.Errorf("http.trusted_proxies: %w", err)
		}
		nets = append(nets, n)
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

func (s *server) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if s.cfg.HTTP.TLSCert != "" {
		scheme = "https"
	}
	entry := s.log.WithFields(logrus.Fields{"addr": ln.Addr().String(), "path": s.cfg.HTTP.Path})
	for _, d := range s.cfg.Domains {
		entry = entry.WithField("domain:"+d.Name, strings.Join(d.Routes, " "))
	}
	entry.Infof("boshd serving %s://%s%s", scheme, ln.Addr(), s.cfg.HTTP.Path)
	if s.cfg.Debug.PprofListen != "" {
		stopPprof, err := s.servePprof(s.cfg.Debug.PprofListen)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
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
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: answering held requests and closing upstream streams")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, shut := range s.shutdowns {
		if err := shut(sctx); err != nil {
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
