package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"boshd/bosh/metrics"
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
//
// Update swaps both for sessions opened afterwards (a configuration
// reload); a stream already open is not touched.
type Domains struct {
	// Dialer opens the streams; its Routes are the configured routes.
	Dialer *xmppconn.Dialer
	// Served lists the served domains (normalised, lower case). A domain in
	// Dialer.Routes is served too.
	Served []string
	// Metrics times each upstream connect and keeps its result (nil: not
	// recorded).
	Metrics *metrics.Metrics

	// mu guards Dialer and Served against Update; set them directly only
	// before the Domains is in use.
	mu sync.RWMutex
}

// Update replaces the dialer and the served domains for the sessions
// opened from now on.
func (d *Domains) Update(dialer *xmppconn.Dialer, served []string) {
	d.mu.Lock()
	d.Dialer, d.Served = dialer, served
	d.mu.Unlock()
}

// current returns the dialer and served domains in force.
func (d *Domains) current() (*xmppconn.Dialer, []string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.Dialer, d.Served
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
	dialer, served := d.current()
	if !serves(dialer, served, domain) {
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
	for _, r := range dialer.Routes[domain] {
		if sameAddr(r, addr) {
			t.Addr = r
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("%w: route %q is not configured for %q", ErrHostUnknown, route, domain)
}

func serves(dialer *xmppconn.Dialer, served []string, domain string) bool {
	if _, ok := dialer.Routes[domain]; ok {
		return true
	}
	for _, s := range served {
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

// Open opens the upstream stream for a checked target, with the dialer in
// force now. A target that a reload since Resolve no longer allows (the
// domain or the chosen route removed) is refused like an unknown one.
func (d *Domains) Open(ctx context.Context, t Target, from, lang, version string) (*xmppconn.Stream, error) {
	dialer, served := d.current()
	if !serves(dialer, served, t.Domain) || (t.Addr != "" && !slices.ContainsFunc(dialer.Routes[t.Domain], func(r string) bool { return sameAddr(r, t.Addr) })) {
		return nil, fmt.Errorf("%w: %q (route %q) is no longer configured", ErrHostUnknown, t.Domain, t.Addr)
	}
	start := time.Now()
	s, err := dialer.Open(ctx, xmppconn.StreamParams{
		To:      t.Domain,
		From:    from,
		Lang:    lang,
		Version: version,
		Addr:    t.Addr,
	})
	addr := t.Addr
	if s != nil {
		addr = s.Addr()
	}
	d.Metrics.UpstreamConnect(t.Domain, addr, time.Since(start), err)
	return s, err
}
