package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// catchupKeys is how many keys the catch-up document has: with ~100-byte
// edits, about 100 KB.
const catchupKeys = 1000

// catchupReps is how many rejoins (and fresh JOINs) one run measures.
const catchupReps = 5

// catchupRun is one run of catchup: a client that had revision From
// rejoins Behind revisions later.
type catchupRun struct {
	Behind    int     `json:"behind"`
	DocBytes  int     `json:"docBytes"` // the snapshot's state
	Mode      string  `json:"mode"`     // deltas, or gap:<reason>+snapshot
	Ms        float64 `json:"ms"`       // JOIN sent → at the head
	Bytes     int64   `json:"bytes"`    // received until then
	Messages  int     `json:"messages"`
	Ops       int     `json:"ops"`           // operations in a deltas answer
	Combined  int     `json:"combinedOps"`   // of which combined (firstRev: a compacted catch-up)
	SnapMs    float64 `json:"snapshotMs"`    // a fresh JOIN, same moment
	SnapBytes int64   `json:"snapshotBytes"` // its bytes
	FillSec   float64 `json:"fillSec"`
}

// runCatchup fills a document with catchupKeys keys, takes a client's
// position, writes behind more edits, then rejoins from that position and
// measures until the client is current; then a fresh JOIN (a snapshot) for
// comparison.
func runCatchup(ctx context.Context, t target, behind int, p params) (catchupRun, error) {
	r := catchupRun{Behind: behind}
	w, err := connect(ctx, t)
	if err != nil {
		return r, err
	}
	defer w.close()
	start := time.Now()
	seq := 0
	// The fill writes every key once: a document of catchupKeys keys.
	if err := writeN(ctx, w, t.doc, &seq, catchupKeys, p, func(seq int) int { return seq % catchupKeys }); err != nil {
		return r, err
	}
	epoch, from, _, _, err := join(ctx, t, nil, "")
	if err != nil {
		return r, err
	}
	// The edits behind touch keys round-robin (1,000 of them rewrite
	// every key once, though only its stamp changes: each edit writes the
	// padding it already had) or uniformly at random with a fixed seed
	// (1,000 of them touch about 63% of the keys).
	keyOf := func(seq int) int { return seq % catchupKeys }
	if p.keys == "random" {
		rng := rand.New(rand.NewPCG(1, 2))
		keyOf = func(int) int { return rng.IntN(catchupKeys) }
	}
	if err := writeN(ctx, w, t.doc, &seq, behind, p, keyOf); err != nil {
		return r, err
	}
	r.FillSec = time.Since(start).Seconds()
	head := from + revision.Rev(behind)

	// Rejoin and fresh JOIN alternate, catchupReps times each after one
	// fresh JOIN that warms whatever the server caches at a new head, and
	// the medians are reported: one millisecond-scale sample is noise.
	if _, _, _, _, err := join(ctx, t, nil, ""); err != nil {
		return r, err
	}
	var ms, bytes, snapMs, snapBytes []float64
	for range catchupReps {
		_, _, res, _, err := join(ctx, t, &from, epoch)
		if err != nil {
			return r, err
		}
		if res.rev != head {
			return r, fmt.Errorf("rejoin reached %d, want head %d", res.rev, head)
		}
		r.Mode, r.Messages, r.Ops, r.Combined = res.mode, res.messages, res.ops, res.combined
		ms = append(ms, us(res.took)/1e3)
		bytes = append(bytes, float64(res.bytes))
		_, _, snap, docBytes, err := join(ctx, t, nil, "")
		if err != nil {
			return r, err
		}
		r.DocBytes = docBytes
		snapMs = append(snapMs, us(snap.took)/1e3)
		snapBytes = append(snapBytes, float64(snap.bytes))
	}
	r.Ms, r.Bytes = median(ms), int64(median(bytes))
	r.SnapMs, r.SnapBytes = median(snapMs), int64(median(snapBytes))
	return r, ctx.Err()
}

