// Package testenv is the one test environment of syncd's packages: a real
// server on 127.0.0.1 and real clients dialing it over real sockets, built
// the same way for the tests of server/, router/, client/ and examples/.
//
//   - [Start] runs a syncd server (an engine over a store, server.New,
//     an httptest listener on 127.0.0.1) and [Serve] any other handler (a
//     bare router, an embedding application); both stop when the test
//     ends, in order: connections, server, engine, store.
//   - [DialWS] opens a raw WebSocket that speaks the envelope as ws-kit's
//     client does (meta.timestamp on everything it sends) and hands every
//     frame it receives to a check of the caller's (the server's wire
//     schemas, the router's strict envelope).
//   - [DialClient] and [Join] use the Go SDK with a backoff fit for tests.
//
// Tests only: scripts/check-imports.sh gives no package a rule that lets
// it import testenv, so only _test.go files can. Every wait is bounded
// ([Timeout], [CallTimeout]); every goroutine and connection it starts is stopped by the
// test's cleanup, so the packages' goleak checks hold.
package testenv
