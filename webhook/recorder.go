package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// recordGap is the least time between two rounds of the recorder.
const recordGap = 10 * time.Millisecond

// recordLoop is the recorder: it turns observations into events in the
// durable outbox, debouncing document changes, and trims what every
// endpoint has received. It runs until ctx ends, then records what is
// pending one last time.
func (n *Notifier) recordLoop(ctx context.Context) {
	defer n.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			// The store is still open: Main closes the notifier first.
			final := context.Background()
			n.record(final, true)
			return
		case <-n.wake:
		case <-timer.C:
		}
		wait := n.record(ctx, false)
		timer.Reset(max(wait, recordGap))
		// Every commit wakes the recorder; a pause between rounds makes
		// one round (a walk of the changed documents and one side write)
		// cover many commits under load.
		select {
		case <-ctx.Done():
		case <-time.After(recordGap):
		}
	}
}

// record writes the events of the presence changes and of the documents
// that are due, and trims what every endpoint has received, in one side
// transaction (one fsync a round with bbolt, whose one writer the
// commits share). It returns how long until the next document is due.
func (n *Notifier) record(ctx context.Context, force bool) (next time.Duration) {
	next = n.opts.Debounce
	tp := n.planTrim()
	now := n.opts.Now()
	n.mu.Lock()
	room := n.opts.MaxOutbox - len(n.outbox)
	pres := n.presence
	if len(pres) > room {
		pres = pres[:max(room, 0)]
	}
	n.presence = n.presence[len(pres):]
	n.recording = len(pres)
	room -= len(pres)
	if n.dropping && room > n.opts.MaxOutbox/10 {
		n.dropping = false
		n.log.Info("webhook outbox has room again: presence events are recorded again")
	}
	due := make(map[string][]item)
	for doc, items := range n.docs {
		// Each item makes at most two events (a re-creation: deleted
		// and created).
		if room < 2*len(items) {
			break
		}
		lifecycle := false
		for _, it := range items {
			lifecycle = lifecycle || it.kind != syncd.NoticeOp
		}
		if last, ok := n.reported[doc]; ok && !force && !lifecycle {
			if wait := last.Add(n.opts.Debounce).Sub(now); wait > 0 {
				next = min(next, wait)
				continue
			}
		}
		due[doc] = items
		delete(n.docs, doc)
		room -= 2 * len(items)
	}
	for doc, last := range n.reported {
		if now.Sub(last) >= n.opts.Debounce && n.docs[doc] == nil {
			delete(n.reported, doc)
		}
	}
	n.mu.Unlock()
	if len(pres) == 0 && len(due) == 0 {
		if len(tp.writes) > 0 {
			if err := n.side.SideWrite(ctx, tp.writes); err != nil {
				if ctx.Err() == nil {
					n.log.Error("webhook outbox: trim failed; retrying", "err", err)
				}
				return time.Second
			}
			n.applyTrim(tp)
		}
		return next
	}

	var writes []syncd.SideWrite
	var recs []*record
	changed := make([]string, 0, len(due))
	var err error
	for doc, items := range due {
		var cur *cursor
		if cur, err = n.cursorOf(ctx, doc); err != nil {
			break
		}
		evs := n.eventsOf(doc, cur, items)
		for _, ev := range evs {
			recs = append(recs, n.stage(ev, &writes))
			if ev.Type == TypeDocumentChanged {
				changed = append(changed, doc)
			}
		}
		w := syncd.SideWrite{Space: spaceCursor, Key: doc}
		if cur.Epoch != "" {
			w.Value, _ = json.Marshal(cur)
		}
		writes = append(writes, w)
	}
	if err == nil {
		// Presence after the documents' events: a document's creation
		// comes before the joins it made possible.
		for _, c := range pres {
			doc, who, _ := cutPresenceKey(c.key)
			ev := n.newEvent(TypePresenceLeft, doc)
			if c.joined {
				ev.Type = TypePresenceJoined
				writes = append(writes, syncd.SideWrite{Space: spacePresent, Key: c.key, Value: []byte{}})
			} else {
				writes = append(writes, syncd.SideWrite{Space: spacePresent, Key: c.key})
			}
			setWho(ev, who)
			recs = append(recs, n.stage(ev, &writes))
		}
		err = n.commitRecords(ctx, append(writes, tp.writes...), recs)
	}
	if err != nil {
		// Nothing was written: put everything back, in front of what
		// arrived since, and try again later. The seqs staged are not
		// reused, which only leaves a gap.
		if ctx.Err() == nil {
			n.log.Error("webhook outbox: write failed; retrying", "err", err)
		}
		n.mu.Lock()
		n.recording = 0
		n.presence = append(pres[:len(pres):len(pres)], n.presence...)
		for doc, items := range due {
			n.docs[doc] = append(items[:len(items):len(items)], n.docs[doc]...)
		}
		n.mu.Unlock()
		return time.Second
	}
	n.applyTrim(tp)
	n.mu.Lock()
	for _, doc := range changed {
		n.reported[doc] = now
	}
	n.mu.Unlock()
	return next
}

