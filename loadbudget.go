package syncd

import (
	"slices"
	"time"
)

// The loaded-document budgets (Options.MaxLoadedDocs, and MaxLoadedBytes,
// whose charges loadcost.go keeps). Every loaded document
// costs memory until it is unloaded, and the janitor unloads only documents
// idle for IdleTimeout: without a budget, a client that joins and leaves
// new ids faster than that keeps growing the table until the process runs
// out of memory. With it, a load that finds the table full first unloads
// idle documents (no subscribers, no presence, no writes in flight), the
// least recently used first; when none can go, the load is refused with
// CodeExhausted instead.
//
// Unloading for room runs on the goroutine of the call that needs the room
// (a JOIN's, an edit's, a read's), under roomMu, so that concurrent loads
// at the budget do not all scan the table; it takes the same locks as the
// janitor, in the same order.

// loadGrace is how long after its last use a document is safe from being
// unloaded to make room: a document just loaded for a caller that has not
// subscribed yet must not be unloaded under it by the next load, or two
// callers at a full table could unload each other's documents forever.
const loadGrace = time.Second

// noRoomRecheck is how long after a scan that found nothing to unload
// further loads at a full table are refused without scanning again. When
// every loaded document is in use, each scan is O(loaded) for nothing; a
// stream of loads would otherwise spend that on every one of them, holding
// roomMu, and slow down every other load waiting for it.
const noRoomRecheck = 50 * time.Millisecond

// fullLocked reports whether loading one more document would go over
// MaxLoadedDocs or MaxLoadedBytes. The bytes are known only once a document
// is loaded, so a load may take the total over MaxLoadedBytes; the next
// load then makes room first. e.mu must be held.
func (e *Engine) fullLocked() bool {
	return len(e.docs) >= e.opts.MaxLoadedDocs || e.loadedBytes.Load() >= e.opts.MaxLoadedBytes
}

// reserveSlot reports whether one more document may be loaded, unloading
// idle ones if the table is full. It is called without e.mu; a true answer
// is a hint, not a reservation: the caller checks the table again.
func (e *Engine) reserveSlot() bool {
	e.roomMu.Lock()
	defer e.roomMu.Unlock()
	e.mu.Lock()
	if !e.fullLocked() {
		e.mu.Unlock()
		return true // another caller made room while this one waited
	}
	now := e.opts.Now()
	if now.Before(e.noRoomUntil) {
		e.mu.Unlock()
		return false
	}
	docs := e.loadedLocked()
	e.mu.Unlock()

	type candidate struct {
		d    *document
		used time.Time
	}
	var idle []candidate
	for _, d := range docs {
		d.mu.Lock()
		d.subsMu.Lock()
		if d.idleLocked() && now.Sub(d.lastUsed) >= loadGrace {
			idle = append(idle, candidate{d, d.lastUsed})
		}
		d.subsMu.Unlock()
		d.mu.Unlock()
	}
	slices.SortFunc(idle, func(a, b candidate) int { return a.used.Compare(b.used) })
	// Unload down to seven eighths of the budgets, not just below them:
	// the scan above is O(loaded), and this spreads it over the loads
	// that fill the last eighth, so that a stream of new documents at a
	// full table costs O(1) each, amortised.
	docsTarget := e.opts.MaxLoadedDocs - max(1, e.opts.MaxLoadedDocs/8)
	bytesTarget := e.opts.MaxLoadedBytes - e.opts.MaxLoadedBytes/8
	for _, c := range idle {
		e.mu.Lock()
		done := len(e.docs) <= docsTarget && e.loadedBytes.Load() < bytesTarget
		e.mu.Unlock()
		if done {
			break
		}
		// Still idle, and not used since it was picked.
		e.unloadIf(c.d, func(d *document) bool { return d.lastUsed.Equal(c.used) })
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fullLocked() {
		e.noRoomUntil = now.Add(noRoomRecheck)
		return false
	}
	return true
}

// loadedLocked returns the documents whose load has finished. e.mu must be
// held.
func (e *Engine) loadedLocked() []*document {
	docs := make([]*document, 0, len(e.docs))
	for _, d := range e.docs {
		select {
		case <-d.ready:
			docs = append(docs, d)
		default: // still loading: not idle, and its lock is wanted
		}
	}
	return docs
}

// idleLocked reports whether d may be unloaded: nobody subscribes or is
// present, and nothing is waiting to be written. d.mu and d.subsMu must be
// held.
func (d *document) idleLocked() bool {
	return !d.gone && d.completed == d.submitted && len(d.subs) == 0 && len(d.presence) == 0 &&
		len(d.fwd) == 0 && len(d.fwdApplied) == 0
}

// unloadIf unloads d if it is idle and cond (called under d.mu and
// d.subsMu) holds, and reports whether it did. Holders of d see d.gone and
// look it up again, which loads it afresh.
func (e *Engine) unloadIf(d *document, cond func(*document) bool) bool {
	d.mu.Lock()
	d.subsMu.Lock()
	unload := d.idleLocked() && cond(d)
	if unload {
		d.gone = true
	}
	d.subsMu.Unlock()
	d.mu.Unlock()
	if unload {
		e.forget(d)
	}
	return unload
}

// errExhausted is the refusal of a load at a full table.
func (e *Engine) errExhausted(id string) error {
	return &Error{
		Code:    CodeExhausted,
		Message: "the documents in memory are at the server's limit and every one is in use",
		Doc:     id,
	}
}
