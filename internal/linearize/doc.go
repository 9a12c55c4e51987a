// Package linearize checks that syncd serves one document linearizably:
// that every history of commits and reads that clients observed could have
// happened one operation at a time, in an order that respects real time
// (an operation that returned before another was invoked comes first).
//
// Vocabulary:
//   - Model: the sequential specification of one document as this package
//     exercises it. Every commit sets one top-level key no other commit
//     sets (a merge patch {"<key>": true}), so a state is (epoch, rev, the
//     set of keys), a commit moves (rev, keys) to (rev+1, keys ∪ {key}) and
//     returns rev+1, and a read returns the state. A commit answered with
//     any other revision, a key applied twice, or a read of a state the
//     order cannot reach, is a violation.
//   - Recorder: collects operations (invoke and return, with timestamps of
//     one monotonic clock) from any number of goroutines. A commit whose
//     outcome the client never learnt is recorded as unknown: it may have
//     taken effect at any point after its invocation, or not at all.
//   - Workload: concurrent SDK writers and readers (reads through the HTTP
//     API's GET and through JOIN) against one or several syncd instances
//     (base URLs), which returns the recorded history.
//   - Require: checks a history with github.com/anishathalye/porcupine and
//     fails the test with a visualization (an HTML file in t.TempDir())
//     when it is not linearizable.
//
// Use against one instance or a cluster (the workload spreads clients over
// the URLs, and each fails over to the others):
//
//	h, err := linearize.Run(ctx, linearize.Workload{
//		URLs: []string{n1.URL, n2.URL, n3.URL}, Doc: "hot", APIKey: key,
//	})
//	if err != nil {
//		t.Fatal(err)
//	}
//	linearize.Require(t, h)
//
// Traps: the model assumes nobody else writes the document during the run
// (its initial state is read once, before recording starts), and that
// edits commit without conflicts (each writes its own key, so the rebase
// policy never refuses them). Return timestamps are taken when the client
// observes the answer, a little after the server sent it: that widens
// intervals, which can hide a violation but never invent one.
package linearize
