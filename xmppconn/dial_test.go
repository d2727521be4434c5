package xmppconn

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadAddr returns a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialRoutes(t *testing.T) {
	ok := func(p *peer) {
		if p.open("id", featuresBind) {
			p.drain()
		}
	}
	t.Run("routes tried in order", func(t *testing.T) {
		srv := newServer(t, ok)
		d := srv.dialer()
		d.Routes["example.net"] = []string{deadAddr(t), srv.addr}
		s := openStream(t, d)
		if s.Addr() != srv.addr {
			t.Errorf("connected to %s, want %s", s.Addr(), srv.addr)
		}
	})
	t.Run("domain matched in lower case", func(t *testing.T) {
		srv := newServer(t, func(p *peer) {
			if p.expect(xmlDecl + strings.Replace(clientHeader, "example.net", "Example.NET", 1)) {
				p.send(serverHeader("id") + featuresBind)
			}
			p.drain()
		})
		s, err := srv.dialer().Open(context.Background(), StreamParams{To: "Example.NET", Version: "1.0"})
		must(t, err)
		s.Close()
	})
	t.Run("Addr overrides routes", func(t *testing.T) {
		srv := newServer(t, ok)
		d := srv.dialer()
		d.Routes["example.net"] = []string{deadAddr(t)}
		s, err := d.Open(context.Background(), StreamParams{To: "example.net", Version: "1.0", Addr: srv.addr})
		must(t, err)
		s.Close()
	})
	t.Run("all routes fail", func(t *testing.T) {
		a, b := deadAddr(t), deadAddr(t)
		d := &Dialer{Routes: map[string][]string{"example.net": {a, b}}}
		_, err := d.Open(context.Background(), StreamParams{To: "example.net", Version: "1.0"})
		if err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
			t.Fatalf("error %v, want both addresses named", err)
		}
	})
	t.Run("local addresses round-robin", func(t *testing.T) {
		var mu sync.Mutex
		var from []string
		srv := newServer(t, func(p *peer) {
			host, _, _ := net.SplitHostPort(p.conn.RemoteAddr().String())
			mu.Lock()
			from = append(from, host)
			mu.Unlock()
			ok(p)
		})
		d := srv.dialer()
		d.LocalAddrs = []net.IP{net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.3")}
		for range 3 {
			openStream(t, d)
		}
		mu.Lock()
		defer mu.Unlock()
		if got := strings.Join(from, " "); got != "127.0.0.2 127.0.0.3 127.0.0.2" {
			t.Errorf("connections from %s, want 127.0.0.2 127.0.0.3 127.0.0.2", got)
		}
	})
}

// TestDialSRV checks that a domain without routes goes to DNS SRV and that
// the lookup is bounded by the Dialer's Timeout (a .invalid name never
// resolves, RFC 6761 §6.4).
func TestDialSRV(t *testing.T) {
	d := &Dialer{Timeout: 500 * time.Millisecond}
	within(t, 3*time.Second, "Open", func() {
		_, err := d.Open(context.Background(), StreamParams{To: "example.invalid", Version: "1.0"})
		if err == nil || !strings.Contains(err.Error(), "DNS SRV") {
			t.Errorf("error %v, want a DNS SRV failure", err)
		}
	})
	_, err := d.Open(context.Background(), StreamParams{To: "not a domain", Version: "1.0"})
	if err == nil {
		t.Error("Open accepted an invalid domain")
	}
}

// TestDialContext checks that a custom DialContext replaces the network for
// routes: here an in-memory pipe to a scripted server.
func TestDialContext(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	d := &Dialer{
		Routes: map[string][]string{"example.net": {"upstream:5222"}},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "upstream:5222" {
				t.Errorf("dialled %q, want the route", addr)
			}
			client, server := net.Pipe()
			wg.Go(func() {
				defer server.Close()
				p := &peer{t: t, conn: server}
				if p.open("pipe", featuresBind) {
					p.drain()
				}
			})
			return client, nil
		},
	}
	s := openStream(t, d)
	if s.Header().ID != "pipe" || string(s.Features()) != featuresBind {
		t.Errorf("header %+v features %q", s.Header(), s.Features())
	}
	within(t, time.Second, "Close", func() { must(t, s.Close()) })
}
