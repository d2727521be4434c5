package relay

import "testing"

func TestClientAddr(t *testing.T) {
	trustAll := func(remote, fwd string) string { return "custom:" + remote + "|" + fwd }
	tests := []struct {
		name, remote, fwd string
		custom            func(string, string) string
		want              string
	}{
		{"host of host:port", "192.0.2.1:4711", "", nil, "192.0.2.1"},
		{"IPv6 host", "[2001:db8::1]:4711", "", nil, "2001:db8::1"},
		{"no port: kept whole", "pipe", "", nil, "pipe"},
		{"forwarded-for ignored by default", "192.0.2.1:4711", "198.51.100.7", nil, "192.0.2.1"},
		{"custom sees both", "192.0.2.1:4711", "198.51.100.7", trustAll, "custom:192.0.2.1:4711|198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClientAddr(tt.remote, tt.fwd, tt.custom); got != tt.want {
				t.Errorf("ClientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}
