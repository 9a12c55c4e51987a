// Package presence is the seed's "meeting participants" app — the
// delta-sync example of ws-kit — rebuilt from syncd's parts: the general
// message router (package router) carries the seed's own wire messages,
// and the sync engine (package syncd, embedded, over store/memstore) orders,
// stores and replays the changes. It shows that the router knows nothing of
// syncd's protocol and that the engine can live inside another program.
//
// Run it with go run ./examples/presence/cmd/presence (see README.md), or
// mount [App.Handler] in a program of your own.
//
// # The wire (the seed's messages, ws-kit's envelope)
//
// Client to server, each a {"type", "meta"?, "payload"} envelope:
//
//	JOIN      {participantId, name, rev?}   enter the meeting (again)
//	UPDATE    {patch, baseRev?, clientReqId} change your own participant
//	LEAVE     {}                            leave the meeting
//	HEARTBEAT {}                            keep-alive (any frame counts)
//
// Server to client:
//
//	SYNC.SNAPSHOT {rev, participants}
//	SYNC.DELTAS   {fromRev, toRev, operations: [{rev, type, payload, clientReqId?}]}
//	REVISION_GAP  {expectedRev, serverRev, bufferFirstRev, resumeFrom}
//	ERROR         {code, message, details?}  (bad input; from the router)
//
// JOIN's rev is this example's one extension of the seed's messages: the
// seed's JOIN has no revision, so a reconnecting seed client always gets a
// snapshot. A client that sends the last revision it applied gets only what
// it missed (SYNC.DELTAS), or, when that is no longer held, REVISION_GAP
// then SYNC.SNAPSHOT. The revision travels in the message rather than being
// remembered per router client id because only the client knows what it
// actually applied (the server knows only what it queued), and because a
// seed client does not keep a client id across reconnects. Without an
// epoch (which the seed lacks) a revision cannot be told apart from one
// of an earlier run of the server: the meeting lives in memory, so after a
// restart clients should join without rev. A rev ahead of the server's is
// answered with REVISION_GAP and a snapshot.
//
// # The document
//
// The meeting is one engine document (Options.Doc, "meeting") whose state
// is the seed's participant map, {"<id>": {id, name, status, lastActive}},
// so a snapshot's participants is the document itself. Every change is a
// JSON Merge Patch of exactly one participant, and the App writes all of
// them; clients never send patches the engine sees unchecked:
//
//	join / re-activate   {"<id>": {"id", "name", "status": "online", "lastActive"}}
//	update               {"<id>": {the changed fields, never "id"}}
//	leave / expiry       {"<id>": null}
//
// [ToOperation] maps each engine operation back to the seed's typed
// operation (participant.joined, participant.updated, participant.left);
// that one function is the whole translation.
//
// Rules: JOIN adds the participant, or re-activates one that is present but
// not online (or renames it); a JOIN that would change nothing (a reconnect
// of an online participant under the same name) commits no revision, so a
// flaky network does not churn the history. A participant can only patch
// itself: UPDATE's patch is a partial participant (name, status, lastActive;
// id only if it is the sender's own), merged into /<id>. Conflicts cannot
// arise between participants, since each writes only its own entry, so the
// document uses the engine's last-writer-wins policy: baseRev is accepted as
// the seed's clients send it and only checked not to be ahead of the
// server. The clientReqId of an UPDATE is echoed in its operation, which is
// the acknowledgement, sent only once the operation is durable.
//
// History: the engine keeps the last Options.History operations (1,024, as
// the seed's ring buffer) in memory, and the store is set to keep fewer, so
// a client further behind than the ring gets REVISION_GAP (bufferFirstRev:
// the oldest revision still held) then SYNC.SNAPSHOT. When the engine
// decides a snapshot is smaller than the deltas a client would need, the
// client gets just the snapshot: the seed's REVISION_GAP means "too far
// behind", which that client is not.
//
// Leaving: LEAVE removes the participant at once (the sender sees its own
// participant.left, then nothing more). A connection found dead by the
// router's heartbeat (OnStale) has its participant removed at once. A
// connection that just closes keeps its participant for
// Options.DisconnectGrace, so that a client that reconnects and JOINs again
// finds itself still there (the seed keeps disconnected participants, for
// ever); after the grace the participant is removed. One connection speaks
// for a participant: a JOIN for a participant held by another connection
// takes it over and closes the older connection (4409, replaced).
//
// # Goroutines and who owns what
//
// The router runs each connection's handlers, and then its close hooks, on
// that connection's reader goroutine; the engine's committer goroutine
// delivers operations (the subscription's sink) and completes commits.
//
//   - App.mu guards the membership table (which connection speaks for which
//     participant, and the pending grace removals), each session's
//     participant id, and closing. Every decision about a participant —
//     join, update, leave, expiry — is made under it, so an update can never
//     land on a participant that was just removed. Deciding is in memory
//     (CommitAsync returns once the edit has its revision; the fsync comes
//     later), so the lock is short; JOIN and removals also read the
//     document under it, which waits for earlier writes to be durable.
//   - Code on the committer goroutine — sinks and commit callbacks — never
//     takes App.mu: a decision under App.mu may be waiting for the
//     committer. Sinks only queue frames on a connection, which never
//     blocks.
//   - A session's subscription belongs to its connection's reader
//     goroutine (JOIN and LEAVE set and close it, OnClose closes it).
//   - Each grace removal is a timer counted in App.timers; Shutdown stops
//     them and waits for any that fired.
//
// Shutdown closes the router first (every connection, and every hook with
// it), then the timers, the engine and the store.
//
// # Traps
//
//   - The meeting lives in memory: a restart empties it (see rev above).
//   - lastActive is set by JOIN from Options.Now and otherwise only by the
//     participant's own UPDATEs; HEARTBEAT does not touch the document.
//   - The router's flood guard (Options.MessagesPerSecond) applies to
//     HEARTBEAT and UPDATE alike.
package presence
