package webhook

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/deltasync/syncd"
)

// reconcile finds the document events the last run did not record: it
// walks the store's documents and the cursors together, in id order, and
// notes for the recorder every document whose state differs from its
// cursor (created, deleted, re-created or changed since). This is why no
// cursor needs writing on the commit path: a crash loses only in-memory
// observations, and the next start derives them again from the store.
//
// On the first start (no init mark) it sets every document's cursor to
// its present state instead, so that turning webhooks on does not report
// the whole existing store.
func (n *Notifier) reconcile(ctx context.Context) error {
	_, err := n.side.SideGet(ctx, spaceMeta, keyInit)
	first := errors.Is(err, syncd.ErrNotFound)
	if err != nil && !first {
		return err
	}
	const page = 1000
	var metas []syncd.DocMeta
	var curs []syncd.SideEntry
	metaAfter, curAfter := "", ""
	metasDone, cursDone := false, false
	var baseline []syncd.SideWrite
	for {
		if len(metas) == 0 && !metasDone {
			if metas, err = n.store.List(ctx, metaAfter, page); err != nil {
				return err
			}
			if len(metas) == 0 {
				metasDone = true
			} else {
				metaAfter = metas[len(metas)-1].Doc
			}
		}
		if len(curs) == 0 && !cursDone {
			if curs, err = n.side.SideScan(ctx, spaceCursor, curAfter, page); err != nil {
				return err
			}
			if len(curs) == 0 {
				cursDone = true
			} else {
				curAfter = curs[len(curs)-1].Key
			}
		}
		if len(metas) == 0 && len(curs) == 0 {
			break
		}
		switch {
		case len(curs) == 0 || (len(metas) > 0 && metas[0].Doc < curs[0].Key):
			// A document without a cursor.
			m := metas[0]
			metas = metas[1:]
			if first {
				v, _ := json.Marshal(cursor{Epoch: m.Epoch, Rev: m.Head})
				baseline = append(baseline, syncd.SideWrite{Space: spaceCursor, Key: m.Doc, Value: v})
			} else {
				n.note(m.Doc, item{kind: syncd.NoticeOp, epoch: m.Epoch, head: m.Head})
			}
		case len(metas) == 0 || curs[0].Key < metas[0].Doc:
			// A cursor whose document is gone.
			n.note(curs[0].Key, item{kind: syncd.NoticeDeleted})
			curs = curs[1:]
		default:
			m, c := metas[0], curs[0]
			metas, curs = metas[1:], curs[1:]
			var cur cursor
			if json.Unmarshal(c.Value, &cur) != nil || cur.Epoch != m.Epoch || cur.Rev != m.Head {
				n.note(m.Doc, item{kind: syncd.NoticeOp, epoch: m.Epoch, head: m.Head})
			}
		}
		if len(baseline) >= page {
			if err := n.side.SideWrite(ctx, baseline); err != nil {
				return err
			}
			baseline = baseline[:0]
		}
	}
	if first {
		baseline = append(baseline, syncd.SideWrite{Space: spaceMeta, Key: keyInit, Value: []byte("1")})
		return n.side.SideWrite(ctx, baseline)
	}
	return nil
}

// note adds an observation of doc for the recorder.
func (n *Notifier) note(doc string, it item) {
	n.mu.Lock()
	n.docs[doc] = append(n.docs[doc], it)
	n.mu.Unlock()
}
