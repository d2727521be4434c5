package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"mellium.im/xmpp/jid"

	"boshd/xmppconn"
)

// Refusals of [Domains.Resolve], named after the XEP-0124 §17.2 conditions
// the front ends answer them with.
var (
	// ErrImproperAddressing: no domain was given.
	ErrImproperAddressing = errors.New("relay: no 'to' domain")
	// ErrHostUnknown: the domain (or the route) is not one this server serves.
	ErrHostUnknown = errors.New("relay: domain or route not served")
)

// Domains is the allowlist of served XMPP domains and the dialer that
// reaches them. A session may only ever be connected where the
// configuration says: to a domain's configured routes, or, for a domain
// without routes, to what DNS SRV names for it. This keeps the connection
// manager from being an open TCP relay (XEP-0124 §7.1 'route').
type Domains struct {
	// Dialer opens the streams; its Routes are the configured routes.
	Dialer *xmppconn.Dialer
	// Served lists the served domains (normalised, lower case). A domain in
	// Dialer.Routes is served too.
	Served []string
}

// Target is a checked destination: the normalised domain and, if the
// client chose one of the configured routes, that address.
type Target struct {
	Domain string
	Addr   string
}

// Resolve checks the client's 'to' and optional 'route' (XEP-0124 §7.1,
// "proto:host:port", which must not be parsed as a URI) against the
// configuration.
func (d *Domains) Resolve(to, route string) (Target, error) {
	to = strings.TrimSpace(to)
	if to == "" {
		return Target{}, ErrImproperAddressing
	}
	j, err := jid.Parse(to)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
		return Target{}, fmt.Errorf("%w: %q is not a domain", ErrHostUnknown, to)
	}
	domain := j.Domainpart()
	if !d.serves(domain) {
		return Target{}, fmt.Errorf("%w: %q", ErrHostUnknown, domain)
	}
	t := Target{Domain: domain}
	if route == "" {
		return t, nil
	}
	proto, addr, ok := strings.Cut(route, ":")
	if !ok || proto != "xmpp" {
		return Target{}, fmt.Errorf("%w: route %q", ErrHostUnknown, route)
	}
	for _, r := range d.Dialer.Routes[domain] {
		if sameAddr(r, addr) {
			t.Addr = r
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("%w: route %q is not configured for %q", ErrHostUnknown, route, domain)
}

func (d *Domains) serves(domain string) bool {
	if _, ok := d.Dialer.Routes[domain]; ok {
		return true
	}
	for _, s := range d.Served {
		if s == domain {
			return true
		}
	}
	return false
}

// sameAddr compares "host:port" strings, ignoring the case of the host.
func sameAddr(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ap == bp && strings.EqualFold(strings.Trim(ah, "[]"), strings.Trim(bh, "[]"))
}

// Open opens the upstream stream for a checked target.
func (d *Domains) Open(ctx context.Context, t Target, from, lang, version string) (*xmppconn.Stream, error) {
	return d.Dialer.Open(ctx, xmppconn.StreamParams{
		To:      t.Domain,
		From:    from,
		Lang:    lang,
		Version: version,
		Addr:    t.Addr,
	})
}
