// Package router is a general, typed WebSocket message router: it accepts
// connections, dispatches their messages to handlers by type, and sends
// messages to one connection or, through topics, to many. It speaks
// ws-kit's envelope and error conventions (package protocol) and knows
// nothing of documents: syncd's sync service is one application of it, the
// seed's presence example another.
//
// # Vocabulary
//
//   - [Router]: an http.Handler that upgrades requests to connections, and
//     holds the routes, the middleware, the connection registry and the
//     [Broker]. Build it with [New] and [Options]; register routes; serve;
//     end with [Router.Shutdown].
//   - Route: a message type and its handler. [Handle] registers a typed
//     handler (the payload is decoded strictly into a Go type and
//     validated), [HandleRPC] a request/response one, [Router.HandleFunc] a
//     raw one. [Middleware] wraps routes, globally ([Router.Use]) or per
//     route, and can stop the chain by returning an error.
//   - [Conn]: one client connection, one per client id (a newer connection
//     with the same id replaces the older, which is closed with
//     CloseReplaced; "newer" by the "attempt" query parameter when both
//     carry one, so a stale attempt is closed instead, attempt.go). Send,
//     SendFrame, Close, Subscribe, Set/Get: all safe from any goroutine,
//     none blocking on the network.
//   - [Ctx]: one inbound message being handled, with the means to answer:
//     Reply (the terminal answer, echoing the correlationId), Progress
//     ($ws:rpc-progress), Error (ERROR or RPC_ERROR). One terminal answer per
//     message; a handler's returned error is that answer if none was sent.
//   - [Frame]: an encoded message, immutable and shareable: a broadcast is
//     encoded once and the same Frame queued on every connection.
//   - [Broker]: carries frames published on a topic to its subscribers;
//     [MemoryBroker] within a process.
//
// Bad input is answered, never obeyed and never ignored: invalid JSON, a
// non-object, a missing type, a bad envelope field, a reserved type ("__"
// or "$" prefix, other than ws-kit's "__heartbeat") and a payload that
// fails decoding or validation are INVALID_ARGUMENT naming the field; an
// unknown type is UNIMPLEMENTED (ws-kit's choice: it tells version skew
// from a missing resource); a binary frame is INVALID_ARGUMENT; a message
// over the flood guard's rate is RESOURCE_EXHAUSTED with retryAfterMs. The
// connection stays usable. Only these close it: a message over
// MaxMessageBytes (1009), a message not completed within MessageTimeout or
// over the shared budget of partly received bytes, MaxPartialBytes (1013,
// see partial.go), and sustained flooding (CloseFlood).
//
// Upgrades past MaxConns, or past MaxConnsPerAddr from one client address
// (Options.ClientAddr), are refused with HTTP 503 and Retry-After
// (conncap.go). Droppable frames ([NewDroppableFrame]) are best-effort:
// past DroppableQueueBytes they are dropped for a connection, never
// overflowing its queue.
//
// # Goroutines and who owns what
//
// Each connection has one goroutine at any time, its reader, and a writer
// only while something is queued:
//
//   - The reader (started by ServeHTTP, counted in the router's WaitGroup)
//     takes over the client id, runs OnOpen, then reads messages and runs
//     their handlers one at a time, in order; a slow handler delays only
//     its own connection. When the connection ends it stops the writer,
//     closes the socket, leaves the registry and the topics, cancels the
//     connection's context, and runs OnStale and OnClose. It owns the flood
//     guard's state and the read buffer.
//   - The reader is one goroutine at a time, not always the same one: when
//     it has read everything that arrived, it starts a goroutine that waits
//     on a shallow stack until more arrives, and goes to wait for any
//     connection's input (see reader.go for why). That goroutine then hands
//     the reading to a reader goroutine waiting so (at most 16, which leave
//     after 100 ms without work or at Shutdown), or reads on itself.
//   - The writer is started by the send that finds the queue non-empty and
//     no writer running, and exits when it finds the queue empty; the
//     reader waits for it before cleaning up. It owns the network writes:
//     each pass takes everything queued and writes it in one system call.
//   - The router's heartbeat goroutine (started with the first connection,
//     stopped by Shutdown) visits every connection each HeartbeatInterval:
//     it pings those it has not heard from for half an interval and closes
//     those silent past HeartbeatTimeout. Connection liveness is one atomic
//     time per connection, the last frame read, set by the reader.
//
// State: a Conn's mu guards its queue, its closing state and its values,
// and is never held across I/O; its subMu serialises topic changes; the
// Router's mu guards the registry; the connection counter's mu guards the
// counts of the connection caps (conncap.go; taken alone, by ServeHTTP and
// by a connection's final cleanup); a Ctx's mu orders its answers. The
// bytes of partly received messages are one atomic counter of the Router
// (partial.go), and a message's deadline state is the reader's. Locks
// nest only as Ctx.mu → Conn.mu (an answer is queued under the Ctx's lock)
// and Conn.subMu → the broker's lock; the heartbeat and Shutdown take a
// snapshot of the registry and release Router.mu before touching
// connections.
// Shutdown closes every connection with 1001 and waits for every reader
// (and so every writer), every goroutine waiting for a connection's input,
// and the heartbeat goroutine.
//
// # Who may connect
//
// Before upgrading, ServeHTTP checks the Host against Options.AllowedHosts
// (HTTP 421; the default lets a connection made to a loopback address name
// only localhost, 127.0.0.1 or [::1], which defeats DNS rebinding), then
// the Origin (403: same scheme, host and port as the server, or listed in
// AllowedOrigins), then the credentials. Behind a reverse proxy the
// scheme, host and client address come from X-Forwarded-* headers, believed
// only from Options.TrustedProxies; [ClientAddr] is the one function that
// says which address a request comes from (hosts.go, origin.go,
// proxies.go). [AllowedHost] and [RefuseHost] let a program guard its other
// HTTP routes the same way.
//
// # Performance by design
//
// A Frame is encoded once and shared; queuing it costs a connection a
// pointer. Messages that pile up while a write is in progress are written
// together: the router frames them itself into one pooled buffer and writes
// that in one call on the connection's socket (gorilla/websocket would make
// one system call per frame; gorilla still reads, and writes its own few
// control frames). An idle connection holds no write buffer and no read
// buffer (both pooled: the read buffer goes back whenever everything that
// arrived has been read), no writer goroutine, no timer (one heartbeat
// goroutine serves all), no context or Done channel until it needs one
// (the flood guard is two numbers in the Conn), and one goroutine, waiting
// for input on a 2 KiB stack: about 3.7 KiB in all, half of it that stack
// (see BenchmarkIdleConnMemory).
// Over TLS, or with a ReadBufferSize of 256 bytes or less, the reader
// cannot tell whether gorilla has input buffered: it waits in gorilla's
// read path, and keeps its read buffer and a stack of 4 KiB or more.
//
// # Traps
//
//   - Handlers run on the connection's reader goroutine: while one runs, the
//     connection reads nothing else (that is what keeps messages in order).
//     It is not always the same goroutine from one message to the next.
//     Long work belongs elsewhere; a Ctx stays usable after the handler
//     returns, so the answer can come later from another goroutine.
//   - Hooks that run on a sender's goroutine (OnQueueFull) or a broker's
//     (Subscriber.Deliver) must not block.
//   - A payload (Ctx.Payload and the json.RawMessage fields of decoded
//     payloads) is the message's own copy: keep it if you like, never
//     modify it. A Frame's bytes are shared: never modify them.
//   - Send order is per connection: the order of Send/SendFrame calls (from
//     one goroutine) is the order the client receives. Nothing orders sends
//     from different goroutines.
//   - A send fails with ErrQueueFull rather than wait; by default the
//     connection is then closed as a slow consumer (CloseSlowConsumer), so
//     the client reconnects and catches up. QueueBytes must exceed the
//     largest burst a healthy client receives.
//   - A browser that offers only the "bearer.<token>" subprotocol gets no
//     subprotocol back (the token is never echoed), which some browsers
//     reject: such clients should also offer a real subprotocol, or use
//     access_token.
//   - Register every route before serving: the first request freezes them.
package router
