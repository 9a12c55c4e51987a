// Package natsnode runs a NATS server node inside the syncd process, or
// connects syncd to NATS servers run by someone else, so that the store
// (store/natsstore) gets a *nats.Conn to a JetStream it can rely on.
//
// Two ways, one result:
//
//   - Embedded ([Start]): a NATS server from the nats-server Go module runs
//     in this process with JetStream on, its files under Options.DataDir.
//     Nodes that list each other's cluster addresses (Options.Peers) form a
//     cluster over authenticated routes. The store connects in process
//     ([Node.Connect]); the node opens no client port at all.
//   - External ([Connect]): syncd dials the operator's NATS servers and
//     checks, before anything is written, that they can hold what syncd
//     writes (server version, JetStream, max_payload).
//
// Vocabulary. A node is one NATS server; its name (Options.Name) is its
// identity in JetStream's Raft groups, so it must be unique in the cluster
// and the same across restarts: without one, a name is generated on the
// first start and kept in a file in the data directory (nodename.go). Routes
// are the connections between the nodes of a cluster, on the cluster
// address (Options.ClusterListen). The meta leader is the node that decides
// JetStream's streams and placements; until the cluster has elected one,
// no stream can be created or looked up, so [Start] waits for it.
//
// Traps:
//
//   - Elections take seconds, and a cluster node cannot elect a meta leader
//     alone: the first node of a new cluster waits in Start until a quorum
//     of its peers is up (bounded by Options.StartTimeout). Start nodes of
//     one cluster concurrently, not one after the other in one goroutine.
//   - JetStream's default is to fsync every two minutes; an embedded node
//     syncs every write before acknowledging it (SyncAlways). External
//     servers do what their operator configured (docs/guarantees.md).
//   - NATS refuses messages larger than max_payload (1 MB by default), less
//     than a 1 MiB document plus headers: the embedded node raises it from
//     Options.MaxDocBytes ([MaxMessageBytes]); Connect refuses servers whose
//     limit is too small.
//   - Nothing here stops two processes from using one data directory except
//     the lock Start takes on it (lock_unix.go).
package natsnode
