package main

import (
	"reflect"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/prebind"
	"boshd/cmd/boshd/internal/config"
)

// restartOnly are the keys a running process cannot take over: the
// listeners and what is mounted on them, bosh.max_wait, from which the
// HTTP server's write timeout is derived, the XEP-0156 host-meta
// document (built once at start from the http.public_* URLs),
// bosh.per_address_exempt (given to the registries at start), and cluster.node_id, which every
// live session's ID names (a load balancer routes on it, so it must not
// change under them). A reload that changes one keeps the running value
// and says so; the rest of the file takes effect. cluster.shutdown_grace
// is not among them: run reads it when the stop signal comes.
var restartOnly = []struct {
	key   string
	field func(*config.Config) any // a pointer to the key's field
}{
	{"http.listen", func(c *config.Config) any { return &c.HTTP.Listen }},
	{"http.path", func(c *config.Config) any { return &c.HTTP.Path }},
	{"http.poll_path", func(c *config.Config) any { return &c.HTTP.PollPath }},
	{"http.websocket_path", func(c *config.Config) any { return &c.HTTP.WebSocketPath }},
	{"http.host_meta", func(c *config.Config) any { return &c.HTTP.HostMeta }},
	{"http.public_bosh_url", func(c *config.Config) any { return &c.HTTP.PublicBOSHURL }},
	{"http.public_websocket_url", func(c *config.Config) any { return &c.HTTP.PublicWebSocketURL }},
	{"http.tls_cert", func(c *config.Config) any { return &c.HTTP.TLSCert }},
	{"http.tls_key", func(c *config.Config) any { return &c.HTTP.TLSKey }},
	{"http.static_dir", func(c *config.Config) any { return &c.HTTP.StaticDir }},
	{"http.health_path", func(c *config.Config) any { return &c.HTTP.HealthPath }},
	{"http.ready_path", func(c *config.Config) any { return &c.HTTP.ReadyPath }},
	{"bosh.max_wait", func(c *config.Config) any { return &c.BOSH.MaxWait }},
	{"bosh.per_address_exempt", func(c *config.Config) any { return &c.BOSH.PerAddressExempt }},
	{"metrics.listen", func(c *config.Config) any { return &c.Metrics.Listen }},
	{"debug.pprof_listen", func(c *config.Config) any { return &c.Debug.PprofListen }},
	{"cluster.node_id", func(c *config.Config) any { return &c.Cluster.NodeID }},
	{"prebind.path", func(c *config.Config) any { return &c.Prebind.Path }},
}

// keepPrebindSwitch keeps pre-binding on or off as it started: turning it
// on mounts prebind.path, which a running mux cannot do, and turning it
// off must not leave a secret-less endpoint. A rotated secret (set before
// and after) is not kept: reload applies it.
func keepPrebindSwitch(running, next *config.Config) []string {
	if (running.Prebind.Secret.Reveal() == "") == (next.Prebind.Secret.Reveal() == "") {
		return nil
	}
	next.Prebind.Secret = running.Prebind.Secret
	return []string{"prebind.secret (pre-binding on or off)"}
}

// keepRestartOnly sets next's restart-only keys to running's values and
// returns the keys that differed.
func keepRestartOnly(running, next *config.Config) []string {
	var kept []string
	for _, k := range restartOnly {
		r, n := reflect.ValueOf(k.field(running)).Elem(), reflect.ValueOf(k.field(next)).Elem()
		if !reflect.DeepEqual(r.Interface(), n.Interface()) {
			kept = append(kept, k.key)
			n.Set(r)
		}
	}
	return kept
}

// reload rereads the configuration file (SIGHUP) and puts it in force for
// what happens next: domains and routes, upstream settings, CORS origins,
// limits and timers for new sessions, HTTP compression (http.compression
// and its threshold, for the requests that arrive next), the metrics access rule, the
// pre-binding secret and allow list, the log level and format, the
// drain's cluster.shutdown_grace. Live sessions go
// on with their upstream streams. A file that does not load (its error
// names file:line:column) or settings that cannot be built change
// nothing: the error is logged and the running settings stay. Everything is built before anything is swapped.
func (s *server) reload() {
	s.log.WithField("config", s.opts.path).Info("SIGHUP: reloading the configuration")
	refuse := func(err error) {
		s.log.WithError(err).Error("reload refused; the running settings stay")
	}
	cfg, err := s.opts.load()
	if err != nil {
		refuse(err)
		return
	}
	s.mu.Lock()
	running := s.cfg
	s.mu.Unlock()
	kept := append(keepRestartOnly(&running, &cfg), keepPrebindSwitch(&running, &cfg)...)
	dialer, err := newDialer(cfg)
	if err != nil {
		refuse(err)
		return
	}
	bc, pc, wc, err := s.frontEndConfigs(cfg)
	if err != nil {
		refuse(err)
		return
	}
	access, err := newAccessRule(cfg)
	if err != nil {
		refuse(err)
		return
	}
	var prc prebind.Config
	if s.prebind != nil {
		if prc, err = s.prebindConfig(cfg); err != nil {
			refuse(err)
			return
		}
	}

	if err := configureLogger(s.log, cfg.Log); err != nil { // validated: cannot fail
		refuse(err)
		return
	}
	s.domains.Update(dialer, servedDomains(cfg))
	s.bosh.Reload(bc)
	if s.poll != nil {
		s.poll.Reload(pc)
	}
	if s.ws != nil {
		s.ws.Reload(wc)
	}
	if s.prebind != nil {
		s.prebind.Reload(prc)
	}
	s.mu.Lock()
	s.cfg, s.access, s.reloaded = cfg, access, time.Now()
	s.mu.Unlock()

	entry := s.log.WithField("config", s.opts.path)
	for _, d := range cfg.Domains {
		entry = entry.WithField("domain:"+d.Name, strings.Join(d.Routes, " "))
	}
	entry.Info("configuration reloaded: new sessions use it, live sessions go on")
	if len(kept) > 0 {
		s.log.WithFields(logrus.Fields{"keys": strings.Join(kept, ", ")}).Warn("changed keys need a restart; their running values stay")
	}
}
