package main

import (
	"net/http"
	"time"

	"boshd/bosh/hostmeta"
	"boshd/bosh/session"
	"boshd/bosh/websocket"
)

// addWebSocket mounts the RFC 7395 endpoint when it is configured. Like
// the XEP-0025 endpoint it shares the BOSH front end's domains and dialer,
// the session counter (so the limits cover all three), the client address
// rule and the logger; the Origin check uses the CORS list.
func (s *server) addWebSocket(mux *http.ServeMux, shared session.FrontEnd) {
	c := s.cfg
	if c.HTTP.WebSocketPath == "" {
		return
	}
	shared.Log = s.log.WithField("frontend", "websocket")
	wh := websocket.New(websocket.Config{
		FrontEnd:     shared,
		Origins:      c.HTTP.CORSOrigins,
		PingInterval: time.Duration(c.WS.PingInterval),
		PingTimeout:  time.Duration(c.WS.PingTimeout),
		SeeOtherURI:  c.WS.SeeOtherURI,
		MaxDepth:     c.Upstream.MaxDepth,
	})
	mux.Handle(c.HTTP.WebSocketPath, wh)
	s.shutdowns = append(s.shutdowns, wh.Shutdown)
	s.log.WithField("path", c.HTTP.WebSocketPath).Info("RFC 7395 WebSocket endpoint enabled")
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
