package boltstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/deltasync/syncd"
)

// How Commit, the applier and the reads share the log (doc.go has the
// design): Commit checks a batch, logs it and syncs the log, then queues
// it for the applier and returns. The applier applies what is queued to
// bbolt in one transaction (synced) and advances applied. A read of a
// document waits until the applier has applied every logged batch that
// touched the document, so reads see everything acknowledged.

// Keys in bucketInfo for the log.
var (
	keyLogID      = []byte("walID")      // the log's id, 8 bytes: part of each record's checksum
	keyLogApplied = []byte("walApplied") // seq of the newest record applied, 8 bytes
)

// loggedBatch is a batch that is in the log and waits for the applier.
type loggedBatch struct {
	seq     uint64
	payload []byte
	docs    []string
}

// errStoreFailed wraps the error that broke the store's write path.
var errStoreFailed = errors.New("the store's write path failed earlier; restart to recover from its log")

// Commit implements [syncd.Store.Commit]. It checks the batch against the
// documents' state (wal_check.go), appends it to the write-ahead log as
// one record and syncs the log: when it returns nil the batch is durable.
// The applier writes it to bbolt later; reads wait for that where they
// need it. A failed write or sync of the log breaks the store: every later
// Commit fails, since what the disk holds is no longer known (restart
// reads the log and finds out).
func (s *Store) Commit(ctx context.Context, batch []syncd.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.log == nil {
		return errors.New("boltstore: commit: the store is open read-only")
	}
	if err := s.failure(); err != nil {
		return wrapErr("commit", err)
	}
	check := batchCheck{metas: &s.logMetas, db: s.db}
	for i, rec := range batch {
		if err := check.check(rec); err != nil {
			return wrapErr("commit", fmt.Errorf("record %d of %d: %w", i, len(batch), err))
		}
	}
	if len(batch) == 0 {
		return nil
	}
	payload := appendBatch(make([]byte, 0, s.payloadHint), batch)
	s.payloadHint = min(len(payload)+len(payload)/4, maxSpareSize)
	if err := s.awaitRoom(ctx); err != nil {
		return wrapErr("commit", err)
	}
	seq := s.logged + 1
	s.mu.Lock()
	applied := s.applied
	s.mu.Unlock()
	hurry, err := s.log.append(seq, payload, applied)
	if err != nil {
		s.mu.Lock()
		s.failed = err
		s.mu.Unlock()
		return wrapErr("commit", err)
	}
	docs := batchDocs(batch, nil)
	s.mu.Lock()
	s.logged = seq
	for _, doc := range docs {
		s.pendingDocs[doc] = seq
	}
	check.commit(s.pendingDocs)
	s.queue = append(s.queue, loggedBatch{seq: seq, payload: payload, docs: docs})
	s.queuedBytes += len(payload)
	hurry = hurry || s.queuedBytes >= applySoonBytes
	s.mu.Unlock()
	s.wake(hurry)
	return nil
}

// Bounds on what waits for the applier: past applySoonBytes it applies
// at once rather than at its interval; past maxQueuedBytes Commit waits
// for it, so a disk that cannot keep up with bbolt's writes slows commits
// down instead of growing memory without bound.
const (
	applySoonBytes = 4 << 20
	maxQueuedBytes = 64 << 20
)

// awaitRoom waits while the applier's queue is over maxQueuedBytes.
func (s *Store) awaitRoom(ctx context.Context) error {
	s.mu.Lock()
	for s.queuedBytes >= maxQueuedBytes && s.applyErr == nil {
		if err := s.awaitNextApplyLocked(ctx); err != nil {
			return err
		}
	}
	err := s.failed
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", errStoreFailed, err)
	}
	return nil
}

// awaitNextApplyLocked asks the applier to run now and waits for its next
// transaction. s.mu is held on entry and, unless it returns ctx's error,
// on return; it is released while waiting.
func (s *Store) awaitNextApplyLocked(ctx context.Context) error {
	ch := s.appliedCh
	s.mu.Unlock()
	s.wake(true)
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	return nil
}

// wake tells the applier there is work: now, or at its interval.
func (s *Store) wake(now bool) {
	ch := s.kick
	if now {
		ch = s.urge
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *Store) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return bbolt.ErrDatabaseNotOpen
	}
	if s.failed != nil {
		return fmt.Errorf("%w: %w", errStoreFailed, s.failed)
	}
	return nil
}

// awaitApplied returns once bbolt holds every batch logged so far that
// touched doc, or every batch logged so far when doc is "". It asks the
// applier to run now rather than at its interval.
func (s *Store) awaitApplied(ctx context.Context, doc string) error {
	s.mu.Lock()
	// What was logged when the read began, not what is logged while it
	// waits: a read must not chase a writer that keeps committing.
	want := s.logged
	if doc != "" {
		want = s.pendingDocs[doc]
	}
	for {
		if s.applied >= want {
			s.mu.Unlock()
			return nil
		}
		if s.applyErr != nil {
			err := s.applyErr
			s.mu.Unlock()
			return fmt.Errorf("%w: %w", errStoreFailed, err)
		}
		if err := s.awaitNextApplyLocked(ctx); err != nil {
			return err
		}
	}
}

