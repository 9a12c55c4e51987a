package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/store/boltstore"
)

// runInspect is "syncd inspect [DOC] -data DIR": what a stopped syncd's
// database holds, read-only. The states come from the engine itself (over
// the read-only store), so they are exactly what a client would be served.
func runInspect(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := newFlagSet("inspect", "[DOC] -data DIR [-ops N]",
		"Without DOC: every document with its revision, epoch and size.\n"+
			"With DOC: its metadata, its state pretty-printed and its newest operations.\n"+
			"Reads only; refused while a syncd runs on DIR (use the HTTP API then).", errOut)
	dir := fs.String("data", "", "data directory of a stopped syncd (required)")
	nops := fs.Int("ops", 10, "with DOC: how many of its newest operations to show")
	rest, code, ok := parseCommand(fs, args)
	if !ok {
		return code
	}
	if len(rest) > 1 || *dir == "" {
		return usageError(errOut, "inspect", "want -data DIR and at most one DOC")
	}
	if *nops < 0 {
		return usageError(errOut, "inspect", "-ops must not be negative")
	}
	st, err := boltstore.OpenReadOnly(dbPath(*dir), boltstore.Options{})
	if err != nil {
		return failedOnData(errOut, "inspect", *dir, err, "stop it, or read it over its HTTP API (GET /v1/docs)")
	}
	defer st.Close()
	// A short idle timeout unloads what a long listing loaded.
	e, err := syncd.Open(st, syncd.Options{IdleTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		return failed(errOut, "inspect", err)
	}
	defer e.Close()
	if len(rest) == 0 {
		err = listDocs(ctx, e, out)
	} else {
		err = showDoc(ctx, e, st, rest[0], *nops, out)
	}
	if err != nil {
		return failed(errOut, "inspect", err)
	}
	return 0
}

// listDocs prints every document: id, revision, epoch, size, last update.
func listDocs(ctx context.Context, e *syncd.Engine, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DOC\tREV\tEPOCH\tSIZE\tUPDATED")
	n, total := 0, int64(0)
	for after := ""; ; {
		metas, err := e.List(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, m := range metas {
			snap, err := snapshotWhenRoom(ctx, e, m.Doc)
			if err != nil {
				return fmt.Errorf("document %q: %w", m.Doc, err)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", m.Doc, m.Head, m.Epoch, len(snap.State), millis(m.Updated))
			n++
			total += int64(len(snap.State))
		}
		if len(metas) < 500 {
			break
		}
		after = metas[len(metas)-1].Doc
	}
	tw.Flush()
	fmt.Fprintf(out, "%s, %s of JSON\n", documents(n), humanBytes(total))
	return nil
}

// snapshotWhenRoom reads a document's state. A listing loads documents
// faster than the engine's memory budget may unload them (it keeps those
// used within the last second), so a load refused for room is tried again
// once the budget has had time to free some.
func snapshotWhenRoom(ctx context.Context, e *syncd.Engine, doc string) (*syncd.DocState, error) {
	for tries := 0; ; tries++ {
		snap, err := e.State(ctx, doc)
		if syncd.CodeOf(err) != syncd.CodeExhausted || tries == 50 {
			return snap, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// showDoc prints one document's metadata, state and newest operations.
func showDoc(ctx context.Context, e *syncd.Engine, st *boltstore.Store, doc string, nops int, out io.Writer) error {
	sd, err := st.Load(ctx, doc)
	if errors.Is(err, syncd.ErrNotFound) {
		return fmt.Errorf("no document %q", doc)
	}
	if err != nil {
		return err
	}
	snap, err := e.State(ctx, doc)
	if err != nil {
		return err
	}
	m := sd.Meta
	fmt.Fprintf(out, "doc       %s\nepoch     %s\nrev       %d\nfirst op  %d (the oldest the log still holds)\nsnapshot  %d (the newest stored)\nsize      %d bytes\ncreated   %s\nupdated   %s\n\nstate:\n",
		m.Doc, m.Epoch, m.Head, m.First, sd.SnapshotRev, len(snap.State), millis(m.Created), millis(m.Updated))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, snap.State, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	pretty.WriteTo(out)
	if nops == 0 {
		return nil
	}
	after := revision.Rev(0)
	if m.Head > revision.Rev(nops) {
		after = m.Head - revision.Rev(nops)
	}
	if m.First > after+1 {
		after = m.First - 1
	}
	ops, err := st.ReadOps(ctx, doc, m.Epoch, after, nops)
	if err != nil && !errors.Is(err, syncd.ErrGone) {
		return err
	}
	fmt.Fprintf(out, "\nnewest operations (%d):\n", len(ops))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REV\tTIME\tCLIENT\tREQUEST\tTYPE\tPAYLOAD")
	for _, op := range ops {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", op.Rev, millis(op.Time), dash(op.ClientID), dash(op.ClientReqID), op.Kind, clip(op.Payload, 120))
	}
	return tw.Flush()
}

func millis(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000Z")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clip shortens a payload for a table row.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
