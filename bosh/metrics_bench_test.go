package bosh

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"boshd/bosh/internal/xmpptest"
	"boshd/bosh/metrics"
	"boshd/bosh/relay"
	"boshd/xmppconn"
)

// BenchmarkMessageMetrics is one chat message each way through a live
// session, with metrics off (nil) and on: the client's request carrying a
// message is held, the message reaches the (in-memory) server, the
// server's message answers the held request. It reports the process's CPU
// time per round (cpu-ns/op, user+system from getrusage), which is what
// metrics could add to; "on" also counts the request as cmd/boshd's
// wrapper does. docs/benchmarks.md quotes it.
func BenchmarkMessageMetrics(b *testing.B) {
	for _, tt := range []struct {
		name string
		m    *metrics.Metrics
	}{{"off", nil}, {"on", metrics.New(metrics.NewRegistry())}} {
		b.Run(tt.name, func(b *testing.B) {
			up := xmpptest.NewPipe()
			defer up.Close()
			h := New(Config{FrontEnd: relay.FrontEnd{
				Domains: &relay.Domains{
					Dialer:  &xmppconn.Dialer{Routes: map[string][]string{"localhost": {up.Addr}}, DialContext: up.Dial},
					Served:  []string{"localhost"},
					Metrics: tt.m,
				},
				Metrics: tt.m,
			}})
			defer h.Shutdown(context.Background())
			post := func(body string) string {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("POST", "/http-bind", strings.NewReader(body)))
				tt.m.Request(metrics.BOSH, rec.Code)
				return rec.Body.String()
			}
			a := post("<body xmlns='http://jabber.org/protocol/httpbind' rid='1000' to='localhost' wait='30' hold='1' ver='1.11'/>")
			i := strings.Index(a, "sid='")
			if i < 0 {
				b.Fatalf("no session: %s", a)
			}
			sid := a[i+5 : i+5+strings.IndexByte(a[i+5:], '\'')]
			conn := up.NextConn(b)
			conn.Next(b) // the stream header
			const toServer = "<message xmlns='jabber:client' to='bob@localhost/web' type='chat' id='c%d'><body>Hello Bob, this is a chat line of typical length.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
			const toClient = "<message to='alice@localhost/web' from='bob@localhost/phone' type='chat' id='s%d'><body>Hello Alice, this is a chat line of typical length.</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
			rid := 1000
			var before syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				rid++
				done := make(chan string, 1)
				body := fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s'>"+toServer+"</body>", rid, sid, n)
				go func() { done <- post(body) }()
				if el := conn.Next(b); el.Name != "message" {
					b.Fatalf("server got %s", el.Raw)
				}
				conn.Push(b, fmt.Sprintf(toClient, n))
				select {
				case a := <-done:
					if !strings.Contains(a, fmt.Sprintf("id='s%d'", n)) {
						// The request was answered before the server's message
						// came; fetch it with an empty one.
						rid++
						a = post(fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s'/>", rid, sid))
						if !strings.Contains(a, fmt.Sprintf("id='s%d'", n)) {
							b.Fatalf("round %d: answer %s", n, a)
						}
					}
				case <-time.After(5 * time.Second):
					b.Fatal("no answer in 5s")
				}
			}
			b.StopTimer()
			var after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
