package prebind

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"
)

// Config configures a Handler. Secret and BOSH are required; every other
// field's zero value is a sensible default.
type Config struct {
	// Secret is the bearer token callers must present (RFC 6750 §2.1).
	// Required: New panics without it, so that pre-binding is never open.
	Secret string
	// Allow, when not empty, limits callers to these networks, checked
	// after the secret. Default: any address that knows the secret.
	Allow []netip.Prefix
	// BOSH is the BOSH endpoint (XEP-0124) the sessions are created on;
	// its ServeHTTP is called in-process. Required.
	BOSH http.Handler
	// ClientAddr returns the caller's address for Allow. Default: the host
	// of r.RemoteAddr (boshd passes its trusted-proxy rule).
	ClientAddr func(r *http.Request) string
	// Wait is the 'wait' in seconds the session is created with (XEP-0124
	// §7.1), which the page inherits. Default 60, Strophe.js's default.
	Wait int
	// Timeout bounds one pre-binding, from the session's creation to the
	// bound resource. Default 30 s.
	Timeout time.Duration
	// MaxBodyBytes bounds the request body. Default 8 KiB.
	MaxBodyBytes int64
	// Log receives one line per pre-binding (jid, sid, outcome), never a
	// password. Default: discarded.
	Log logrus.FieldLogger
}

func (c Config) withDefaults() Config {
	if c.ClientAddr == nil {
		c.ClientAddr = remoteHost
	}
	if c.Wait == 0 {
		c.Wait = 60
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 8 << 10
	}
	if c.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Log = l
	}
	return c
}

// remoteHost is the host part of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ParseAllow turns addresses and CIDR prefixes ("127.0.0.1", "10.0.0.0/8",
// "::1") into prefixes for Config.Allow.
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, &net.ParseError{Type: "address or CIDR", Text: s}
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
