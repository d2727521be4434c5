package relay

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"boshd/bosh/internal/xmpptest"
	"boshd/xmppconn"
)

// benchModes are the two ways a relay's reader waits for the server.
var benchModes = []struct {
	name string
	opts []RelayOption
}{
	{"parked", nil},
	{"goroutine", []RelayOption{waitInNext()}},
}

// BenchmarkIdleRelay reports what an idle relay on a plain TCP upstream
// costs the process: goroutine stacks and live heap per relay, read after
// a forced collection once n relays are idle. The in-process xmpptest
// server's own goroutine and buffers per connection are in both figures
// alike, so the difference between the modes is the reader's.
//
//	go test ./bosh/relay/ -run '^$' -bench IdleRelay -benchtime 1x -count 3
func BenchmarkIdleRelay(b *testing.B) {
	const n = 1000
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				srv := xmpptest.Start(b)
				d := &xmppconn.Dialer{Routes: map[string][]string{"localhost": {srv.Addr}}, CloseTimeout: time.Second}
				before := idleMem()
				rs := make([]*Relay, n)
				for i := range rs {
					stream, err := d.Open(context.Background(), xmppconn.StreamParams{To: "localhost", Version: "1.0"})
					if err != nil {
						b.Fatal(err)
					}
					rs[i] = NewRelay(stream, 0, func() {}, mode.opts...)
					srv.NextConn(b)
				}
				time.Sleep(200 * time.Millisecond) // every reader parked or waiting
				after := idleMem()
				b.ReportMetric(float64(after.stack-before.stack)/n, "stack-B/relay")
				b.ReportMetric(float64(after.heap-before.heap)/n, "heap-B/relay")
				b.ReportMetric(float64(after.goroutines-before.goroutines)/n, "goroutines/relay")
				for _, r := range rs {
					r.Close()
				}
				srv.Close()
			}
		})
	}
}

type memSample struct {
	stack, heap uint64
	goroutines  int
}

func idleMem() memSample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{stack: m.StackInuse, heap: m.HeapAlloc, goroutines: runtime.NumGoroutine()}
}

// BenchmarkRelayRoundTrip is one stanza each way through a relay on a
// plain TCP upstream: Send, the server answers, the relay's reader queues
// the answer and wakes its owner, which takes it. With the reader parked,
// each answer costs an epoll event on the poller, a new reader goroutine
// and a read that finds nothing before it parks again; waiting in Next,
// the runtime's poller wakes the one reader. cpu-ns/op is the process's
// user+system CPU per round trip (the in-process server's included), which
// a shared machine disturbs less than the wall time.
//
//	go test ./bosh/relay/ -run '^$' -bench RelayRoundTrip -count 6
func BenchmarkRelayRoundTrip(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			srv := xmpptest.Start(b)
			d := &xmppconn.Dialer{Routes: map[string][]string{"localhost": {srv.Addr}}, CloseTimeout: time.Second}
			stream, err := d.Open(context.Background(), xmppconn.StreamParams{To: "localhost", Version: "1.0"})
			if err != nil {
				b.Fatal(err)
			}
			woken := make(chan struct{}, 1)
			r := NewRelay(stream, 0, func() {
				select {
				case woken <- struct{}{}:
				default:
				}
			}, mode.opts...)
			defer r.Close()
			c := srv.NextConn(b)
			c.Next(b) // the header
			msg := []byte(`<message to='b@localhost'><body>hi</body></message>`)
			echo := `<message from='b@localhost'><body>hi</body></message>`
			b.ReportAllocs()
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ResetTimer()
			for i := range b.N {
				if err := r.Send(msg, 1); err != nil {
					b.Fatal(err)
				}
				c.Next(b)
				c.Push(b, echo)
				for got := 0; got == 0; {
					<-woken
					els, err := r.Take()
					if err != nil {
						b.Fatalf("round trip %d: %v", i, err)
					}
					got = len(els)
				}
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
