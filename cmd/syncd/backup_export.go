package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/boltstore"
)

// exporter is GET /v1/backup for a store with no file of its own to copy
// (-store nats, whose log lives in JetStream on every node). It reads
// every document's state through the engine — so each one is caught up to
// the log's head, as any read is — writes it into a new bbolt database in
// a temporary directory, and streams that file: the format `syncd backup`
// checks and `syncd restore` installs, so a cluster is backed up and
// restored (into a single node with -data, into a running cluster with
// -url) with the same two commands as one node.
//
// What the copy keeps: each document's content at the moment it was read,
// as revision 1 of a new epoch. Not its history, and not the clients'
// request-id watermarks: a restore gives every document a new epoch in any
// case (clients take a snapshot, and their old request ids belong to the
// old epoch, PROTOCOL.md §6.7), so neither would survive it. Documents are
// read one after another while the cluster keeps serving: each is
// consistent in itself, but two documents may be read at different
// moments (unlike bolt's copy, which is one transaction).
type exporter struct {
	engine *syncd.Engine
	// dir holds the temporary database (the data directory: it has room
	// for the node's own files, and renames within it are cheap).
	dir     string
	running atomic.Bool
}

// exportPage is how many documents are read, and committed to the copy,
// at a time.
const exportPage = 200

func (x *exporter) backup(ctx context.Context, w io.Writer) (int64, error) {
	if !x.running.CompareAndSwap(false, true) {
		return 0, boltstore.ErrBackupRunning
	}
	defer x.running.Store(false)
	if err := os.MkdirAll(x.dir, 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(x.dir, ".syncd-export-*")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "syncd.db")
	if err := x.export(ctx, path); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}

// export writes every document into a new database at path and closes it
// (which applies its write-ahead log to the file).
func (x *exporter) export(ctx context.Context, path string) (err error) {
	st, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); err == nil {
			err = cerr
		}
	}()
	for after := ""; ; {
		metas, err := x.engine.List(ctx, after, exportPage)
		if err != nil {
			return fmt.Errorf("listing documents: %w", err)
		}
		batch := make([]syncd.Record, 0, 3*len(metas))
		for _, m := range metas {
			snap, err := snapshotWhenRoom(ctx, x.engine, m.Doc)
			if syncd.CodeOf(err) == syncd.CodeNotFound {
				continue // deleted since the listing
			}
			if err != nil {
				return fmt.Errorf("document %q: %w", m.Doc, err)
			}
			batch = append(batch, exportRecords(m, snap.State)...)
		}
		if len(batch) > 0 {
			if err := st.Commit(ctx, batch); err != nil {
				return fmt.Errorf("writing the copy: %w", err)
			}
		}
		if len(metas) < exportPage {
			return nil
		}
		after = metas[len(metas)-1].Doc
	}
}

// exportRecords writes a document whose state is state as revision 1 of
// a new epoch: its creation, one operation that replaces the whole
// document with state (so that its log rebuilds it), and a snapshot at
// that revision (so that a load needs no replay).
func exportRecords(m syncd.DocMeta, state json.RawMessage) []syncd.Record {
	epoch := syncd.NewEpoch()
	patch, _ := json.Marshal([]any{map[string]any{"op": "replace", "path": "", "value": state}})
	op := &syncd.Op{Rev: 1, Kind: syncd.OpPatch, Payload: patch, Time: m.Updated}
	return []syncd.Record{
		{Create: &syncd.CreateRecord{Doc: m.Doc, Epoch: epoch, Time: m.Created}},
		{Append: &syncd.AppendRecord{Doc: m.Doc, Epoch: epoch, Op: op}},
		{Snapshot: &syncd.SnapshotRecord{Doc: m.Doc, Epoch: epoch, Rev: 1, State: state}},
	}
}
