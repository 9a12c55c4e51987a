package ringbuf_test

import (
	"fmt"

	"github.com/deltasync/syncd/ringbuf"
)

// A document keeps its recent operations keyed by revision; a client at
// revision 3 is sent everything after it.
func Example() {
	ops := ringbuf.New[string](4, 1) // revision 1 is the first operation
	for _, op := range []string{"a", "b", "c", "d", "e", "f"} {
		ops.Push(op)
	}
	fmt.Println("held:", ops.First(), "to", ops.Last())

	clientRev := uint64(3)
	a, b, ok := ops.Slices(clientRev+1, ops.Last())
	fmt.Println("after 3:", a, b, ok)

	// A client at revision 1 needs revision 2, which has been evicted: it
	// must catch up from the store or a snapshot instead.
	_, _, ok = ops.Slices(1+1, ops.Last())
	fmt.Println("after 1:", ok)
	// Output:
	// held: 3 to 6
	// after 3: [d] [e f] true
	// after 1: false
}
