package relay

import "net"

// ClientAddr returns the address a request counts against for the
// per-address session limit, from its connection's remote address and its
// X-Forwarded-For header: custom's answer when custom is set (cmd/boshd sets
// it to honour X-Forwarded-For from trusted proxies), else the host part of
// remoteAddr.
func ClientAddr(remoteAddr, forwardedFor string, custom func(remoteAddr, forwardedFor string) string) string {
	if custom != nil {
		return custom(remoteAddr, forwardedFor)
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
