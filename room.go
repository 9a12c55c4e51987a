package syncd

// Room messages. Besides presence, a document's room carries ephemeral
// messages between its subscribers (cursors, chat): not stored, not
// revisioned, delivered to whoever is subscribed at that moment. The
// engine does not look inside one: it orders it with the document's
// operations and presence changes, under the same delivery lock (subsMu),
// and hands it to the same sinks. So every subscriber of a document gets
// that document's events in one order, the same for all of them, and one
// subscriber's sink is the only path by which anything of the document
// reaches it.

// PublishRoom hands msg to every subscriber of doc that has finished its
// catch-up, except the subscriptions of from (SubscribeRequest.ClientID):
// a room message is not echoed to its sender. Subscribers receive it as
// an EventMessage, shared by all of them (read-only; Event.Memo applies).
// msg is the caller's: a server passes what it writes to connections.
//
// It does not load the document: one that is not loaded has no
// subscribers, so nobody is there to receive the message. A subscriber
// still catching up misses it, as it would have missed it a moment
// earlier; its catch-up is followed by everything published after it.
func (e *Engine) PublishRoom(doc, from string, msg any) {
	d := e.loadedDoc(doc)
	if d == nil {
		return
	}
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	if len(d.subs) == 0 {
		return
	}
	ev := &Event{Kind: EventMessage, Doc: d.id, From: from, Message: msg}
	for _, s := range d.subs {
		if s.ready && !s.closed && (from == "" || s.clientID != from) {
			s.sink(ev)
		}
	}
}

// loadedDoc returns doc if it is loaded (or loading: it waits for that to
// end), without loading it: presence and room messages concern only the
// documents their members keep loaded. nil if it is not.
func (e *Engine) loadedDoc(doc string) *document {
	e.mu.Lock()
	d := e.docs[doc]
	e.mu.Unlock()
	if d != nil {
		<-d.ready
	}
	return d
}
