package memstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// DefaultRetention is the number of operations per document a Store keeps
// when [Options.Retention] is zero.
const DefaultRetention = 100_000

// Options configure a [Store]. The zero value means the defaults.
type Options struct {
	// Retention is how many of its newest operations each document's log
	// keeps. Default [DefaultRetention]; a negative value keeps every
	// operation. The log is trimmed in chunks (once it exceeds Retention by
	// a sixteenth) and never past the document's newest snapshot, so it
	// may hold more than Retention operations; it never holds fewer while
	// it has them.
	Retention int
}

// Store is an in-memory [syncd.Store]. Create one with [New]; its methods
// are safe for concurrent use.
type Store struct {
	retention int

	// commitMu serialises Commit (and Close against Commit): a batch is
	// built against the committed documents without holding mu, which is
	// sound only while no other commit can replace them.
	commitMu sync.Mutex

	// mu guards docs and closed. Committed *document values are never
	// modified, only replaced, so a reader may use one after unlocking.
	mu     sync.RWMutex
	docs   map[string]*document
	closed bool

	clients clientRecords // clients.go
	side    sideSpaces    // sidestore.go
}

// document is one document's committed state. Once stored in Store.docs it
// is immutable; a commit works on a clone (see overlay.edit).
type document struct {
	meta syncd.DocMeta
	// ops holds revisions meta.First … meta.Head: ops[i].Rev == First+i.
	// Clones share the backing array and append past its length, which no
	// holder of the shorter slice ever reads.
	ops []*syncd.Op
	// snapRev and snap are the newest snapshot; snap is nil when there is
	// none.
	snapRev revision.Rev
	snap    []byte
	// marks are the client watermarks; copy-on-write (see marksOwned).
	marks map[string]revision.Watermark
	// marksOwned reports whether this clone has its own copy of marks yet.
	marksOwned bool
	// outcomes and outcomesOwned are the clients' recent outcomes, kept
	// like marks (outcomes.go).
	outcomes      map[string][]revision.Outcome
	outcomesOwned bool
}

var _ syncd.Store = (*Store)(nil)

// errClosed is returned by every method called after Close.
var errClosed = errors.New("memstore: store is closed")

// New returns an empty store.
func New(opts Options) *Store {
	r := opts.Retention
	if r == 0 {
		r = DefaultRetention
	}
	return &Store{retention: r, docs: make(map[string]*document)}
}

// lookup returns the committed document id, or nil.
func (s *Store) lookup(ctx context.Context, id string) (*document, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	return s.docs[id], nil
}

// Load implements [syncd.Store.Load].
func (s *Store) Load(ctx context.Context, doc string) (*syncd.StoredDoc, error) {
	d, err := s.lookup(ctx, doc)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("memstore: load %q: %w", doc, syncd.ErrNotFound)
	}
	// Trimming never passes the snapshot, so the tail is in the log:
	// snapRev+1 >= First.
	tail := d.ops[d.snapRev+1-d.meta.First:]
	return &syncd.StoredDoc{
		Meta:          d.meta,
		SnapshotRev:   d.snapRev,
		SnapshotState: bytes.Clone(d.snap),
		Tail:          slices.Clone(tail),
	}, nil
}

// ReadOps implements [syncd.Store.ReadOps]. A negative limit is an error;
// an after at or beyond the head gives an empty result.
func (s *Store) ReadOps(ctx context.Context, doc string, epoch revision.Epoch, after revision.Rev, limit int) ([]*syncd.Op, error) {
	if limit < 0 {
		return nil, fmt.Errorf("memstore: read ops of %q: limit %d, want >= 0", doc, limit)
	}
	d, err := s.lookup(ctx, doc)
	if err != nil {
		return nil, err
	}
	if d == nil || d.meta.Epoch != epoch {
		return nil, fmt.Errorf("memstore: read ops of %q@%s: %w", doc, epoch, syncd.ErrNotFound)
	}
	if after >= d.meta.Head {
		return nil, nil
	}
	if after+1 < d.meta.First {
		return nil, fmt.Errorf("memstore: read ops of %q after %d: oldest kept is %d: %w", doc, after, d.meta.First, syncd.ErrGone)
	}
	if limit == 0 {
		return nil, nil // held: that is all that was asked
	}
	from := after + 1 - d.meta.First
	to := min(uint64(from)+uint64(limit), uint64(len(d.ops)))
	return slices.Clone(d.ops[from:to]), nil
}

// Watermark implements [syncd.Store.Watermark].
func (s *Store) Watermark(ctx context.Context, doc, clientID string) (revision.Watermark, error) {
	d, err := s.lookup(ctx, doc)
	if err != nil || d == nil {
		return revision.Watermark{}, err
	}
	return d.marks[clientID], nil
}

// List implements [syncd.Store.List]. A limit below 1 is an error.
func (s *Store) List(ctx context.Context, after string, limit int) ([]syncd.DocMeta, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("memstore: list: limit %d, want > 0", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, errClosed
	}
	var out []syncd.DocMeta
	for id, d := range s.docs {
		if id > after {
			out = append(out, d.meta)
		}
	}
	s.mu.RUnlock()
	// A sort per call is fine for a test store; a large deployment uses
	// boltstore, whose List is a cursor scan.
	slices.SortFunc(out, func(a, b syncd.DocMeta) int { return cmp.Compare(a.Doc, b.Doc) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Close implements [syncd.Store.Close]. It drops every document; closing
// twice is harmless.
func (s *Store) Close() error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.docs = nil
	return nil
}
