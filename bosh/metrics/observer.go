package metrics

import "time"

// Observer returns m as a relay.Observer (package bosh/relay's one hook
// for session events, given to every registry and relay through
// FrontEnd): the events alone move the session series of every front end
// — boshd_sessions{transport} and the sessions by domain /status shows
// (SessionCreated, SessionEnded), boshd_session_ends_total{transport,
// condition}, boshd_held_requests (Held), and boshd_stanzas_total{direction}
// with its bytes, both ways (Stanzas). The core's transport names map to the label's: "bosh"
// to bosh, "xep-0025" to poll, "websocket" to websocket. Connect attempts
// are counted by Domains (Domains.Metrics), which sees the failed ones
// too, so UpstreamConnected is ignored here. A nil m counts nothing.
func Observer(m *Metrics) RelayObserver { return RelayObserver{m} }

// RelayObserver is the relay.Observer of Metrics (see Observer).
type RelayObserver struct{ m *Metrics }

// transportOf is the transport label of the core's transport name.
func transportOf(name string) Transport {
	switch name {
	case "bosh":
		return BOSH
	case "xep-0025":
		return Poll
	case "websocket":
		return WebSocket
	}
	return numTransports // counted nowhere
}

// SessionCreated counts a new live session to domain.
func (o RelayObserver) SessionCreated(transport, domain string) {
	o.m.SessionStarted(transportOf(transport), domain)
}

// SessionEnded counts the end of a session and its condition.
func (o RelayObserver) SessionEnded(transport, domain, condition string) {
	o.m.SessionEnded(transportOf(transport), domain, condition)
}

// UpstreamConnected is counted by Domains (see Observer).
func (RelayObserver) UpstreamConnected(string, time.Duration) {}

// Held counts a request that began (delta > 0) or ended waiting for data.
func (o RelayObserver) Held(_ string, delta int) {
	if delta > 0 {
		o.m.HeldInc()
	} else {
		o.m.HeldDec()
	}
}

// Stanzas counts stanzas relayed either way.
func (o RelayObserver) Stanzas(_ string, toServer bool, count, n int) {
	d := ToClient
	if toServer {
		d = ToServer
	}
	o.m.Stanzas(d, count, n)
}
