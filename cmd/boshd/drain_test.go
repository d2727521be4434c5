package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"boshd/cmd/boshd/internal/config"
)

// fakeFrontEnd is a front end whose sessions the test ends by hand.
type fakeFrontEnd struct {
	mu       sync.Mutex
	sessions int
	drained  bool
}

func (f *fakeFrontEnd) Drain()                         { f.mu.Lock(); f.drained = true; f.mu.Unlock() }
func (f *fakeFrontEnd) Sessions() int                  { f.mu.Lock(); defer f.mu.Unlock(); return f.sessions }
func (f *fakeFrontEnd) Shutdown(context.Context) error { return nil }
func (f *fakeFrontEnd) end()                           { f.mu.Lock(); f.sessions--; f.mu.Unlock() }

// TestDrain: a drain tells every front end to refuse new sessions, then
// lasts until the last session ends, the grace runs out, or a second
// signal arrives, whichever comes first, and logs the counts.
func TestDrain(t *testing.T) {
	tests := []struct {
		name       string
		endAll     time.Duration // when both sessions have ended (0: never)
		signal     time.Duration // when a second signal comes (0: never)
		wantAfter  time.Duration
		wantWhy    string
		wantRemain int
	}{
		{"sessions end first", 3 * time.Second, 0, 3 * time.Second, "no session left", 0},
		{"grace runs out", 0, 0, 10 * time.Second, "grace ended", 2},
		{"second signal", 0, 4 * time.Second, 4 * time.Second, "second signal", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log, hook := test.NewNullLogger()
				a, b := &fakeFrontEnd{sessions: 1}, &fakeFrontEnd{sessions: 1}
				s := &server{log: log, frontEnds: []frontEnd{a, b}}
				sigs := make(chan os.Signal, 1)
				if tt.endAll > 0 {
					time.AfterFunc(tt.endAll/2, a.end)
					time.AfterFunc(tt.endAll, b.end)
				}
				if tt.signal > 0 {
					time.AfterFunc(tt.signal, func() { sigs <- syscall.SIGTERM })
				}
				start := time.Now()
				s.drain(10*time.Second, sigs)
				if !a.drained || !b.drained {
					t.Error("a front end was not told to drain")
				}
				// The drain looks every drainPoll.
				if took := time.Since(start); took < tt.wantAfter || took > tt.wantAfter+drainPoll {
					t.Errorf("drain took %v, want %v", took, tt.wantAfter)
				}
				entries := hook.AllEntries()
				if len(entries) != 2 || entries[0].Data["sessions"] != 2 {
					t.Fatalf("log %v, want a start entry with sessions=2 and an end entry", entries)
				}
				last := entries[1]
				if !strings.Contains(last.Message, tt.wantWhy) || last.Data["remaining"] != tt.wantRemain {
					t.Errorf("end entry %q %v, want %q remaining=%d", last.Message, last.Data, tt.wantWhy, tt.wantRemain)
				}
			})
		})
	}
}

// TestProbes: /healthz answers 200 always; /readyz 200 until a drain or
// shutdown starts, then 503; both at configurable paths.
func TestProbes(t *testing.T) {
	cfg := config.Default()
	cfg.HTTP.HealthPath, cfg.HTTP.ReadyPath = "/live", "/ready"
	s := &server{cfg: cfg, log: logrus.New()}
	mux := http.NewServeMux()
	s.addProbes(mux)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, strings.TrimSpace(string(body))
	}
	for _, step := range []struct {
		notReady          bool
		health, readiness int
	}{{false, 200, 200}, {true, 200, 503}} {
		s.notReady.Store(step.notReady)
		if code, _ := get("/live"); code != step.health {
			t.Errorf("notReady=%v: health %d, want %d", step.notReady, code, step.health)
		}
		if code, body := get("/ready"); code != step.readiness {
			t.Errorf("notReady=%v: readiness %d %q, want %d", step.notReady, code, body, step.readiness)
		}
	}
	if code, _ := get("/readyz"); code != http.StatusNotFound {
		t.Errorf("default path still served after configuring another: %d", code)
	}
}

// TestNodeIDFlag: -node-id is checked like cluster.node_id, with a message
// that says what a node name may hold, and overrides the file.
func TestNodeIDFlag(t *testing.T) {
	for _, bad := range []string{"N1", "n_1", "n.1", strings.Repeat("a", 33)} {
		err := run([]string{"-node-id", bad, "-route", "localhost=127.0.0.1:5222", "-check"})
		if err == nil || !strings.Contains(err.Error(), "-node-id") || !strings.Contains(err.Error(), "a-z, 0-9") {
			t.Errorf("-node-id %q: %v", bad, err)
		}
	}
	if err := run([]string{"-node-id", "eu-1", "-route", "localhost=127.0.0.1:5222", "-check"}); err != nil {
		t.Errorf("-node-id eu-1: %v", err)
	}
}
