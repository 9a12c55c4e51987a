package syncd_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/deltasync/syncd"
)

// A document that stays loaded (someone is always subscribed) caches the
// watermark of every distinct client that joined or edited it. The cache
// is not bounded (a miss would cost a store read per edit), so it is
// charged: LoadedBytes, the sum MaxLoadedBytes bounds, grows with it, and
// the budget sees a long-lived room that many clients pass through.
func TestCachedWatermarksAreCharged(t *testing.T) {
	e, _ := open(t, syncd.Options{})
	keeper := join(t, e, "room") // keeps the document loaded
	defer keeper.Close()
	before := e.LoadedBytes()

	const clients = 2000
	ctx := ctxT(t) // one context: ctxT's cleanups would count in the heap
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for i := range clients {
		id := fmt.Sprintf("client-%026d", i)
		s, err := e.Subscribe(ctx, "room", syncd.SubscribeRequest{ClientID: id}, func(*syncd.Event) {})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	cached := syncd.CachedWatermarks(e, "room")
	grew := e.LoadedBytes() - before
	t.Logf("%d clients joined and left: %d watermarks cached, heap +%d bytes (%d a client), LoadedBytes +%d",
		clients, cached, int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc), (int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))/clients, grew)
	// Either the cache is bounded, or what it holds is charged (at least
	// the client ids' bytes).
	if cached > 1024 && grew < int64(cached*len("client-00000000000000000000000000")) {
		t.Fatalf("%d client watermarks cached by a loaded document, LoadedBytes grew by %d: unbounded and uncharged", cached, grew)
	}
}
