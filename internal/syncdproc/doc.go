// Package syncdproc runs the real syncd program as a child process for
// tests: built once per test binary without the race detector (so that its
// memory and speed are those of a release build), started on 127.0.0.1:0
// with the flags a test passes, and stopped or killed by the test.
//
// Attack and failure tests use it to check what only a separate process
// shows: that the process is still up, how much memory it holds (its RSS),
// and that it survives or recovers from a signal. In-process tests keep
// using cmd/syncd's Main or server.New directly.
package syncdproc
