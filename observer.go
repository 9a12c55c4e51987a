package syncd

import (
	"context"

	"github.com/deltasync/syncd/revision"
)

// Observer is told what happened to documents once it is durable, and who
// joins and leaves their presence rooms. The webhook package builds its
// notifications on it; anything that needs to follow the whole server's
// changes (an audit log, a search index) can too.
//
// The engine calls it from its committer goroutine and with a document's
// delivery lock held, so each method must return at once: record what it
// needs (a map update under a short lock) and hand the work to a goroutine
// of its own. It must not call the engine, and it must never wait for I/O:
// a slow observer would slow every commit.
type Observer interface {
	// Committed is called after a batch's records are durable, for each
	// creation, deletion and operation, in commit order per document.
	Committed(n CommitNotice)

	// PresenceChanged is called when clientID enters doc's presence room
	// (joined true, its first SetPresence) or leaves it (joined false),
	// in order per document. Changes of an entry's state are not reported.
	// user is the user the client's SetPresence named with
	// [ContextWithPresenceUser], or "" (the same on the leave as on the
	// join).
	PresenceChanged(doc, clientID, user string, joined bool)
}

// CommitNotice is one durable change of a document, for an [Observer].
type CommitNotice struct {
	Doc string
	// Kind says what happened: NoticeCreated (Epoch is the new history,
	// Head 0), NoticeDeleted (the document is gone; a deletion of a
	// document that lives on is followed by a NoticeCreated of its new
	// epoch), or NoticeOp (the head of Epoch is now Head).
	Kind  NoticeKind
	Epoch revision.Epoch
	Head  revision.Rev
}

// NoticeKind says what a [CommitNotice] reports.
type NoticeKind uint8

const (
	NoticeOp NoticeKind = iota + 1
	NoticeCreated
	NoticeDeleted
)

// notifyCommitted tells the observer, if any, about p's durable records.
// Called by the committer after the batch's Commit succeeded.
func (e *Engine) notifyCommitted(p *pending) {
	o := e.opts.Observer
	if o == nil {
		return
	}
	doc := p.doc.id
	if p.create != nil {
		o.Committed(CommitNotice{Doc: doc, Kind: NoticeCreated, Epoch: p.create.Epoch})
	}
	if p.del != nil {
		o.Committed(CommitNotice{Doc: doc, Kind: NoticeDeleted})
	}
	if p.recreate != nil {
		o.Committed(CommitNotice{Doc: doc, Kind: NoticeCreated, Epoch: p.recreate.Epoch})
	}
	if p.append != nil {
		o.Committed(CommitNotice{Doc: doc, Kind: NoticeOp, Epoch: p.append.Epoch, Head: p.append.Op.Rev})
	}
}

// notifyPresence tells the observer, if any, that clientID joined or left
// doc's room. d.subsMu is held, which keeps the calls of one document in
// order.
func (e *Engine) notifyPresence(doc, clientID, user string, joined bool) {
	if o := e.opts.Observer; o != nil {
		o.PresenceChanged(doc, clientID, user, joined)
	}
}

type presenceUserKey struct{}

// ContextWithPresenceUser returns ctx naming user as the user behind a
// SetPresence call: the engine keeps it with the client's presence entry
// and gives it to the [Observer], so that one can tell a user's first
// join and last leave over several clients. The server sets it from the
// connection's authenticated user.
func ContextWithPresenceUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, presenceUserKey{}, user)
}

func presenceUser(ctx context.Context) string {
	u, _ := ctx.Value(presenceUserKey{}).(string)
	return u
}
