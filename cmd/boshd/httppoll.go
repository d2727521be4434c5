package main

import (
	"net/http"
	"strings"
	"time"

	"boshd/bosh/httppoll"
	"boshd/bosh/relay"
	"boshd/cmd/boshd/internal/config"
)

// addHTTPPoll mounts the XEP-0025 endpoint when it is configured. It shares
// the BOSH front end's domains and dialer (so the allowlist and the
// upstream TLS policy are the same), the session counter (so the limits
// cover both), the client address rule and the logger.
func (s *server) addHTTPPoll(mux *http.ServeMux, shared relay.FrontEnd) {
	c := s.cfg
	if c.HTTP.PollPath == "" {
		return
	}
	// config.Validate has checked that hold_cap is below the HTTP write
	// timeout.
	holdCap := time.Duration(c.Poll.HoldCap)
	if holdCap == 0 {
		holdCap = -1 // hold_cap = "0s": answer every poll at once
	}
	shared.Log = s.log.WithField("frontend", "xep-0025")
	ph := httppoll.New(httppoll.Config{
		FrontEnd:        shared,
		Path:            c.HTTP.PollPath,
		CORSOrigins:     c.HTTP.CORSOrigins,
		PollInterval:    pollInterval(c.Poll),
		HoldCap:         holdCap,
		SessionTimeout:  time.Duration(c.Poll.SessionTimeout),
		MaxElementBytes: c.Upstream.MaxStanzaBytes,
		MaxDepth:        c.Upstream.MaxDepth,
	})
	mux.Handle(c.HTTP.PollPath, ph)
	if !strings.HasSuffix(c.HTTP.PollPath, "/") {
		mux.Handle(c.HTTP.PollPath+"/", ph)
	}
	s.shutdowns = append(s.shutdowns, ph.Shutdown)
	s.log.WithField("path", c.HTTP.PollPath).Info("XEP-0025 HTTP Polling endpoint enabled")
}

// pollInterval is the adaptive poll interval policy of [poll], advised to
// XEP-0025 sessions and to XEP-0124 §12 polling sessions alike.
func pollInterval(c config.Poll) func(idle time.Duration) time.Duration {
	min, max := time.Duration(c.PollMin), time.Duration(c.PollMax)
	return func(idle time.Duration) time.Duration { return relay.PollInterval(idle, min, max) }
}
