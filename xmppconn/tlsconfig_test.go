package xmppconn

import (
	"crypto/tls"
	"fmt"
	"testing"
)

// TestTLSConfigShared: the streams to one server name share one TLS
// configuration, derived from TLSConfig with the name and TLS 1.2 at
// least filled in, while TLSConfig itself is left as it was; past the
// bound, a name gets a configuration of its own each time.
func TestTLSConfigShared(t *testing.T) {
	tests := []struct {
		name       string
		base       *tls.Config
		serverName string
		wantName   string
		wantMin    uint16
	}{
		{"no base", nil, "example.org", "example.org", tls.VersionTLS12},
		{"name defaulted, version raised", &tls.Config{MinVersion: tls.VersionTLS10}, "example.org", "example.org", tls.VersionTLS12},
		{"base's name and version kept", &tls.Config{ServerName: "xmpp.example.net", MinVersion: tls.VersionTLS13}, "example.org", "xmpp.example.net", tls.VersionTLS13},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before *tls.Config
			if tc.base != nil {
				before = tc.base.Clone()
			}
			d := &Dialer{TLSConfig: tc.base}
			a, b := d.tlsConfigFor(tc.serverName), d.tlsConfigFor(tc.serverName)
			if a != b {
				t.Fatal("two streams to one name got two configurations")
			}
			if a.ServerName != tc.wantName || a.MinVersion != tc.wantMin {
				t.Fatalf("ServerName %q MinVersion %x, want %q %x", a.ServerName, a.MinVersion, tc.wantName, tc.wantMin)
			}
			if other := d.tlsConfigFor("other.example"); other == a {
				t.Fatal("two names share one configuration")
			}
			if tc.base != nil && (tc.base.ServerName != before.ServerName || tc.base.MinVersion != before.MinVersion || tc.base == a) {
				t.Fatal("TLSConfig itself was changed or handed out")
			}
		})
	}
	d := &Dialer{}
	for i := range maxSharedTLSConfigs {
		d.tlsConfigFor(fmt.Sprintf("d%d.example", i))
	}
	if d.tlsConfigFor("late.example") == d.tlsConfigFor("late.example") {
		t.Fatal("a name past the bound was kept")
	}
	if len(d.tlsConfigs) != maxSharedTLSConfigs {
		t.Fatalf("%d names kept, want %d", len(d.tlsConfigs), maxSharedTLSConfigs)
	}
}
