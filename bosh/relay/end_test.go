package relay

import (
	"cmp"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

// TestEnd: the shared end-of-session path disarms the timer, retires the
// session (the Observer hears the condition, stop runs and Shutdown waits
// for it) before anything is logged, and logs at the level, with the
// message and fields, the front end asked for.
func TestEnd(t *testing.T) {
	cause := errors.New("upstream gone")
	tests := []struct {
		name      string
		e         Ending
		wantLevel logrus.Level
		wantMsg   string
		wantData  map[string]any
	}{
		{"client's end", Ending{Message: "session ended by the client"}, logrus.InfoLevel,
			"session ended by the client", map[string]any{}},
		{"reason for the Observer", Ending{Condition: "connection-timeout", Reason: "inactivity", Cause: cause}, logrus.InfoLevel,
			"session ended", map[string]any{"condition": "connection-timeout", "error": cause}},
		{"with a cause", Ending{Condition: "remote-connection-failed", Cause: cause}, logrus.InfoLevel,
			"session ended", map[string]any{"condition": "remote-connection-failed", "error": cause}},
		{"warning", Ending{Condition: "internal-server-error", Cause: cause, Warn: true}, logrus.WarnLevel,
			"session ended", map[string]any{"condition": "internal-server-error", "error": cause}},
		{"condition without a cause is not logged", Ending{Condition: "connection-timeout", Message: "expired",
			Fields: logrus.Fields{"timeout": "30s"}}, logrus.InfoLevel, "expired", map[string]any{"timeout": "30s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			g := NewRegistry[int](0, 0, nil, WithTransport("ws"), WithObserver(ev))
			r, _ := g.Reserve("a")
			id, _ := r.Commit(1)
			g.Opened(id, "example.com")
			var idle IdleTimer
			idle.Arm(time.Hour, func() {})
			var stopped atomic.Bool
			logger, hook := test.NewNullLogger()
			var retiredFirst bool
			logger.AddHook(checkHook(func() {
				_, live := g.Get(id)
				retiredFirst = !live && idle.at.IsZero()
			}))
			g.End(id, &idle, func() { stopped.Store(true) }, logger, tt.e)
			if err := g.Shutdown(t.Context(), func(int) {}); err != nil {
				t.Fatal(err)
			}
			if !stopped.Load() {
				t.Error("stop did not run before Shutdown returned")
			}
			if !retiredFirst {
				t.Error("logged before the session was retired and its timer disarmed")
			}
			want := fmt.Sprint([]string{"created ws example.com", "ended ws example.com " + cmp.Or(tt.e.Reason, tt.e.Condition)})
			if fmt.Sprint(ev.log) != want {
				t.Errorf("events %q, want %s", ev.log, want)
			}
			entries := hook.AllEntries()
			if len(entries) != 1 {
				t.Fatalf("%d log entries, want 1", len(entries))
			}
			got := entries[0]
			if got.Level != tt.wantLevel || got.Message != tt.wantMsg || fmt.Sprint(got.Data) != fmt.Sprint(tt.wantData) {
				t.Errorf("logged %v %q %v, want %v %q %v", got.Level, got.Message, got.Data, tt.wantLevel, tt.wantMsg, tt.wantData)
			}
		})
	}
}

// checkHook runs a check when an entry is logged.
type checkHook func()

func (checkHook) Levels() []logrus.Level     { return logrus.AllLevels }
func (h checkHook) Fire(*logrus.Entry) error { h(); return nil }
