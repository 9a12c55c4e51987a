package natsstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// store's consumer, the test's NATS connections and servers included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
