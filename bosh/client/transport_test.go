package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPoolLocalAddr: a pool with a source address connects from it, and
// one without lets the kernel choose (127.0.0.1 towards 127.0.0.1).
func TestPoolLocalAddr(t *testing.T) {
	seen := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		seen <- host
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write([]byte("<body xmlns='http://jabber.org/protocol/httpbind'/>"))
	}))
	defer srv.Close()
	for _, c := range []struct {
		local net.Addr
		want  string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, "127.0.0.2"},
		{nil, "127.0.0.1"},
	} {
		p := &Pool{LocalAddr: c.local}
		tg, err := newTarget(srv.URL+"/http-bind", "text/xml; charset=utf-8", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.do(context.Background(), tg, []byte("<body/>"), 1<<16, func() {}); err != nil {
			t.Fatalf("request from %v: %v", c.local, err)
		}
		if got := <-seen; got != c.want {
			t.Errorf("LocalAddr %v: the server saw %s, want %s", c.local, got, c.want)
		}
		p.CloseIdle()
	}
}
