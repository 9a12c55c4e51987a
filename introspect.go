package syncd

import (
	"sort"
	"time"

	"github.com/deltasync/syncd/revision"
)

// DocInfo describes one loaded document at the moment it was looked at, for
// operators (the server's admin page). It is a copy: reading it takes no
// lock.
type DocInfo struct {
	ID      string
	Epoch   revision.Epoch
	Head    revision.Rev // the newest revision in memory (may be ahead of Durable)
	Durable revision.Rev
	// Size is the state's encoded size in bytes (delta.Size).
	Size int
	// Subscribers and Present count the document's subscriptions and the
	// clients in its presence room.
	Subscribers int
	Present     int
	// RingLen and RingCap are the operations held in memory for catch-ups
	// and the ring's current capacity (rings grow as operations arrive).
	RingLen, RingCap int
	// LastCommit is when the newest operation in memory was committed;
	// zero when the ring holds none (nothing since the load).
	LastCommit time.Time
	// LastUsed is when the document was last used (the idle clock).
	LastUsed time.Time
	Policy   Policy
	// Cost is what the document is charged against MaxLoadedBytes.
	Cost int64
}

// LoadedDocs returns the documents in memory whose load has finished,
// ordered by id. It takes Engine.mu only to copy the table, then each
// document's locks in their order (mu, then subsMu) briefly, one document
// at a time, so it never holds up more than one document's edits for the
// time of a few reads (docs/threads.md).
func (e *Engine) LoadedDocs() []DocInfo {
	e.mu.Lock()
	docs := e.loadedLocked()
	e.mu.Unlock()
	out := make([]DocInfo, 0, len(docs))
	for _, d := range docs {
		if info, ok := d.info(); ok {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// info reads d's DocInfo, and false for a document unloaded, deleted or
// broken since it was listed.
func (d *document) info() (DocInfo, bool) {
	if d.loadErr != nil { // final once ready is closed, which loadedLocked checked
		return DocInfo{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gone || d.absent {
		return DocInfo{}, false
	}
	info := DocInfo{
		ID: d.id, Epoch: d.epoch, Head: d.head, Durable: d.durable,
		Size: d.size, LastUsed: d.lastUsed, Policy: d.policy, Cost: d.charged,
	}
	if d.ring != nil {
		info.RingLen, info.RingCap = d.ring.Len(), d.ring.Cap()
		if last, ok := d.ring.Get(d.ring.Last()); ok && last.op.Time != 0 {
			info.LastCommit = time.UnixMilli(last.op.Time)
		}
	}
	d.subsMu.Lock()
	info.Subscribers = len(d.subs)
	info.Present = len(d.presence)
	d.subsMu.Unlock()
	return info, true
}
