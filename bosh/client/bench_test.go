package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// The client's hot path: building a request, parsing an answer, and one
// HTTP exchange. Run with: go test -run XXX -bench . ./bosh/client

var benchStanza = []byte("<message xmlns='jabber:client' type='chat' to='bob@example.net/phone' id='m42'><body>Hello, how are you doing today?</body></message>")

func BenchmarkAppendRequest(b *testing.B) {
	sid := "5b2c8f6e0d1a4e7c9f3b2a1d0c9e8f7a"
	b.Run("poll", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			_ = appendRequest(make([]byte, 0, requestSize(sid, nil)), 1<<40+uint64(i), sid, "", "", 0, nil)
		}
	})
	b.Run("message", func(b *testing.B) {
		b.ReportAllocs()
		ps := [][]byte{benchStanza}
		for i := range b.N {
			_ = appendRequest(make([]byte, 0, requestSize(sid, ps)), 1<<40+uint64(i), sid, "", "", 0, ps)
		}
	})
}

func BenchmarkParseBody(b *testing.B) {
	empty := []byte("<body xmlns='http://jabber.org/protocol/httpbind'/>")
	three := []byte("<body xmlns='http://jabber.org/protocol/httpbind'>" +
		"<message xmlns='jabber:client' from='alice@example.net/laptop' to='bob@example.net/phone' type='chat' id='a1'><body>First message &amp; some text</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>" +
		"<presence xmlns='jabber:client' from='carol@example.net/desk'><show>away</show><status>Lunch</status></presence>" +
		"<message xmlns='jabber:client' from='alice@example.net/laptop' to='bob@example.net/phone' type='chat' id='a2'><body>Second message</body></message>" +
		"</body>")
	for _, c := range []struct {
		name string
		raw  []byte
	}{{"empty", empty}, {"three-stanzas", three}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			for range b.N {
				if _, err := ParseBody(c.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExchange measures one request/answer over loopback through the
// session's transports: the pool (default) and net/http.
func BenchmarkExchange(b *testing.B) {
	answer := []byte("<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client' id='x'><body>hi</body></message></body>")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		w.Header().Set("Content-Type", DefaultContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		w.Write(answer)
	}))
	defer srv.Close()
	ctx := context.Background()
	req := appendRequest(nil, 1, "sid", "", "", 0, [][]byte{benchStanza})

	b.Run("pool", func(b *testing.B) {
		p := &Pool{}
		defer p.CloseIdle()
		t, err := newTarget(srv.URL, DefaultContentType, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for range b.N {
			if _, err := p.do(ctx, t, req, DefaultMaxBodySize, func() {}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net-http", func(b *testing.B) {
		tr := NewTransport()
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		b.ReportAllocs()
		for range b.N {
			if _, err := post(ctx, hc, srv.URL, DefaultContentType, nil, req, DefaultMaxBodySize, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
