package websocket

import "boshd/bosh/relay"

// config returns the configuration in force: New's, or that of the last
// Reload.
func (h *Handler) config() *Config { return h.cfg.Load() }

// Reload puts cfg in force for what happens from now on (boshd reloads its
// file on SIGHUP): new sessions get its domains, limits, origins, ping
// timers and see-other URI. Live sessions go on with the upstream stream
// they have; the settings a session reads as it runs (the ping timers, the
// write timeout, the logger) follow cfg. cfg.Domains must be set, as for
// New; cfg.Counter and cfg.Node are ignored (those given to New stay, so
// that the count of live sessions carries over and every session ID names
// the same node).
func (h *Handler) Reload(cfg Config) {
	cfg = cfg.withDefaults()
	relay.Reload(h.reg, h.config().FrontEnd, &cfg.FrontEnd)
	h.cfg.Store(&cfg)
}
