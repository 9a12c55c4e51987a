// Package ringbuf keeps the last N entries of a numbered sequence, so that the
// engine can answer "what happened after revision r" from memory.
//
// # Addressing
//
// A [Ring] holds a window of consecutive sequence numbers First()…Last(). Each
// [Ring.Push] appends one entry and gives it the sequence number Next(); once
// the ring holds Cap() entries, a push evicts the oldest. The engine keeps one
// ring per document and uses the revision as the sequence number, so
// Get(rev) is the operation that produced rev and Slices(r+1, Last()) is
// everything a client at revision r is missing. A sequence number outside the
// window (already evicted, or not yet pushed) is reported with ok=false;
// the caller then falls back to the store or a snapshot.
//
// # Cost
//
// Push, Get, First, Last, Next, Len and Cap are O(1). Get, First, Last,
// Next, Len and Cap never allocate. The backing array is not allocated by
// [New] but grows with the pushes, doubling from 4 slots up to the capacity
// (a ring that is never pushed to costs only its header; one holding k
// entries at most about 2k slots), so Push allocates amortised O(1) — a few
// times in the ring's life, log2(capacity) at most — and never once the
// array has reached the capacity, which is every push after the first
// Cap().
// Slices is O(1) and returns at most two sub-slices of the ring's own array
// (two when the range crosses the physical end of the array); Range and All
// walk the entries in place. Reset and TruncateAfter are O(entries dropped),
// because they zero the slots they drop.
//
// # Traps
//
// A Ring is not safe for concurrent use. Its owner serialises every call,
// reads included; in syncd that is the document's lock, which also covers
// the apply step the pushed operation came from. Slices, Range and All do not
// copy: the slices returned by Slices alias the ring and stay valid only until
// the next Push, Reset or TruncateAfter, so a caller that needs the entries
// after releasing the lock must copy them first (copying the values, not just
// the slice headers, if it will hold them long).
//
// The ring stores values as given. If T is a pointer, or contains slices or
// maps, the ring and every reader share what it points to; entries must be
// treated as immutable once pushed. Slots that Reset and TruncateAfter drop
// are zeroed so that the garbage collector can reclaim what they pointed to;
// an evicted slot is reused by the very push that evicts it, so it never
// keeps a dead value alive either.
//
// # Wrap-around
//
// Sequence numbers are uint64 revisions and do not wrap in practice: at a
// billion pushes a second it would take over 500 years. The ring does not
// pretend to handle it: Push panics instead of assigning math.MaxUint64, so
// Next never wraps to 0 and "from <= seq <= to" always means what it says.
package ringbuf
