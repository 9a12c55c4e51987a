// Package revision defines how syncd numbers the history of a document and
// how it orders the request ids of a client.
//
// A document's history is a sequence of operations numbered 1, 2, 3, … with
// no gaps; [Rev] is that number, and revision 0 is the empty document before
// its first operation. Revisions are only comparable within one history. A
// history is named by its [Epoch], a ULID chosen when the document is created:
// when a document is deleted and created again, or its history is lost, it
// gets a new epoch, so revision 7 of the old history is never mistaken for
// revision 7 of the new one. A client therefore always presents the pair
// (epoch, rev), and a mismatched epoch means "start again from a snapshot".
//
// Request ids ([ReqID]) name a client's edits. A client that keeps its id
// across connections promises that its request ids strictly increase; the
// server remembers the highest id it has decided for each (document, client)
// pair, the watermark, and treats any id at or below it as already decided
// (see [Watermark]). ULIDs from a monotonic source satisfy the promise, and so
// do plain counters, because ids compare by length first (see [CompareReqID]).
//
// This package uses the standard library only, so that the wire protocol and
// the client SDK can depend on it without linking the engine.
package revision
