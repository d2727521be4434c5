package main

import "testing"

// TestClientAddr: X-Forwarded-For is believed only from trusted proxies,
// and only as far back as the first hop that is not itself a trusted
// proxy, so a client cannot pick the address its sessions count against
// by sending the header itself.
func TestClientAddr(t *testing.T) {
	addr, err := clientAddrFunc([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, forwarded, want string
	}{
		{"direct client", "198.51.100.1:5000", "", "198.51.100.1"},
		{"direct client forging the header", "198.51.100.1:5000", "203.0.113.9", "198.51.100.1"},
		{"trusted proxy", "192.0.2.7:5000", "203.0.113.9", "203.0.113.9"},
		{"trusted proxy, client forged a first hop", "192.0.2.7:5000", "1.2.3.4, 203.0.113.9", "203.0.113.9"},
		{"chain of trusted proxies", "10.1.1.1:5000", "203.0.113.9, 10.2.2.2", "203.0.113.9"},
		{"trusted IPv6 proxy", "[2001:db8::1]:5000", "2001:db8::99", "2001:db8::99"},
		{"trusted proxy without the header", "192.0.2.7:5000", "", "192.0.2.7"},
		{"garbage hop: the proxy itself counts", "192.0.2.7:5000", "not-an-ip", "192.0.2.7"},
		{"only trusted hops", "10.1.1.1:5000", "10.2.2.2", "10.1.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addr(tt.remote, tt.forwarded); got != tt.want {
				t.Errorf("client address %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := clientAddrFunc([]string{"10.0.0.0/99"}); err == nil {
		t.Error("a malformed trusted_proxies entry was accepted")
	}
}
