package servers

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// WaitHTTP waits until url answers a GET with any HTTP status, for a test
// that started an HTTP server as a process (boshd): it gives up when
// exited is closed (the process is gone) or after timeout. Each attempt is
// bounded, so a server that accepts but never answers cannot stall it.
func WaitHTTP(url string, exited <-chan struct{}, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return errors.New("servers: the process exited before answering HTTP")
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("servers: no answer from %s within %v: %w", url, timeout, err)
		}
		select {
		case <-exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}
