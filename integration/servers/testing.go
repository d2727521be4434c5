package servers

import (
	"context"
	"testing"
)

// Prosody starts a private Prosody for the test (see StartProsody), fails
// the test at once if it cannot, and stops it when the test and its
// subtests end, reporting a failed stop as a test error.
func Prosody(t testing.TB, o Options) *Server {
	t.Helper()
	return startForTest(t, o, StartProsody)
}

// Ejabberd starts a private ejabberd for the test (see StartEjabberd),
// fails the test at once if it cannot, and stops it when the test and its
// subtests end, reporting a failed stop as a test error.
func Ejabberd(t testing.TB, o Options) *Server {
	t.Helper()
	return startForTest(t, o, StartEjabberd)
}

func startForTest(t testing.TB, o Options, startFn func(context.Context, Options) (*Server, error)) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := startFn(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// test that starts its own listener (boshd, a web server) beside the
// servers; it fails the test at once if none can be had.
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}
