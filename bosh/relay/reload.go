package relay

// Reload readies next, a front end's settings read again (boshd reloads
// its file on SIGHUP), to take the place of prev, those in force for the
// sessions of reg: next keeps prev's Counter and Node, so that the count
// of live sessions carries over and every session ID, old or new, names
// the same node (a load balancer routes on it), and reg's limits become
// next's (Registry.SetLimits). The front end then stores next; live
// sessions go on. It panics when next.Domains is nil, as every front end's
// New does.
func Reload[V any](reg *Registry[V], prev FrontEnd, next *FrontEnd) {
	if next.Domains == nil {
		panic("relay: FrontEnd.Domains is required")
	}
	next.Counter = prev.Counter
	next.Node = prev.Node
	reg.SetLimits(next.MaxSessions, next.MaxSessionsPerAddress)
}