// writeN commits n edits on keys k<keyOf(seq)> (k0…k999), at most
// p.window in flight, and returns once all are acknowledged.
func writeN(ctx context.Context, w *wsConn, doc string, seq *int, n int, p params, keyOf func(seq int) int) error {
	var buf []byte
	sent, acked := 0, 0
	w.c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	defer w.c.SetReadDeadline(time.Time{})
	for acked < n {
		for sent < n && sent-acked < p.window {
			*seq++
			buf = edit(buf[:0], doc, fmt.Sprintf("k%d", keyOf(*seq)), reqID(0, *seq), nowNano(), p.editBytes)
			if err := w.c.WriteMessage(websocket.TextMessage, buf); err != nil {
				return err
			}
			sent++
		}
		msg, err := w.read()
		if err != nil {
			return err
		}
		if isError(msg) {
			return fmt.Errorf("edit refused: %s", msg)
		}
		if isOps(msg) {
			stamps(msg, func(int64) { acked++ })
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

type joinResult struct {
	rev           revision.Rev
	mode          string
	took          time.Duration
	bytes         int64
	messages      int
	ops, combined int // operations of a deltas answer, and of those combined ones
}

// join opens a connection and JOINs (from rev/epoch when rev is set),
// reading until the document's head: the catch-up answer and any live
// deltas. It returns the epoch, the revision reached, what it cost, and
// the size of the snapshot's state when one came.
func join(ctx context.Context, t target, rev *revision.Rev, epoch revision.Epoch) (revision.Epoch, revision.Rev, joinResult, int, error) {
	var res joinResult
	c, err := connect(ctx, target{addr: t.addr, relay: true}) // HELLO only: the JOIN is measured here
	if err != nil {
		return "", 0, res, 0, err
	}
	defer c.close()
	msg, _ := protocol.AppendMessage(nil, protocol.TypeJoin, protocol.Meta{}, protocol.Join{Doc: t.doc, Rev: rev, Epoch: epoch})
	c.c.SetReadDeadline(time.Now().Add(time.Minute))
	start := time.Now()
	if err := c.c.WriteMessage(websocket.TextMessage, msg); err != nil {
		return "", 0, res, 0, err
	}
	docBytes := 0
	for range 1000 { // bounded: the catch-up is one answer (two with a gap)
		m, err := c.read()
		if err != nil {
			return "", 0, res, 0, err
		}
		res.bytes += int64(len(m))
		res.messages++
		env, err := protocol.DecodeEnvelope(m)
		if err != nil {
			return "", 0, res, 0, err
		}
		switch env.Type {
		case protocol.TypeRevisionGap:
			var g protocol.RevisionGap
			if err := g.UnmarshalPayload(env.Payload); err != nil {
				return "", 0, res, 0, err
			}
			res.mode = "gap:" + g.Reason + "+"
		case protocol.TypeSyncSnapshot:
			var s protocol.SyncSnapshot
			if err := s.UnmarshalPayload(env.Payload); err != nil {
				return "", 0, res, 0, err
			}
			res.mode += "snapshot"
			res.rev, res.took, docBytes = s.Rev, time.Since(start), len(s.State)
			return s.Epoch, s.Rev, res, docBytes, nil
		case protocol.TypeSyncDeltas:
			var d protocol.SyncDeltas
			if err := d.UnmarshalPayload(env.Payload); err != nil {
				return "", 0, res, 0, err
			}
			res.mode = "deltas"
			res.rev, res.took = d.ToRev, time.Since(start)
			res.ops = len(d.Operations)
			for _, op := range d.Operations {
				if op.FirstRev != 0 {
					res.combined++
				}
			}
			if res.combined > 0 {
				res.mode = "deltas (compacted)"
			}
			return d.Epoch, d.ToRev, res, 0, nil
		case protocol.TypeError, protocol.TypeRPCError:
			return "", 0, res, 0, fmt.Errorf("JOIN refused: %s", env.Payload)
		}
	}
	return "", 0, res, 0, errors.New("no catch-up answer")
}
