package httppoll

import "boshd/bosh/relay"

// config returns the settings in force: those given to New, or to the
// last Reload.
func (h *Handler) config() *Config { return h.cfg.Load() }

// Reload puts cfg in force for what happens from now on (boshd reloads its
// file on SIGHUP): new sessions get its domains, limits and timers.
// Live sessions go on; the settings a session reads on each request (the
// poll interval policy, the logger) follow cfg. cfg.Domains must be set, as
// for New; cfg.Counter and cfg.Node are ignored (those given to New stay,
// so that the count of live sessions carries over and every session ID,
// old or new, names the same node: a load balancer routes on it).
func (h *Handler) Reload(cfg Config) {
	cfg = cfg.withDefaults()
	relay.Reload(h.reg, h.config().FrontEnd, &cfg.FrontEnd)
	h.cfg.Store(&cfg)
	h.shell.Reload(shellConfig(&cfg))
}
