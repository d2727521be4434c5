package main

import (
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"boshd/bosh/hostmeta"
	"boshd/bosh/metrics"
	"boshd/bosh/relay"
	"boshd/bosh/websocket"
	"boshd/cmd/boshd/internal/config"
)

// wsConfig is the RFC 7395 front end's configuration. Like the XEP-0025
// endpoint it shares the BOSH front end's domains and dialer, the session
// counter (so the limits cover all three), the client address rule, the
// node ID, the logger and the metrics; the Origin check uses the CORS
// list. A reload applies all of it to new sessions (websocket.Handler's
// Reload); only http.websocket_path needs a restart.
func wsConfig(c config.Config, shared relay.FrontEnd, log *logrus.Logger) websocket.Config {
	shared.Log = log.WithField("frontend", "websocket")
	return websocket.Config{
		FrontEnd:     shared,
		Origins:      c.HTTP.CORSOrigins,
		PingInterval: time.Duration(c.WS.PingInterval),
		PingTimeout:  time.Duration(c.WS.PingTimeout),
		SeeOtherURI:  c.WS.SeeOtherURI,
		MaxDepth:     c.Upstream.MaxDepth,
	}
}

// addWebSocket mounts the RFC 7395 endpoint when it is configured. The
// upgrade request is counted once in boshd_http_requests_total (its 101,
// or the error that refused it); the session's life is counted by the
// handler.
func (s *server) addWebSocket(mux *http.ServeMux, wc websocket.Config) {
	path := s.cfg.HTTP.WebSocketPath
	if path == "" {
		return
	}
	s.ws = websocket.New(wc)
	mux.Handle(path, countRequests(metrics.WebSocket, s.metrics, s.ws))
	s.frontEnds = append(s.frontEnds, s.ws)
	s.log.WithField("path", path).Info("RFC 7395 WebSocket endpoint enabled")
}

// addHostMeta mounts XEP-0156 discovery of the BOSH and WebSocket
// endpoints when it is configured.
func (s *server) addHostMeta(mux *http.ServeMux) {
	c := s.cfg
	if !c.HTTP.HostMeta {
		return
	}
	h := hostmeta.New(hostmeta.Config{
		BOSHURL:       c.HTTP.PublicBOSHURL,
		WebSocketURL:  c.HTTP.PublicWebSocketURL,
		BOSHPath:      c.HTTP.Path,
		WebSocketPath: c.HTTP.WebSocketPath,
		Origins:       c.HTTP.CORSOrigins,
	})
	mux.Handle(hostmeta.PathXRD, h)
	mux.Handle(hostmeta.PathJSON, h)
}
