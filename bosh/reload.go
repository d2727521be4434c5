package bosh

// config returns the settings in force: those given to New, or to the
// last Reload.
func (h *Handler) config() *Config { return h.cfg.Load() }

// Reload puts cfg in force for what happens from now on (boshd reloads its
// file on SIGHUP): new sessions get its domains, limits and timers, and requests its CORS origins.
// Live sessions go on; the settings a session reads on each request (the
// poll interval policy, the logger) follow cfg. cfg.Domains must be set, as
// for New; cfg.Counter is ignored (the one given to New stays, so that the
// count of live sessions carries over).
func (h *Handler) Reload(cfg Config) {
	cfg = cfg.withDefaults()
	if cfg.Domains == nil {
		panic("bosh: Config.Domains is required")
	}
	cfg.Counter = h.config().Counter
	h.reg.SetLimits(cfg.MaxSessions, cfg.MaxSessionsPerAddress)
	h.cfg.Store(&cfg)
}
