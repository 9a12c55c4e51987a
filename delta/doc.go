// Package delta edits JSON documents held in memory: it applies JSON Patch
// (RFC 6902) and JSON Merge Patch (RFC 7396) in place, says which paths each
// edit touched so the engine can tell whether two edits conflict, compacts
// runs of patches, and measures encoded sizes. It is pure functions and data;
// it uses the standard library only (and syncd's internal/jsonkit, which
// does too), and it does no locking: the engine holds one lock per document
// around Apply and Undo.
//
// # Vocabulary
//
// A document is a JSON value in the model Decode produces: map[string]any,
// []any, string, json.Number, bool and nil. Encode writes it canonically
// (compact, members sorted by name, no HTML escaping). Decode and the patch
// parsers share a hand-written decoder (decode.go, for speed) that accepts
// and builds exactly what encoding/json would; a change to it must keep
// FuzzDecodeMatchesEncodingJSON passing. Its strings and numbers are
// scanned, unquoted and escaped by internal/jsonkit, the toolkit it shares
// with the wire protocol (so both escape strings alike); its error texts
// are its own, worded as encoding/json words them.
//
// A patch ([Patch]) is a parsed JSON Patch or merge patch. Parsing checks
// everything that does not depend on a document; Apply checks the rest.
//
// A path set ([PathSet]) is the set of JSON Pointers an applied patch
// touched, computed against the document as the patch was applied. A path
// that passes through an array is cut at the array ("/list/3/title" is
// recorded as "/list" when "/list" is an array), because inserting or
// removing an element moves the others. Two path sets overlap when a path of
// one is equal to, or a token-wise prefix of, a path of the other; edits with
// overlapping path sets conflict. The root "" overlaps everything.
//
// # Laws
//
//   - Atomicity: Apply either succeeds or leaves the document exactly as it
//     was. Change.Undo reverts a successful Apply exactly.
//   - Cost proportional to the patch: Apply walks only the paths the patch
//     names. It never copies, re-encodes or measures the whole document, so
//     a one-member edit costs the same in a 1 KB and a 1 GB document. The
//     exceptions are inherent and bounded by what the patch names: arrays it
//     inserts into or removes from are shifted, and values it removes,
//     replaces, copies or tests are measured, copied or compared.
//   - Exact size: Change.SizeDelta is Size(after) - Size(before), so the
//     engine can keep a document's encoded size current without encoding it.
//     Size(v) == len(Encode(v)). The same running count enforces a Budget:
//     an operation's effect on the size is known before it is made.
//   - Determinism: Encode depends only on the value, never on map iteration
//     order, so the same document always encodes to the same bytes; Apply's
//     effects and path sets do not depend on map order either.
//
// # Traps
//
//   - Numbers are json.Number, kept as their text: 1.0 stays 1.0 and large
//     integers keep every digit. Equal compares numbers by value (1 == 1.0 ==
//     1e0, 0 == -0), exactly, without float64 rounding. Do not put float64
//     or int in a document: Encode rejects them and Size returns -1.
//   - Values from a patch are cloned when inserted, so a Patch can be applied
//     to many documents and the document never aliases the patch. Values a
//     caller puts into a document must likewise not be shared with another
//     document: Apply edits containers in place.
//   - A Change refers into the document it was applied to. Undo is valid only
//     while the document has not changed since (or has only been rolled back
//     to that point by Undo of later Changes, in reverse order). Drop Changes
//     you no longer need: their undo logs keep removed values alive. Their
//     Paths do not refer to the Change and may be kept. A caller applying
//     patch after patch (the engine, per document) can reuse one Change with
//     ApplyTo, and Reset it once Undo is no longer needed.
//   - Patch.Release recycles a parsed patch's memory for later parses: call
//     it only when nobody holds the patch any more. What it was applied to
//     is unaffected.
//   - Merge patches never fail (except over a Budget), and a null member
//     deletes: there is no way to set a member to null with a merge patch.
//   - Apply trusts the patch to stay reasonable: a patch from someone else
//     goes through ApplyWithin, whose Budget bounds the document's size and
//     depth at every step, before anything is cloned into it, and the
//     bytes of the document the patch walks. A patch of copies can
//     otherwise double the document per operation, a value can nest
//     deeper than decoders will read back, and copying and removing half
//     the document a thousand times stays small but takes long.
//   - A merge patch {} touches nothing when the document is an object, but
//     replaces a document that is not an object with {} (RFC 7396).
//   - Two ways to combine a run of patches: Compactor works forwards on
//     parsed patches of both kinds; ComposeMerge works backwards on the
//     text of merge patches only, copying the values no later patch
//     overrode, and is the faster where it applies. Either says when it
//     cannot combine; neither ever changes what the run does.
package delta
