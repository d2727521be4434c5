package browser

import (
	"testing"
	"time"
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
}

// servers are the real XMPP servers the browsers reach through BOSH.
var servers = []struct {
	name  string
	start func(t *testing.T) *xmppServer
}{
	{"prosody", startProsody},
}

// TestBrowser drives headless Chromium, with the real Strophe.js and
// Converse.js, through the BOSH endpoint under test (boshd unless
// BROWSER_BOSH=own) to each real XMPP server.
func TestBrowser(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			e := newEnv(t, s.start(t))
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					sc.run(t, e, time.Now().Add(sc.timeout))
				})
			}
		})
	}
}

func startProsody(t *testing.T) *xmppServer {
	p := startLocalProsody(t)
	return &xmppServer{domain: p.domain, c2sAddr: p.c2sAddr, ownBOSH: p.boshURL, register: p.Register}
}
