// Package schema checks documents against JSON Schemas (draft 2020-12)
// chosen by document-id prefix, as the engine's validation hook: an edit
// that would leave a document invalid is refused with the place and the
// rule it breaks.
//
// Validation runs under the document's lock on every commit, so it checks
// only what an edit touched when the schema allows it: see partial.go. The
// first edit of a document after it is loaded is checked whole (nothing
// says what the store held is valid), which for a 1 MB document takes a
// few hundred milliseconds (BENCHMARKS.md); so does every edit when the
// schema's top level rules the shortcut out.
//
// The schema library lives here alone, so that the engine, the wire and
// the SDKs never link it (scripts/check-imports.sh).
package schema
