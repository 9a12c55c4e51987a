// Package jsonkit is the JSON toolkit that the wire protocol (protocol),
// the document model (delta) and the engine share: the byte-level scanning
// of strings and numbers, the unescaping of string bodies, the escaping of
// strings for output, and the validating [Scanner] the protocol's message
// decoders are built on.
//
// Why hand-written rather than encoding/json: the decoders read typed
// structs and patches straight from the bytes in one pass, with no
// reflection and errors that name the field they are about; and the hot
// loops (strings and digits, which are most of the bytes of a document or
// a SYNC.SNAPSHOT) test eight bytes at a time, which encoding/json does not.
// It is standard library only, so that protocol and delta stay lean.
//
// What is here:
//   - plain.go: [PlainEnd], [PlainEndString] and [DigitsEnd], the
//     eight-bytes-at-a-time (SWAR) searches the scanners spend their time in.
//   - string.go: [ScanString], which checks a string and says whether its
//     body needs unquoting; unquote.go: [AppendUnquoted], which decodes it.
//   - number.go: [ScanNumber], the RFC 8259 number grammar.
//   - quote.go: [AppendString] and [StringSize], strings escaped as
//     encoding/json escapes them.
//   - fault.go: [Fault], what ScanString and ScanNumber found wrong, which
//     each caller turns into its own error text.
//   - scanner.go: [Scanner], a strict validating reader of JSON values.
//   - space.go: [HasSpace], whether valid JSON has white space to compact.
//
// The tests compare the fast paths with the byte-at-a-time code they
// replaced (ref_test.go, FuzzScanner) and with encoding/json.
package jsonkit