// Checkpoint returns once the bbolt file holds (durably) everything
// committed before it was called. Anything that reads the file directly
// rather than through the Store (a copy of it, a compaction) calls it
// first; [Store.Backup] does. A store that is opened and closed again is
// checkpointed by both: Open applies the log's tail, and Close applies
// what is queued.
func (s *Store) Checkpoint(ctx context.Context) error {
	if err := s.awaitApplied(ctx, ""); err != nil {
		return wrapErr("checkpoint", err)
	}
	return nil
}

// applyLoop is the applier: it waits for queued batches, lingers up to
// the apply interval so that one transaction takes many of them, unless
// someone waits (a read, a checkpoint, a full segment), and applies them.
func (s *Store) applyLoop() {
	defer close(s.applierDone)
	var timer *time.Timer
	for {
		urgent := false
		select {
		case <-s.kick:
		case <-s.urge:
			urgent = true
		case <-s.stop:
			return
		}
		if !urgent && s.applyInterval > 0 {
			if timer == nil {
				timer = time.NewTimer(s.applyInterval)
			} else {
				timer.Reset(s.applyInterval)
			}
			select {
			case <-timer.C:
			case <-s.urge:
				timer.Stop()
			case <-s.stop:
				timer.Stop()
				return
			}
		}
		s.applyQueued()
	}
}

// applyQueued applies every queued batch in one bbolt transaction. Only the
// applier (and Close, once the applier has stopped) calls it.
func (s *Store) applyQueued() {
	s.mu.Lock()
	batches := s.queue
	// A failed log write stops Commit, not the applier: what is queued is
	// in the log, and reads wait for it.
	failed := s.applyErr
	s.mu.Unlock()
	if len(batches) == 0 || failed != nil {
		return
	}
	err := s.applyPayloads(batches)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.applyErr = fmt.Errorf("applying the log to bbolt: %w", err)
		s.failed = s.applyErr
	} else {
		s.applied = batches[len(batches)-1].seq
		bytes := 0
		for _, b := range batches {
			bytes += len(b.payload)
			for _, doc := range b.docs {
				if s.pendingDocs[doc] <= s.applied {
					delete(s.pendingDocs, doc)
				}
			}
		}
		s.queuedBytes -= bytes
		// Copy what remains, so the applied batches' memory is released.
		s.queue = append([]loggedBatch(nil), s.queue[len(batches):]...)
	}
	close(s.appliedCh)
	s.appliedCh = make(chan struct{})
}

// applyPayloads decodes logged batches and applies them in one transaction
// that also records the last one's seq as applied.
func (s *Store) applyPayloads(batches []loggedBatch) error {
	var recs []syncd.Record
	for _, b := range batches {
		r, err := decodeBatch(b.payload)
		if err != nil {
			return fmt.Errorf("record %d: %w", b.seq, err)
		}
		recs = append(recs, r...)
	}
	return s.apply(recs, batches[len(batches)-1].seq)
}

// openLog reads the log's id and applied seq from bbolt, opens the
// segments, replays their records after applied into bbolt, and leaves
// the log ready to write from the start of its first segment (everything
// it holds is applied by then).
func (s *Store) openLog(fs walFS, opts Options) error {
	var id, applied uint64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		info := tx.Bucket(bucketInfo)
		if v := info.Get(keyLogID); len(v) == 8 {
			id = binary.BigEndian.Uint64(v)
		} else {
			var b [8]byte
			if _, err := rand.Read(b[:]); err != nil {
				return err
			}
			id = binary.BigEndian.Uint64(b[:])
			if err := info.Put(keyLogID, b[:]); err != nil {
				return err
			}
		}
		if v := info.Get(keyLogApplied); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("%w: applied seq of %d bytes", errCorrupt, len(v))
			}
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	names := LogFiles(s.path)
	l := &walLog{id: id, names: [2]string{names[0], names[1]}, segBytes: opts.LogSegmentBytes, noSync: opts.NoSync}
	if l.segBytes <= 0 {
		l.segBytes = DefaultLogSegmentBytes
	}
	// Zeros written ahead (see osFS) make every later write of the log
	// an overwrite; NoSync (tests) skips them, as it skips the syncs.
	var prefill int64
	if !opts.NoSync {
		prefill = l.segBytes
	}
	var chains [2]segmentChain
	for i, name := range l.names {
		if l.files[i], err = fs.OpenFile(name, prefill); err != nil {
			_ = l.close()
			return fmt.Errorf("write-ahead log: %w", err)
		}
		if chains[i], err = readChain(l.files[i], id); err != nil {
			_ = l.close()
			return fmt.Errorf("write-ahead log %s: %w", name, err)
		}
	}
	tail, end, err := recoverLog(chains, l.names, applied)
	if err == nil && len(tail) > 0 {
		batches := make([]loggedBatch, len(tail))
		for i, r := range tail {
			batches[i] = loggedBatch{seq: r.seq, payload: r.payload}
		}
		if err = s.applyPayloads(batches); err != nil {
			err = fmt.Errorf("write-ahead log: replaying records %d … %d: %w", tail[0].seq, end, err)
		}
	}
	if err != nil {
		_ = l.close()
		return err
	}
	s.log = l
	s.logged, s.applied = end, end
	s.replayed = len(tail)
	return nil
}

// putApplied records seq as applied, inside the transaction that applies it.
func putApplied(tx *bbolt.Tx, seq uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return tx.Bucket(bucketInfo).Put(keyLogApplied, b[:])
}
