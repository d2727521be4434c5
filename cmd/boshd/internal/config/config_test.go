package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestExampleMatchesDefaults loads the documented config.toml: it must be
// valid, and every value in it must be the default it documents (its one
// [[domain]] aside).
func TestExampleMatchesDefaults(t *testing.T) {
	c, err := Load("../../../../config.toml")
	if err != nil {
		t.Fatalf("config.toml: %v", err)
	}
	if len(c.Domains) != 1 || c.Domains[0].Name != "localhost" {
		t.Fatalf("domains %+v", c.Domains)
	}
	c.Domains = nil
	c.HTTP.TrustedProxies = nil
	c.Upstream.SourceAddresses = nil
	c.Prebind.Allow = nil
	if want := Default(); !reflect.DeepEqual(c, want) {
		t.Fatalf("config.toml and Default() differ:\nfile:    %+v\ndefault: %+v", c, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // substrings of the error
	}{
		{"unknown key names line and column", "[bosh]\nmax_wiat = \"10s\"\n", []string{"x.toml:2:1", "bosh.max_wiat"}},
		{"wrong type", "[bosh]\nmax_hold = \"one\"\n", []string{"x.toml:2:"}},
		{"bad duration", "[bosh]\nmax_wait = \"soon\"\n", []string{"x.toml:2:", "duration"}},
		{"syntax", "[bosh\n", []string{"x.toml:1:"}},
		{"range", "[bosh]\nmax_hold = 0\n", []string{"bosh.max_hold"}},
		{"compression threshold", "[http]\ncompression_min_bytes = 0\n", []string{"http.compression_min_bytes"}},
		{"tls policy", "[upstream]\ntls = \"maybe\"\n", []string{"upstream.tls"}},
		{"route", "[[domain]]\nname = \"a.example\"\nroutes = [\"nohost\"]\n", []string{"domain[0].routes"}},
		{"duplicate domain", "[[domain]]\nname = \"a\"\n[[domain]]\nname = \"A\"\n", []string{"listed twice"}},
		{"hold_cap past the write timeout", "[bosh]\nmax_wait = \"5s\"\n[poll]\nhold_cap = \"40s\"\n", []string{"poll.hold_cap", "write timeout"}},
		{"node id with a capital", "[cluster]\nnode_id = \"N1\"\n", []string{"cluster.node_id", "a-z, 0-9"}},
		{"node id with a dot", "[cluster]\nnode_id = \"n.1\"\n", []string{"cluster.node_id"}},
		{"node id too long", "[cluster]\nnode_id = \"" + strings.Repeat("a", 33) + "\"\n", []string{"cluster.node_id"}},
		{"negative grace", "[cluster]\nshutdown_grace = \"-1s\"\n", []string{"cluster.shutdown_grace"}},
		{"ready path on the BOSH path", "[http]\nready_path = \"/http-bind\"\n", []string{"http.ready_path", "http.path"}},
		{"health path without a slash", "[http]\nhealth_path = \"healthz\"\n", []string{"http.health_path"}},
		{"prebind secret too short", "[prebind]\nsecret = \"short\"\n", []string{"prebind.secret", "16 bytes"}},
		{"prebind secret not a string", "[prebind]\nsecret = 12345678901234567890\n", []string{"x.toml:2:"}},
		{"prebind path relative", "[prebind]\npath = \"prebind\"\n", []string{"prebind.path"}},
		{"prebind path is the BOSH path", "[prebind]\npath = \"/http-bind\"\n", []string{"prebind.path"}},
		{"prebind path is the ready path", "[prebind]\npath = \"/readyz\"\n", []string{"prebind.path", "http.ready_path"}},
		{"prebind path is /metrics", "[prebind]\npath = \"/metrics\"\n", []string{"prebind.path", "/metrics"}},
		{"prebind allow", "[prebind]\nallow = [\"10.0.0.0/33\"]\n", []string{"prebind.allow", "10.0.0.0/33"}},
		{"pprof not on loopback", "[debug]\npprof_listen = \"0.0.0.0:6060\"\n", []string{"debug.pprof_listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tt.in))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCORSOrigins(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{"*"}},
		{"[http]\ncors_origins = []\n", []string{}},
		{"[http]\ncors_origins = [\"https://a.example\"]\n", []string{"https://a.example"}},
	}
	for _, tt := range tests {
		c, err := Parse("x.toml", []byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.HTTP.CORSOrigins, tt.want) {
			t.Errorf("%q: origins %q, want %q", tt.in, c.HTTP.CORSOrigins, tt.want)
		}
	}
}

func TestAddRoute(t *testing.T) {
	c := Default()
	c.Domains = []Domain{{Name: "a.example", Routes: []string{"10.0.0.1:5222"}}}
	from := map[string]bool{}
	for _, r := range []string{"a.example=127.0.0.1:1", "a.example=127.0.0.1:2", "b.example=127.0.0.1:3"} {
		if err := c.AddRoute(r, from); err != nil {
			t.Fatal(err)
		}
	}
	want := []Domain{{Name: "a.example", Routes: []string{"127.0.0.1:1", "127.0.0.1:2"}}, {Name: "b.example", Routes: []string{"127.0.0.1:3"}}}
	if !reflect.DeepEqual(c.Domains, want) {
		t.Fatalf("domains %+v, want %+v", c.Domains, want)
	}
	for _, bad := range []string{"nodomain", "=127.0.0.1:1", "a=nohostport"} {
		if err := c.AddRoute(bad, from); err == nil {
			t.Errorf("AddRoute(%q) accepted", bad)
		}
	}
}

// TestSecretHidden: the effective settings -check prints never show the
// pre-binding secret, only that one is set.
func TestSecretHidden(t *testing.T) {
	const secret = "0123456789abcdef-very-secret"
	c, err := Parse("x.toml", []byte("[prebind]\nsecret = \""+secret+"\"\nallow = [\"127.0.0.1\", \"10.0.0.0/8\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Prebind.Secret.Reveal() != secret || c.Prebind.Path != "/prebind" || len(c.Prebind.Allow) != 2 {
		t.Fatalf("prebind settings %+v", c.Prebind)
	}
	out := c.String()
	if strings.Contains(out, secret) || !strings.Contains(out, "(set)") {
		t.Fatalf("-check output shows the secret or does not say it is set:\n%s", out)
	}
}

// TestMaxSessionsPerAddress: the per-address limit defaults to 100 and an
// explicit 0 (no limit, for load tests from one machine) is kept.
func TestMaxSessionsPerAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 100},
		{"[bosh]\nmax_sessions_per_address = 0\n", 0},
		{"[bosh]\nmax_sessions_per_address = 1500\n", 1500},
	} {
		c, err := Parse("test.toml", []byte(tc.in+"[[domain]]\nname = \"localhost\"\n"))
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := c.BOSH.MaxSessionsPerAddress; got != tc.want {
			t.Errorf("%q: max_sessions_per_address %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestPerAddressExempt: loopback is exempt from the per-address limit by
// default, [] removes the exemption, and what is not an address or CIDR is
// refused.
func TestPerAddressExempt(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", []string{"127.0.0.0/8", "::1"}, ""},
		{"[bosh]\nper_address_exempt = []\n", []string{}, ""},
		{"[bosh]\nper_address_exempt = [\"10.1.2.3\", \"192.0.2.0/24\"]\n", []string{"10.1.2.3", "192.0.2.0/24"}, ""},
		{"[bosh]\nper_address_exempt = [\"office\"]\n", nil, "bosh.per_address_exempt"},
	} {
		c, err := Parse("test.toml", []byte(tc.in+"[[domain]]\nname = \"localhost\"\n"))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one naming %s", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := c.BOSH.PerAddressExempt; strings.Join(got, ",") != strings.Join(tc.want, ",") || got == nil {
			t.Errorf("%q: per_address_exempt %q, want %q", tc.in, got, tc.want)
		}
	}
}
