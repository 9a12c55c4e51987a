// Command syncbench is syncd's load generator. It speaks the raw syncd/1
// protocol (PROTOCOL.md §4–§6) over real WebSockets with
// gorilla/websocket, not the Go SDK in client/: a load generator must cost
// as little CPU per received message as possible, so it never decodes a
// whole SYNC.DELTAS, it scans the frame for the few fields it needs.
//
// Workloads (each with a warm-up, a fixed measured duration and -runs
// repetitions whose medians are reported):
//
//	syncbench fanout  -server syncd,relay -subs 100,1000
//	syncbench writers -server syncd,relay -clients 10,100 -store bolt,memory
//	syncbench idle    -server syncd -n 2000,10000
//	syncbench catchup -server syncd -n 10,1000,100000
//	syncbench relay   -addr 127.0.0.1:0
//
// Common flags: -runs 3 -warmup 2s -duration 5s -out results.json
// -syncd-bin PATH (default: go build ./cmd/syncd) -pin=true -window 64
// -edit-bytes 100 -cpuprofile FILE (the generator's own profile: a
// generator near one core of CPU, reported as generatorCpuSec, is the
// bottleneck and the server's rate is a lower bound).
//
// fanout: one document, N subscribers, one writer sending ~100-byte merge
// patches with at most -window unacknowledged (the acknowledgement is the
// writer's own operation echoed in SYNC.DELTAS). Every delivery is counted
// at the subscriber that received it; the latency is the time from the
// writer's send (stamped in the edit under the key "~") to each receipt. After the
// measured window the writer stops and the run waits until every subscriber
// has every operation, so a lost delivery is reported, not inferred away.
//
// writers: M clients in one document, each in a closed loop (send, wait for
// its own operation to come back, repeat). With -docs D the clients are
// spread over D documents (client i edits document i mod D): with D = M
// nobody receives another's edits, and the run measures the commit path
// with one append in flight per document instead of the fan-out.
//
// idle: C connections each joined to one of 20 documents; the server's RSS
// growth per connection, and from syncd's /metrics the goroutines, heap
// and stack per connection (where that memory goes).
//
// catchup: a document of 1,000 keys (~100 KB) edited with ~100-byte edits;
// a client rejoins N revisions behind: time to the head, bytes received,
// and whether deltas (compacted or not) or a snapshot came, against a fresh
// JOIN's snapshot. -keys says which keys the edits behind touch: roundrobin
// (the default; 1,000 edits rewrite every key once, though only each
// key's stamp changes) or random (uniform, fixed seed).
//
// syncd is started with -rate, -update-rate and -queue-bytes raised
// (syncdFlags): its per-connection flood guards are meant for people, and
// one benchmark writer exceeds them at once.
//
// relay: a minimal broadcast relay, the transport's ceiling. Each message
// it receives is encoded once (websocket.PreparedMessage) and queued to
// every connection; each connection's writer goroutine writes everything
// queued into a buffered writer under the connection and flushes once, so
// N queued messages cost one system call. It counts messages and flushes
// and serves them at /stats, which the benchmark reports (messages per
// write shows that it coalesces). Its "commit" is the writer seeing its own
// message come back.
//
// The server under test runs as a separate process (syncd from -syncd-bin,
// or built with `go build`; the relay is this binary re-executed), pinned
// to CPU 0 with taskset while the generator pins itself to CPU 1, so that
// the server's CPU time (utime+stime from /proc/<pid>/stat) and RSS
// (VmRSS) are its own. Results go to -out as JSON and to stdout as a
// table.
package main
