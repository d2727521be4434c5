package relay

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: a
// Relay's reader and writer, and the registry's closers, must all be
// stopped by their owner.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
