package syncd

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
)

// SetPresence sets clientID's presence state in doc's room and announces
// the change to the document's subscribers (the client's own subscription
// included). Presence is ephemeral: it is not stored and not revisioned,
// and it lives while the document is loaded; the server clears it when
// the client leaves or its connection dies.
func (e *Engine) SetPresence(ctx context.Context, doc, clientID string, state json.RawMessage) error {
	if clientID == "" {
		return &Error{Code: CodeInvalid, Message: "presence needs a client id", Doc: doc}
	}
	state, err := compactJSON(state)
	if err != nil || len(state) == 0 {
		return &Error{Code: CodeInvalid, Message: "presence state must be JSON", Doc: doc, Err: err}
	}
	for {
		d, err := e.acquire(ctx, doc, true)
		if err != nil {
			return err
		}
		d.mu.Lock()
		if d.gone {
			d.mu.Unlock()
			continue
		}
		d.lastUsed = e.opts.Now()
		d.subsMu.Lock()
		d.mu.Unlock()
		if old, ok := d.presence[clientID]; !ok || !bytes.Equal(old, state) {
			d.presence[clientID] = state
			deliverPresenceLocked(d, &Event{Kind: EventPresence, Doc: d.id, Presence: []PresenceEntry{{ClientID: clientID, State: state}}})
		}
		d.subsMu.Unlock()
		return nil
	}
}

// ClearPresence removes clientID from doc's room, announcing its departure.
// It does nothing if the client had no presence there.
func (e *Engine) ClearPresence(doc, clientID string) {
	e.mu.Lock()
	d := e.docs[doc]
	e.mu.Unlock()
	if d == nil {
		return
	}
	<-d.ready
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	if _, ok := d.presence[clientID]; !ok {
		return
	}
	delete(d.presence, clientID)
	deliverPresenceLocked(d, &Event{Kind: EventPresence, Doc: d.id, Left: []string{clientID}})
}

// Presence returns doc's room: every client with a presence state, ordered
// by client id. A document that is not loaded has an empty room.
func (e *Engine) Presence(doc string) []PresenceEntry {
	e.mu.Lock()
	d := e.docs[doc]
	e.mu.Unlock()
	if d == nil {
		return nil
	}
	<-d.ready
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	return presenceListLocked(d)
}

func presenceListLocked(d *document) []PresenceEntry {
	list := make([]PresenceEntry, 0, len(d.presence))
	for id, st := range d.presence {
		list = append(list, PresenceEntry{ClientID: id, State: st})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ClientID < list[j].ClientID })
	return list
}

// deliverPresenceLocked sends a presence change to every subscriber that
// has finished its catch-up (the others get the whole room when they do).
// d.subsMu must be held.
func deliverPresenceLocked(d *document, ev *Event) {
	for _, s := range d.subs {
		if s.ready && !s.closed {
			s.sink(ev)
		}
	}
}
