package bosh

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// BenchmarkAnswerCompression is one answer of about 1, 4 and 16 KB from
// the server through a live session, with compression off and on (the
// request asks for gzip): the server sends a stanza, an empty poll gets
// it. cpu-ns/op (the process's user+system CPU from getrusage)
// with on minus off is what compressing costs per answer, the whole path
// included. docs/benchmarks.md ("HTTP compression") quotes it.
func BenchmarkAnswerCompression(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10} {
		// A chat message of the size, with text that compresses like text.
		var text strings.Builder
		for i := 0; text.Len() < size-200; i++ {
			fmt.Fprintf(&text, "line %d of a longer message, about the release on %d May; ", i, i%31+1)
		}
		stanza := "<message to='alice@localhost/web' from='bob@localhost/phone' type='chat' id='s%d'><body>" + text.String() + "</body></message>"
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dKB/compression=%v", size>>10, on), func(b *testing.B) {
				up := xmpptest.NewPipe()
				defer up.Close()
				h := New(Config{FrontEnd: relay.FrontEnd{
					Domains: &relay.Domains{
						Dialer: &xmppconn.Dialer{Routes: map[string][]string{"localhost": {up.Addr}}, DialContext: up.Dial},
						Served: []string{"localhost"},
					},
				}, Compression: on})
				defer h.Shutdown(context.Background())
				post := func(body string) *httptest.ResponseRecorder {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest("POST", "/http-bind", strings.NewReader(body))
					req.Header.Set("Accept-Encoding", "gzip")
					h.ServeHTTP(rec, req)
					return rec
				}
				a := post("<body xmlns='http://jabber.org/protocol/httpbind' rid='1000' to='localhost' wait='30' hold='1' ver='1.11'/>").Body.String()
				i := strings.Index(a, "sid='")
				if i < 0 {
					b.Fatalf("no session: %s", a)
				}
				sid := a[i+5 : i+5+strings.IndexByte(a[i+5:], '\'')]
				conn := up.NextConn(b)
				conn.Next(b) // the stream header
				wantEnc := map[bool]string{true: "gzip"}[on]
				var before syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &before)
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					// The stanza first: the poll finds it queued, or is held
					// until it arrives; either way it answers with it.
					conn.Push(b, fmt.Sprintf(stanza, n))
					rec := post(fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s'/>", 1001+n, sid))
					if rec.Header().Get("Content-Encoding") != wantEnc || rec.Body.Len() < 100 {
						b.Fatalf("round %d: Content-Encoding %q, %d bytes", n, rec.Header().Get("Content-Encoding"), rec.Body.Len())
					}
				}
				b.StopTimer()
				var after syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &after)
				cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
