// Package server puts the engine on the network: it is where the engine
// (package syncd, which knows documents and nothing of sockets) and the
// router (package router, which knows WebSocket connections and typed
// messages and nothing of documents) meet. A [Server] is an http.Handler:
// the sync protocol of PROTOCOL.md at /ws, the HTTP API at /v1/, health at
// /healthz and /readyz, Prometheus metrics at /metrics, the browser client
// at /syncd.js with a demo page at /, and the admin page at /admin when a
// key turns it on.
//
// # What it owns, and what it does not
//
// The server owns its router and the per-connection state of the sync
// service (a session: the documents a connection joined, its rate limits,
// its token's expiry). It does not own the engine: build the engine, then
// the server ([New]); shut the server down ([Server.Shutdown]), then close
// the engine. It keeps a copy of [Options] and changes nothing the caller
// gave it; [Metrics] are counted into, one Metrics per server.
//
// # The life of a connection
//
//  1. Upgrade: the router checks the Host, the Origin, the connection caps
//     and the client id's owner, then the server's authentication hook
//     (handlers.go, auth.go) verifies the token and makes the session.
//  2. HELLO: the open hook greets the client with its author id and the
//     limits in force (Server.limits, the HELLO.limits of PROTOCOL.md).
//  3. Messages: every handler runs on the connection's reader goroutine,
//     in order (handlers.go). JOIN makes the connection a member of the
//     document: one entry in the session, holding one engine subscription,
//     whose sink (session.go, joined.deliver) is the only way anything of
//     the document reaches the connection. It turns the catch-up, which the
//     engine hands over as one event, into the JOIN's answer, and every
//     later event — operations, presence changes, room messages — into the
//     same frames for every member, encoded once, in one order per
//     document. UPDATE is decided on the reader with Engine.CommitAsync
//     and answered from the engine's committer once durable: the echo in
//     SYNC.DELTAS, and UPDATE.OK for an RPC. A refusal is an ERROR with the
//     edit's {doc, clientReqId, serverRev}. A PUBLISH to a document goes
//     through the engine too (Engine.PublishRoom), and in a cluster over
//     the bus to the other instances' members (cluster_rooms.go); only the
//     application's topics (SUBSCRIBE, PUBLISH to a topic) use the
//     router's broker.
//  4. Close: the close hook ends the session's memberships (as LEAVE
//     does: session.endMembership, the one way a membership ends) and
//     waits for any resync it started (a subscription the engine dropped
//     after a store failure is re-joined from the last position
//     delivered, on a goroutine of its own).
//
// # Where to look
//
//   - wire.go: the one place engine values (operations, events, outcomes,
//     documents) become wire values; wire_errors.go: engine errors become
//     wire errors and HTTP statuses, and the details of a refused edit.
//   - handlers.go: the sync protocol's handlers; session.go: a
//     connection's memberships and the subscription sink.
//   - cluster*.go: what the instances of a cluster tell each other over
//     the Bus (room messages, presence, connection claims).
//   - httpapi.go: the HTTP API, with the same rules as the WebSocket path.
//   - options.go: every option and limit with its default; the router's
//     transport limits are passed through in server.go.
//   - auth.go, jwtverify.go, jwks.go, permissions.go, pattern.go,
//     authrefresh.go, owners.go: who may connect and do what.
//   - doccreation.go, roomlimits.go, httpbounds.go, hosts.go: the bounds
//     that keep one client from costing the others.
//   - metrics.go, admin*.go: what an operator sees.
//
// docs/threads.md says which goroutine runs what and which locks there are;
// docs/architecture.md follows an edit through the packages.
//
// # Traps
//
//   - A subscription sink runs under the engine's delivery lock (from the
//     committer, or from the reader or bus goroutine that set presence or
//     published a room message): it only queues bytes on the connection
//     (which never blocks: an overflowing queue closes the connection,
//     and a room message past RoomQueueBytes is dropped) and must not call
//     the engine; resync starts a goroutine for that reason.
//   - Live events are shared by every subscriber: encodeShared encodes
//     each once (Event.Memo) and nothing may modify them.
//   - The wire never shows a client id, which is the client's key to its
//     watermarks: operations and presence carry author ids (author.go).
package server
