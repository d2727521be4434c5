package main

import (
	"net/http"
	"os"
	"time"
)

// A drain takes this process out of a fleet without dropping anyone
// (docs/deploy.md). It starts at the first SIGTERM or SIGINT when
// cluster.shutdown_grace is above 0:
//
//  1. /readyz answers 503 at once, so the load balancer sends no new
//     sessions here (its health check marks the node draining; requests
//     naming this node's sessions still come here).
//  2. Every front end refuses new sessions: BOSH with a system-shutdown
//     terminate (XEP-0124 §17.2), which clients answer by connecting again
//     (through the balancer, to another node); XEP-0025 with the §3.1.2
//     server error.
//  3. Open sessions go on until the last one ends, the grace runs out, or
//     a second signal arrives; the shutdown that follows answers the rest
//     with system-shutdown.
//
// The log says how many sessions the drain started and ended with.

// drainPoll is how often a drain looks at the number of open sessions.
const drainPoll = 100 * time.Millisecond

// drain runs steps 2 and 3 (run has done step 1) and returns when the
// shutdown may begin.
func (s *server) drain(grace time.Duration, sigs <-chan os.Signal) {
	for _, fe := range s.frontEnds {
		fe.Drain()
	}
	start := time.Now()
	s.log.WithField("sessions", s.sessions()).WithField("grace", grace.String()).Info("draining: refusing new sessions, waiting for open ones to end")
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	why := "grace ended"
wait:
	for s.sessions() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			break wait
		case sig := <-sigs:
			why = "second signal (" + sig.String() + ")"
			break wait
		}
	}
	if s.sessions() == 0 {
		why = "no session left"
	}
	s.log.WithField("remaining", s.sessions()).WithField("after", time.Since(start).Round(time.Millisecond).String()).Infof("drain over: %s", why)
}

// sessions is the number of open sessions over every front end.
func (s *server) sessions() int {
	n := 0
	for _, fe := range s.frontEnds {
		n += fe.Sessions()
	}
	return n
}

// addProbes mounts the liveness and readiness probes on the main listener
// (http.health_path, http.ready_path): a load balancer or orchestrator
// asks them. Both answer any method with a short text body and no caching.
func (s *server) addProbes(mux *http.ServeMux) {
	probe := func(ok func() bool, yes, no string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			if ok() {
				w.WriteHeader(http.StatusOK)
				w.Write([]byte(yes + "\n"))
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(no + "\n"))
		}
	}
	if p := s.cfg.HTTP.HealthPath; p != "" {
		mux.Handle(p, probe(func() bool { return true }, "alive", ""))
	}
	if p := s.cfg.HTTP.ReadyPath; p != "" {
		mux.Handle(p, probe(func() bool { return !s.notReady.Load() }, "ready", "draining"))
	}
}
