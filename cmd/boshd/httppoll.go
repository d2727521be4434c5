package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/httppoll"
	"boshd/bosh/metrics"
	"boshd/bosh/relay"
	"boshd/cmd/boshd/internal/config"
)

// pollConfig is the XEP-0025 front end's configuration. It shares the
// BOSH front end's domains and dialer (so the allowlist and the upstream
// TLS policy are the same), the session counter (so the limits cover
// both), the client address rule, the logger and the metrics.
func pollConfig(c config.Config, shared relay.FrontEnd, log *logrus.Logger) httppoll.Config {
	// config.Validate has checked that hold_cap is below the HTTP write
	// timeout.
	holdCap := time.Duration(c.Poll.HoldCap)
	if holdCap == 0 {
		holdCap = -1 // hold_cap = "0s": answer every poll at once
	}
	shared.Log = log.WithField("frontend", "xep-0025")
	return httppoll.Config{
		FrontEnd:        shared,
		Path:            c.HTTP.PollPath,
		CORSOrigins:     c.HTTP.CORSOrigins,
		PollInterval:    pollInterval(c.Poll),
		HoldCap:         holdCap,
		SessionTimeout:  time.Duration(c.Poll.SessionTimeout),
		MaxElementBytes: c.Upstream.MaxStanzaBytes,
		MaxDepth:        c.Upstream.MaxDepth,

		Compression:         c.HTTP.Compression,
		CompressionMinBytes: c.HTTP.CompressionMinBytes,
	}
}

// addPolling mounts the XEP-0025 endpoint when it is configured.
func (s *server) addPolling(mux *http.ServeMux, pc httppoll.Config) {
	path := s.cfg.HTTP.PollPath
	if path == "" {
		return
	}
	s.poll = httppoll.New(pc)
	ph := countRequests(metrics.Poll, s.metrics, s.poll)
	mux.Handle(path, ph)
	if !strings.HasSuffix(path, "/") {
		mux.Handle(path+"/", ph)
	}
	s.frontEnds = append(s.frontEnds, s.poll)
	s.log.WithField("path", path).Info("XEP-0025 HTTP Polling endpoint enabled")
}

// pollInterval is the adaptive poll interval policy for polling sessions.
func pollInterval(c config.Poll) func(idle time.Duration) time.Duration {
	min, max := time.Duration(c.PollMin), time.Duration(c.PollMax)
	return func(idle time.Duration) time.Duration { return relay.PollInterval(idle, min, max) }
}
