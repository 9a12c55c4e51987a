package memstore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The shared mode's watches run goroutines of their own: none may outlive
// its handle.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
