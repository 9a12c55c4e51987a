package syncd

import "encoding/json"

// A document dropped after a failed write (breakDocument) is loaded again
// from the store, but its room is not in the store: presence lives in
// memory only. The clients in it have not left (PROTOCOL.md §6.9: only
// LEAVE or the end of a connection removes presence), so the room is kept
// here and handed to the copy loaded in its place; the Observer, told of
// each join, hears of no leave it did not happen.

// keptRoom is a dropped document's room.
type keptRoom struct {
	presence map[string]json.RawMessage
	users    map[string]string
	origin   map[string]string
	bytes    int
}

// keepRoom moves d's room to the engine, for the next copy of d. d is
// gone: no presence change lands on it any more (they look at d.gone
// first, and hold subsMu from before it was set until they are done).
func (e *Engine) keepRoom(d *document) {
	d.subsMu.Lock()
	if len(d.presence) == 0 {
		d.subsMu.Unlock()
		return
	}
	r := &keptRoom{presence: d.presence, users: d.presenceUsers, origin: d.presenceOrigin, bytes: d.presenceBytes}
	d.presence, d.presenceUsers, d.presenceOrigin, d.presenceBytes = make(map[string]json.RawMessage), nil, nil, 0
	d.subsMu.Unlock()
	e.keptMu.Lock()
	if e.kept == nil {
		e.kept = make(map[string]*keptRoom)
	}
	e.kept[d.id] = r
	e.keptMu.Unlock()
}

// adoptRoom gives d, a new copy not yet ready, the room kept for it, if
// any.
func (e *Engine) adoptRoom(d *document) {
	e.keptMu.Lock()
	r := e.kept[d.id]
	delete(e.kept, d.id)
	e.keptMu.Unlock()
	if r != nil {
		d.presence, d.presenceUsers, d.presenceOrigin, d.presenceBytes = r.presence, r.users, r.origin, r.bytes
	}
}

// clearKept removes clientID's own entry from doc's kept room, if doc is
// not loaded (under e.mu, as adoptRoom runs), and returns its user.
func (e *Engine) clearKept(doc, clientID string) (user string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.docs[doc] != nil {
		return "", false // loaded meanwhile: a moment too late to matter
	}
	e.keptMu.Lock()
	defer e.keptMu.Unlock()
	r := e.kept[doc]
	if r == nil {
		return "", false
	}
	state, had := r.presence[clientID]
	if _, remote := r.origin[clientID]; !had || remote {
		return "", false
	}
	delete(r.presence, clientID)
	r.bytes -= presenceEntrySize(clientID, state)
	user = r.users[clientID]
	delete(r.users, clientID)
	if len(r.presence) == 0 {
		delete(e.kept, doc)
	}
	return user, true
}
