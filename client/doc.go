// Package client is the Go SDK of syncd: it keeps JSON documents in sync
// with a syncd server over one WebSocket, so that a program edits a
// document as if it were local while the SDK makes every edit reach the
// server exactly once and every replica converge. It implements the client
// algorithm of PROTOCOL.md §9.
//
// # Vocabulary
//
//   - Client: one connection at a time, reconnected with backoff; it
//     keeps one client id (a ULID) for its whole life, which is what lets
//     the server de-duplicate resent edits.
//   - Endpoints: Options.URL, and with Options.URLs the other instances of
//     one syncd cluster. Dial keeps the first that answers; a reconnect
//     starts at the one that worked last (Client.URL), moves on to the
//     next when a connection to it fails or that server drops or closes
//     the connection for its own reasons, and resumes there (every
//     instance has the same epochs and revisions), waiting the backoff
//     before each attempt (PROTOCOL.md §9.3, "Several servers").
//   - Doc: a joined document. Its confirmed state is the last state the
//     server confirmed, at (Epoch, Rev); its pending edits are this
//     client's edits not yet decided; its view is the confirmed state with
//     the pending edits applied in order. Programs read the view.
//   - Edit: a JSON Patch (Doc.Patch) or JSON Merge Patch (Doc.Merge),
//     applied to the view at once and queued under a request id from a
//     monotonic ULID source. The server's echo of the committed operation
//     acknowledges it; an ERROR naming its id refuses it, and it is rolled
//     back and reported (OnReject), unless the code is retryable, when it
//     is re-issued under a new id, rebased, up to Options.MaxRetries times
//     (UNAVAILABLE: at least 10, backing off to 5 s, ~26 s in all). A
//     re-issued merge patch loses the members this client's later edits
//     set again, so it never overwrites them; one left with nothing is
//     reported with CodeSuperseded (supersede.go). An edit resent after a
//     lost connection and refused UNAVAILABLE goes again under the same id
//     (its first copy may still be decided elsewhere).
//   - Window: at most 32 edits of a document (revision.MaxOutcomes) are
//     sent and unanswered at once; the others wait their turn, so the
//     outcomes a JOIN answer carries always cover every edit in flight.
//   - Acknowledgement: the echo is reported as a ChangeAck (Local, with
//     the ReqID and the revision it committed as); other clients' edits
//     are ChangeRemote.
//   - Resume: after a reconnect every document is re-joined with its
//     (epoch, rev); the answer's ackedReqId (the server's watermark) and
//     outcomes sort the pending edits: above the watermark they are resent
//     as they are; at or below it, an outcome says committed (a ChangeAck)
//     or refused (handled as if the ERROR had arrived); one without an
//     outcome (older than the server keeps) and not seen committed is
//     re-issued under a new id after a deltas answer, and after a snapshot
//     answer re-issued or dropped as Options.ReissueUnknown decides
//     (PROTOCOL.md §6.8).
//
// # Goroutines
//
// A Client runs: one goroutine that owns the connection (it reads,
// dispatches and reconnects), one writer per connection (it drains a
// bounded send queue and sends heartbeats), and one event goroutine that
// runs the application's callbacks (OnChange, OnReject, OnPresence,
// OnMessage, OnState, OnRevoked) in order, never under a lock. With
// Options.TokenSource and a token that expires, one refresher per
// connection sends AUTH.REFRESH before exp (it ends with the connection).
// Short-lived timer goroutines delay retries. Close stops and waits for all
// of them.
//
// All state is guarded by one lock per Client; nothing blocks while
// holding it: sends only queue. A full send queue closes the connection
// rather than blocking the caller; the resume then resends what was lost.
//
// # Traps
//
//   - Callbacks run on the event goroutine: a slow callback delays later
//     callbacks (never the connection). They may call the client, and
//     even wait for it (Call, Settled), but must not call Close, which
//     waits for the event goroutine to finish.
//   - Doc.View returns a copy: editing it changes nothing. Numbers are
//     json.Number, so that they keep their exact text.
//   - An edit that does not apply to the view is refused at once by
//     Patch; an edit that stops applying after a rebase stays pending
//     until the server refuses it.
//   - Edits made while disconnected wait in the queue and are sent after
//     the next JOIN answer; RPCs and room messages are not queued
//     (ErrNotConnected).
//   - Two processes must never use the same ClientID at once: the server
//     keeps one connection per id and closes the older with 4409, after
//     which that client stops (Done, Err). Each connection attempt sends
//     "attempt", a value from the request-id source, so an older attempt
//     the network delayed cannot replace a newer connection.
//   - The ClientID is private: whoever presents it acts as this client.
//     Operations, presence and room messages name clients by their author
//     id (Client.AuthorID); show that one, never the ClientID.
//   - Pending edits live in memory: Close, or the end of the process,
//     loses those not yet acknowledged.
//   - Each view change recomputes the view from the confirmed state
//     (a copy of the document), which is simple and exact but costs the
//     document's size per change.
package client
