package syncd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// SetPresence sets clientID's presence state in doc's room and announces
// the change to the document's subscribers (the client's own subscription
// included). The room is bounded (Options.MaxRoomPresenceBytes): a value
// that would overflow it is refused with ErrRoomFull. Presence is ephemeral: it is not stored and not revisioned,
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
		old, had := d.presence[clientID]
		// A remote entry of the same client (it just moved here from
		// another instance) is taken over: the entry becomes local.
		_, wasRemote := d.presenceOrigin[clientID]
		if had && !wasRemote && bytes.Equal(old, state) {
			d.subsMu.Unlock()
			return nil
		}
		size, err := e.roomSizeLocked(d, clientID, old, had, state, "value")
		if err != nil {
			d.subsMu.Unlock()
			return err
		}
		d.presence[clientID] = state
		d.presenceBytes = size
		delete(d.presenceOrigin, clientID)
		if !had || wasRemote {
			user := presenceUser(ctx)
			if user != "" {
				if d.presenceUsers == nil {
					d.presenceUsers = make(map[string]string)
				}
				d.presenceUsers[clientID] = user
			}
			e.notifyPresence(d.id, clientID, user, true)
		}
		deliverPresenceLocked(d, &Event{Kind: EventPresence, Doc: d.id, Presence: []PresenceEntry{{ClientID: clientID, State: state}}})
		d.subsMu.Unlock()
		return nil
	}
}

// roomSizeLocked is the size d's room would have with clientID's entry
// (old, if it had one) replaced by state, or ErrRoomFull (in an *Error)
// when that is over Options.MaxRoomPresenceBytes; what names the value in
// the message ("value", "remote value"). d.subsMu must be held.
func (e *Engine) roomSizeLocked(d *document, clientID string, old json.RawMessage, had bool, state json.RawMessage, what string) (int, error) {
	size := d.presenceBytes + presenceEntrySize(clientID, state)
	if had {
		size -= presenceEntrySize(clientID, old)
	}
	if limit := e.opts.MaxRoomPresenceBytes; limit > 0 && size > limit {
		return 0, &Error{Code: CodeTooLarge, Doc: d.id, Err: ErrRoomFull,
			Message: fmt.Sprintf("the room's presence is full: %d bytes, with this %s %d, at most %d", d.presenceBytes, what, size, limit)}
	}
	return size, nil
}

// ErrRoomFull: a presence value did not fit in the document's room
// (Options.MaxRoomPresenceBytes). It comes wrapped in an *Error with
// CodeTooLarge; retrying can succeed once others leave the room or shrink
// their values.
var ErrRoomFull = errors.New("syncd: presence room full")

// PresenceEntryOverhead is what a presence entry counts against
// Options.MaxRoomPresenceBytes beyond its client id and state: about the
// JSON that wraps them in a PRESENCE message. It keeps a room of many tiny
// values bounded too.
const PresenceEntryOverhead = 32

// presenceEntrySize is what an entry counts against the room's bound.
func presenceEntrySize(clientID string, state json.RawMessage) int {
	return len(clientID) + len(state) + PresenceEntryOverhead
}

// ClearPresence removes clientID from doc's room, announcing its departure.
// It does nothing if the client had no presence there.
func (e *Engine) ClearPresence(doc, clientID string) {
	d := e.loadedDoc(doc)
	if d == nil {
		// Not loaded: its room may be kept across a reload (keptroom.go).
		if user, ok := e.clearKept(doc, clientID); ok {
			e.notifyPresence(doc, clientID, user, false)
		}
		return
	}
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	state, ok := d.presence[clientID]
	if _, remote := d.presenceOrigin[clientID]; !ok || remote {
		// A remote entry is the client's newer connection on another
		// instance: it leaves with that connection, not with this one.
		return
	}
	delete(d.presence, clientID)
	d.presenceBytes -= presenceEntrySize(clientID, state)
	user := d.presenceUsers[clientID]
	delete(d.presenceUsers, clientID)
	e.notifyPresence(d.id, clientID, user, false)
	deliverPresenceLocked(d, &Event{Kind: EventPresence, Doc: d.id, Left: []string{clientID}})
}

// Presence returns doc's room: every client with a presence state, ordered
// by client id. A document that is not loaded has an empty room.
func (e *Engine) Presence(doc string) []PresenceEntry {
	d := e.loadedDoc(doc)
	if d == nil {
		return nil
	}
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

// MaxRoomPresenceBytes returns the bound of a document's presence room
// (Options.MaxRoomPresenceBytes; 0 or less: none).
func (e *Engine) MaxRoomPresenceBytes() int { return e.opts.MaxRoomPresenceBytes }
