package syncd

import (
	"bytes"
	"context"
	"encoding/json"
)

// Remote presence. In a cluster, a document's room spans instances: each
// instance holds the presence of its own clients and learns the others'
// from the cluster bus (server/cluster_presence.go). The bus layer puts
// another instance's entries into the room with SetRemotePresence and takes
// them out with ClearRemotePresence, so the room a subscriber sees (the
// full room after its catch-up, and every change) is the merged one, and
// Options.MaxRoomPresenceBytes bounds the merged room.
//
// Each remote entry remembers its origin, the instance that announced it.
// A client id is live on one instance at a time, but while it moves (its
// newer connection on instance B, the older one on A not closed yet) two
// instances may announce an entry for it. The rules: a local entry wins
// over a remote one (SetPresence takes a remote entry over;
// SetRemotePresence leaves a local one alone: the client's connection here
// speaks for it until it closes, which the cluster makes soon); between
// remote entries the newest announcement wins; and a departure removes the
// entry only when it comes from the entry's origin (ClearPresence only a
// local entry), so an old connection's departure never erases the new
// connection's presence. The bus layer puts a remote entry back when the
// local one it yielded to leaves.
//
// Remote entries do not reach the Observer: the origin instance reports
// its own clients' joins and leaves.

// SetRemotePresence sets clientID's presence in doc's room as announced by
// the cluster instance origin, and tells the document's subscribers. It
// loads the document if it exists but is not loaded (a cluster instance
// fills the room before a local client's JOIN is answered) and does nothing
// if the document does not exist. A value that would overflow the room is
// refused with ErrRoomFull, as a local one is.
func (e *Engine) SetRemotePresence(ctx context.Context, doc, origin, clientID string, state json.RawMessage) error {
	if origin == "" || clientID == "" {
		return &Error{Code: CodeInvalid, Message: "remote presence needs an origin and a client id", Doc: doc}
	}
	state, err := compactJSON(state)
	if err != nil || len(state) == 0 {
		return &Error{Code: CodeInvalid, Message: "presence state must be JSON", Doc: doc, Err: err}
	}
	for {
		d, err := e.acquire(ctx, doc, false)
		if CodeOf(err) == CodeNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		d.mu.Lock()
		if d.gone {
			d.mu.Unlock()
			continue
		}
		d.subsMu.Lock()
		d.mu.Unlock()
		old, had := d.presence[clientID]
		oldOrigin, wasRemote := d.presenceOrigin[clientID]
		if had && (!wasRemote || (oldOrigin == origin && bytes.Equal(old, state))) {
			// Unchanged; or the client is connected here, and its
			// connection here speaks for it until it closes.
			d.subsMu.Unlock()
			return nil
		}
		size, err := e.roomSizeLocked(d, clientID, old, had, state, "remote value")
		if err != nil {
			d.subsMu.Unlock()
			return err
		}
		d.presence[clientID] = state
		d.presenceBytes = size
		if d.presenceOrigin == nil {
			d.presenceOrigin = make(map[string]string)
		}
		d.presenceOrigin[clientID] = origin
		deliverPresenceLocked(d, &Event{Kind: EventPresence, Doc: d.id, Presence: []PresenceEntry{{ClientID: clientID, State: state}}})
		d.subsMu.Unlock()
		return nil
	}
}

// ClearRemotePresence removes from doc's room the entries that the cluster
// instance origin set: clientID's, or every one of origin's when clientID
// is "" (the instance left or stopped answering). An entry of another
// origin, or a local one, is kept. It does not load the document: an
// unloaded document has no room.
func (e *Engine) ClearRemotePresence(doc, origin, clientID string) {
	if origin == "" {
		return
	}
	d := e.loadedDoc(doc)
	if d == nil {
		return
	}
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	var left []string
	remove := func(id string) {
		state := d.presence[id]
		delete(d.presence, id)
		delete(d.presenceOrigin, id)
		d.presenceBytes -= presenceEntrySize(id, state)
		left = append(left, id)
	}
	if clientID != "" {
		if d.presenceOrigin[clientID] == origin {
			remove(clientID)
		}
	} else {
		for id, o := range d.presenceOrigin {
			if o == origin {
				remove(id)
			}
		}
	}
	if len(left) > 0 {
		deliverPresenceLocked(d, &Event{Kind: EventPresence, Doc: d.id, Left: left})
	}
}
