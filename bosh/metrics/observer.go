package metrics

import "time"

// Observer returns m as a relay.Observer (package bosh/relay's one hook
// for session events, given to every registry through FrontEnd): it counts
// the stanzas the server sends, one event per stanza read by a relay, in
// boshd_stanzas_total{direction="to_client"} and its bytes.
//
// The other events are counted where the front ends have what the
// contract's labels need and the hook does not carry: sessions by domain
// for /status and the ends with metrics.EndTerminate / EndInactivity
// (SessionStarted, SessionEnded), every connect attempt, failed ones too,
// with its domain (Domains.Metrics), and stanzas to the server by count
// (a relay sees one write of a request's payloads). Those events are
// ignored here so that nothing is counted twice. A nil m counts nothing.
func Observer(m *Metrics) RelayObserver { return RelayObserver{m} }

// RelayObserver is the relay.Observer of Metrics (see Observer).
type RelayObserver struct{ m *Metrics }

// SessionCreated is counted by the front ends (see Observer).
func (RelayObserver) SessionCreated(string) {}

// SessionEnded is counted by the front ends (see Observer).
func (RelayObserver) SessionEnded(string, string) {}

// UpstreamConnected is counted by Domains (see Observer).
func (RelayObserver) UpstreamConnected(string, time.Duration) {}

// Stanza counts a stanza from the server; writes to it are counted by the
// front ends (see Observer).
func (o RelayObserver) Stanza(_ string, toServer bool, n int) {
	if !toServer {
		o.m.Stanza(ToClient, n)
	}
}
