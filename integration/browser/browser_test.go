package browser

import (
	"testing"
	"time"

	"boshd/integration/servers"
)

// scenario is one browser test, run against every server.
type scenario struct {
	name    string
	timeout time.Duration // bound on the whole scenario
	run     func(t *testing.T, e *env, deadline time.Time)
}

var scenarios = []scenario{
	{"StropheChat", 60 * time.Second, testStropheChat},
	{"StropheRosterPresence", 60 * time.Second, testStropheRosterPresence},
	{"StropheIdleLongerThanWait", 60 * time.Second, testStropheIdle},
	{"StropheCleanDisconnect", 60 * time.Second, testStropheDisconnect},
	{"StropheNetworkDrop", 90 * time.Second, testStropheNetworkDrop},
	{"StropheKeepaliveReload", 60 * time.Second, testStropheReload},
	{"ConverseUI", 90 * time.Second, testConverseUI},
	{"ConversePrebind", 90 * time.Second, testConversePrebind},
	{"ConverseWebSocket", 90 * time.Second, testConverseWebSocket},
	{"ConverseHostMeta", 90 * time.Second, testConverseHostMeta},
}

// xmppServers are the real XMPP servers the browsers reach through BOSH.
var xmppServers = []struct {
	name  string
	start func(t testing.TB, o servers.Options) *servers.Server
}{
	{servers.KindProsody, servers.Prosody},
	{servers.KindEjabberd, servers.Ejabberd},
}

// TestBrowser drives headless Chromium, with the real Strophe.js and
// Converse.js, through the BOSH endpoint under test (boshd unless
// BROWSER_BOSH=own) to each real XMPP server.
func TestBrowser(t *testing.T) {
	for _, s := range xmppServers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t, servers.Options{OwnBOSH: boshMode() == "own"})
			e := newEnv(t, &xmppServer{domain: srv.Domain, c2sAddr: srv.Addr, ownBOSH: srv.BOSHURL, register: srv.Register})
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					sc.run(t, e, time.Now().Add(sc.timeout))
				})
			}
		})
	}
}