// cursorOf reads doc's cursor; a document without one has Epoch "".
func (n *Notifier) cursorOf(ctx context.Context, doc string) (*cursor, error) {
	cur := &cursor{}
	v, err := n.side.SideGet(ctx, spaceCursor, doc)
	switch {
	case errors.Is(err, syncd.ErrNotFound):
		return cur, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(v, cur); err != nil {
		n.log.Error("webhook cursor unreadable: treating the document as new", "doc", doc, "err", err)
		*cur = cursor{}
	}
	return cur, nil
}

// eventsOf returns the events that take doc from cur through items, and
// advances cur. An operation of an epoch the cursor does not know implies
// the creation (and the deletion of the epoch before) that the cursor
// missed, which happens only when state was lost.
func (n *Notifier) eventsOf(doc string, cur *cursor, items []item) []*Event {
	var out []*Event
	created := func(it item) {
		if cur.Epoch != "" {
			out = append(out, n.docEvent(TypeDocumentDeleted, doc, cur.Epoch))
		}
		out = append(out, n.docEvent(TypeDocumentCreated, doc, it.epoch))
		*cur = cursor{Epoch: it.epoch}
	}
	for _, it := range items {
		switch it.kind {
		case syncd.NoticeCreated:
			if cur.Epoch != it.epoch {
				created(it)
			}
		case syncd.NoticeDeleted:
			if cur.Epoch != "" {
				out = append(out, n.docEvent(TypeDocumentDeleted, doc, cur.Epoch))
				*cur = cursor{}
			}
		case syncd.NoticeOp:
			if cur.Epoch != it.epoch {
				created(it)
			}
			if it.head > cur.Rev {
				ev := n.docEvent(TypeDocumentChanged, doc, it.epoch)
				ev.Change = &Change{FromRev: cur.Rev, ToRev: it.head}
				out = append(out, ev)
				cur.Rev = it.head
			}
		}
	}
	return out
}

func (n *Notifier) docEvent(typ, doc string, epoch revision.Epoch) *Event {
	ev := n.newEvent(typ, doc)
	ev.Epoch = epoch
	return ev
}

// trimPlan is what a round trims: the outbox's first k records, which
// every endpoint has received, and the endpoints' delivery cursors to
// save (saved), with the writes that do both.
type trimPlan struct {
	writes []syncd.SideWrite
	k      int
	saved  []uint64
}

// planTrim plans the trim of the records every endpoint has received.
func (n *Notifier) planTrim() trimPlan {
	var p trimPlan
	n.mu.Lock()
	defer n.mu.Unlock()
	through := ^uint64(0)
	for _, s := range n.senders {
		through = min(through, s.delivered)
		if s.delivered != s.saved {
			p.writes = append(p.writes, syncd.SideWrite{Space: spaceSent, Key: s.ep.Name, Value: []byte(fmtUint(s.delivered))})
		}
		p.saved = append(p.saved, s.delivered)
	}
	for p.k < len(n.outbox) && n.outbox[p.k].seq <= through {
		p.writes = append(p.writes, syncd.SideWrite{Space: spaceOutbox, Key: outboxKey(n.outbox[p.k].seq)})
		p.k++
	}
	return p
}

// applyTrim updates the memory once p's writes are durable. Only the
// recorder removes records, from the front, so the first p.k are still the
// ones p deleted.
func (n *Notifier) applyTrim(p trimPlan) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p.k > 0 {
		n.outbox = append(n.outbox[:0:0], n.outbox[p.k:]...)
		n.m.outbox.Set(float64(len(n.outbox)))
	}
	for i, s := range n.senders {
		s.saved = p.saved[i]
	}
}
