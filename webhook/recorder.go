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
			n.trim(final)
			return
		case <-n.wake:
		case <-timer.C:
		}
		wait := n.record(ctx, false)
		n.trim(ctx)
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
// that are due, in one side transaction. It returns how long until the
// next document is due.
func (n *Notifier) record(ctx context.Context, force bool) (next time.Duration) {
	next = n.opts.Debounce
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
		err = n.commitRecords(ctx, writes, recs)
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

// trim removes from the outbox the events every endpoint has received,
// and saves the endpoints' delivery cursors with it.
func (n *Notifier) trim(ctx context.Context) {
	var writes []syncd.SideWrite
	n.mu.Lock()
	through := ^uint64(0)
	for _, s := range n.senders {
		through = min(through, s.delivered)
		if s.delivered != s.saved {
			writes = append(writes, syncd.SideWrite{Space: spaceSent, Key: s.ep.Name, Value: []byte(fmtUint(s.delivered))})
		}
	}
	k := 0
	for k < len(n.outbox) && n.outbox[k].seq <= through {
		writes = append(writes, syncd.SideWrite{Space: spaceOutbox, Key: outboxKey(n.outbox[k].seq)})
		k++
	}
	saved := make([]uint64, len(n.senders))
	for i, s := range n.senders {
		saved[i] = s.delivered
	}
	n.mu.Unlock()
	if len(writes) == 0 {
		return
	}
	if err := n.side.SideWrite(ctx, writes); err != nil {
		n.log.Error("webhook outbox: trim failed; retrying", "err", err)
		return
	}
	n.mu.Lock()
	// Only the recorder removes from the front, so the first k records
	// are the ones deleted.
	n.outbox = append(n.outbox[:0:0], n.outbox[k:]...)
	n.m.outbox.Set(float64(len(n.outbox)))
	for i, s := range n.senders {
		s.saved = saved[i]
	}
	n.mu.Unlock()
}
