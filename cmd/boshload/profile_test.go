package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartProfile asks for a profile as long as the phase and writes what
// the server answers; a refused profile is an error and writes nothing.
func TestStartProfile(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		phase   time.Duration
		wantSec string
		wantErr string
	}{
		{"profile written", http.StatusOK, 30 * time.Second, "30", ""},
		{"short phase asks for one second", http.StatusOK, 200 * time.Millisecond, "1", ""},
		{"refused", http.StatusNotFound, 30 * time.Second, "30", "404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotSec string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/debug/pprof/profile" {
					http.NotFound(w, r)
					return
				}
				gotSec = r.URL.Query().Get("seconds")
				w.WriteHeader(tc.status)
				w.Write([]byte("profile bytes"))
			}))
			defer srv.Close()
			path := filepath.Join(t.TempDir(), "p.pprof")
			err := startProfile(context.Background(), srv.URL, path, tc.phase)()
			if gotSec != tc.wantSec {
				t.Errorf("seconds=%q, want %q", gotSec, tc.wantSec)
			}
			raw, rerr := os.ReadFile(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				if rerr == nil {
					t.Fatalf("a refused profile left a file: %q", raw)
				}
				return
			}
			if err != nil || string(raw) != "profile bytes" {
				t.Fatalf("err %v, file %q", err, raw)
			}
		})
	}
}
