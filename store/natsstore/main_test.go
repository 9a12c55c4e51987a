package natsstore_test

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// store's consumer, the test's NATS connections and servers included.
//
// storetest's RandomBatches runs rapid's default 100 random cases on each
// store it is given; every case here opens a store on a real stream whose
// writes are synced to disk, twice (one node, three), so this package runs
// 12 of them unless -rapid.checks says otherwise: the test budget is a
// minute under -race.
func TestMain(m *testing.M) {
	flag.Parse()
	checksSet := false
	flag.Visit(func(f *flag.Flag) { checksSet = checksSet || f.Name == "rapid.checks" })
	if !checksSet {
		if err := flag.Set("rapid.checks", "12"); err != nil {
			panic(err)
		}
	}
	goleak.VerifyTestMain(m)
}
