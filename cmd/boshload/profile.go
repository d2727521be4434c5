package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// startProfile asks the Go process serving net/http/pprof at base (for
// example boshd's [debug] pprof_listen, "http://127.0.0.1:6060") for a CPU
// profile of length d, taken while a message phase runs, and writes it to
// path. The returned wait blocks until the profile is written (or failed)
// and reports its error; the caller owns the fetch's goroutine through it.
func startProfile(ctx context.Context, base, path string, d time.Duration) (wait func() error) {
	secs := max(1, int(d/time.Second))
	done := make(chan error, 1)
	go func() {
		done <- fetchProfile(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), path, time.Duration(secs)*time.Second+30*time.Second)
	}()
	return func() error { return <-done }
}

// fetchProfile writes what url answers to path, within timeout.
func fetchProfile(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s answered %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // no truncated profile for a report to trip on
		return fmt.Errorf("profile: %s: %w", path, err)
	}
	return nil
}
