package relay

import (
	"errors"
	"testing"

	"boshd/xmppconn"
)

// TestDomainsUpdate: after Update, Resolve checks 'to' and 'route'
// against the new domains and routes only.
func TestDomainsUpdate(t *testing.T) {
	d := &Domains{Dialer: &xmppconn.Dialer{Routes: map[string][]string{"a.example": {"10.0.0.1:5222"}}}, Served: []string{"c.example"}}
	d.Update(&xmppconn.Dialer{Routes: map[string][]string{"b.example": {"10.0.0.2:5222"}}}, []string{"d.example"})
	tests := []struct {
		to, route string
		want      Target
		err       error
	}{
		{"a.example", "", Target{}, ErrHostUnknown},
		{"c.example", "", Target{}, ErrHostUnknown},
		{"b.example", "", Target{Domain: "b.example"}, nil},
		{"b.example", "xmpp:10.0.0.2:5222", Target{Domain: "b.example", Addr: "10.0.0.2:5222"}, nil},
		{"b.example", "xmpp:10.0.0.1:5222", Target{}, ErrHostUnknown},
		{"d.example", "", Target{Domain: "d.example"}, nil},
	}
	for _, tt := range tests {
		got, err := d.Resolve(tt.to, tt.route)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Resolve(%q, %q) = %+v, %v; want %+v, %v", tt.to, tt.route, got, err, tt.want, tt.err)
		}
	}
}

// TestOpenAfterUpdate: a target resolved before a reload that removed its
// domain or its route is refused by Open, never dialled: the allowlist
// holds across a reload.
func TestOpenAfterUpdate(t *testing.T) {
	d := &Domains{Dialer: &xmppconn.Dialer{Routes: map[string][]string{"a.example": {"10.0.0.1:5222"}, "b.example": {"10.0.0.2:5222"}}}}
	removedDomain, _ := d.Resolve("a.example", "")
	removedRoute, _ := d.Resolve("b.example", "xmpp:10.0.0.2:5222")
	d.Update(&xmppconn.Dialer{Routes: map[string][]string{"b.example": {"10.0.0.3:5222"}}}, nil)
	for _, tgt := range []Target{removedDomain, removedRoute} {
		if _, err := d.Open(t.Context(), tgt, "", "", "1.0"); !errors.Is(err, ErrHostUnknown) {
			t.Errorf("Open(%+v) after the reload: %v, want ErrHostUnknown", tgt, err)
		}
	}
}
