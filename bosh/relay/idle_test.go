package relay

import (
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
)

// TestIdleTimer: the callback acts only when the deadline it was armed for
// has passed; a firing after a stop or a re-arming is ignored.
func TestIdleTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var d IdleTimer
		var fired []time.Duration
		start := time.Now()
		fire := func() {
			mu.Lock()
			defer mu.Unlock()
			if d.Due() {
				fired = append(fired, time.Since(start))
			}
		}
		mu.Lock()
		d.Arm(10*time.Second, fire)
		mu.Unlock()
		time.Sleep(5 * time.Second)
		mu.Lock()
		d.Arm(10*time.Second, fire) // re-armed: due at 15s, not 10s
		mu.Unlock()
		time.Sleep(20 * time.Second)
		mu.Lock()
		d.Arm(10*time.Second, fire)
		d.Stop()
		mu.Unlock()
		time.Sleep(20 * time.Second)
		if len(fired) != 1 || fired[0] != 15*time.Second {
			t.Fatalf("fired at %v, want once at 15s", fired)
		}
	})
}

// TestRecover: a panic in a callback reaches end, and a panic in end is
// contained too.
func TestRecover(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	var got any
	func() {
		defer Recover(log, "test", func(what string, v any) { got = v; panic("again") })
		panic("boom")
	}()
	if got != "boom" {
		t.Fatalf("end got %v", got)
	}
}
