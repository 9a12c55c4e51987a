package syncd

import "context"

// SideStore is a small durable key-value space that lives in a store's
// file next to the documents, for state that belongs to the server but
// not to any document: the webhook outbox and its cursors are its first
// users. Its writes are transactions of their own, never part of a
// [Store.Commit], so a user of it adds no work to the commit path beyond
// sharing the store's writer (with bbolt, one writer at a time).
//
// Keys live in named spaces; within a space they are ordered bytewise.
// Implementations: store/boltstore (a bucket per space, durable),
// store/memstore (in memory: a restart loses it, by design). Every method
// may be called from many goroutines at once.
type SideStore interface {
	// SideGet returns the value of key in space, or [ErrNotFound].
	SideGet(ctx context.Context, space, key string) ([]byte, error)

	// SideWrite applies every write, in order, as one atomic and durable
	// step: when it returns nil all of them survive a crash, when it
	// returns an error none was applied. A write with a nil Value deletes
	// its key (deleting an absent key is a no-op).
	SideWrite(ctx context.Context, writes []SideWrite) error

	// SideScan returns up to limit entries of space whose keys are
	// greater than after, in key order. An absent space is empty.
	SideScan(ctx context.Context, space, after string, limit int) ([]SideEntry, error)
}

// SideWrite is one write of [SideStore.SideWrite].
type SideWrite struct {
	Space, Key string
	// Value is stored as given (the store copies it); nil deletes Key.
	Value []byte
}

// SideEntry is one key and value of a [SideStore] space.
type SideEntry struct {
	Key   string
	Value []byte
}
