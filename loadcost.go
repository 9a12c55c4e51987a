package syncd

import (
	"sync/atomic"

	"github.com/deltasync/syncd/delta"
	"github.com/deltasync/syncd/revision"
)

// What loaded documents cost, for Options.MaxLoadedBytes. A count of
// documents (MaxLoadedDocs) alone would let 10,000 documents near
// MaxDocSize, or with rings full of large operations, take gigabytes; so
// each loaded document is also charged an estimate of its memory, and the
// engine keeps the sum. The estimate is in encoded bytes, which the engine
// already tracks without walking anything: the document's encoded size, the
// encoded size of the operations in its ring, and a fixed overhead for the
// rest (the document's header, maps, epoch), and a fixed amount per cached
// client watermark. The decoded state
// takes a small multiple of its encoded size; MaxLoadedBytes is documented
// as a budget of these estimates, not of the heap.

// docOverheadBytes is the fixed part of a loaded document's charge: about
// what one nobody edits costs (measured: 1–2 KB of heap).
const docOverheadBytes = 2 << 10

// watermarkBytes is the charge of each client watermark a loaded document
// caches (d.wms: a map entry, a client id and a request id; ~113 bytes of
// heap measured with 33-byte ids and empty request ids). The cache grows
// with every distinct client that joins or edits the document while it
// stays loaded, so it is charged: the budget then sees a long-lived room
// that many clients pass through.
const watermarkBytes = 160

// costLocked returns d's charge. d.mu must be held.
func (d *document) costLocked() int64 {
	cost := int64(docOverheadBytes+d.size) + int64(len(d.wms))*watermarkBytes
	if d.ring != nil && d.ring.Len() > 0 {
		cost += int64(d.sizeAfter(revision.Rev(d.ring.First() - 1)))
	}
	return cost
}

// push records op in the history, as history.push does, and updates d's
// charge. It is the only way operations enter a loaded document's ring
// (load replays into a history that is not yet the document's, and charges
// the result once), so the charge follows every edit.
func (d *document) push(op *Op, paths delta.PathSet, index bool) {
	d.history.push(op, paths, index)
	d.rechargeLocked()
}

// rechargeLocked brings the engine's total up to date with d's cost. It
// does nothing for a document that was forgotten (charges is nil then).
// d.mu must be held.
func (d *document) rechargeLocked() {
	if d.charges == nil {
		return
	}
	cost := d.costLocked()
	d.charges.Add(cost - d.charged)
	d.charged = cost
}

// dischargeLocked takes d's charge back from the engine's total, for good.
// d.mu must be held.
func (d *document) dischargeLocked() {
	if d.charges != nil {
		d.charges.Add(-d.charged)
	}
	d.charges, d.charged = nil, 0
}

// chargeTo makes d charge its cost to total from now on.
func (d *document) chargeTo(total *atomic.Int64) {
	d.charges = total
}

// LoadedBytes returns the estimated memory of the loaded documents, the
// sum that Options.MaxLoadedBytes bounds.
func (e *Engine) LoadedBytes() int64 { return e.loadedBytes.Load() }
