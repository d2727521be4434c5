package session

import (
	"net"
	"net/http"
)

// ClientAddr returns the address r counts against for the per-address
// session limit: custom's answer when custom is set (cmd/boshd sets it to
// honour X-Forwarded-For from trusted proxies), else the host part of the
// connection's remote address.
func ClientAddr(r *http.Request, custom func(remoteAddr, forwardedFor string) string) string {
	if custom != nil {
		return custom(r.RemoteAddr, r.Header.Get("X-Forwarded-For"))
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
