package client

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"

	"github.com/deltasync/syncd/delta"
)

// An edit re-issued under a new id (after a retryable refusal, or after a
// reconnect that showed it was never applied) is applied after the edits
// its client made later and that went through meanwhile: with several
// edits in flight, a transient failure can refuse the first of them and
// let the rest pass. Re-applied as it was, an earlier edit would then
// overwrite what its own client wrote after it (a title typed "a", "ab",
// "abc" ending as "ab"). So before a merge patch is re-issued, the members
// that a later edit of the same client in the document set again are taken
// out of it (supersede), and an edit left with nothing is dropped and
// reported with CodeSuperseded: its effect was overwritten by its own
// client anyway. A JSON Patch is
// re-issued as it is: its operations (an append to an array, say) do not
// have one meaning once reordered, so the client cannot take them apart.

// maxOwnEdits bounds the acknowledged edits a document remembers for
// supersede. Only those made after the oldest pending edit can matter
// (an edit is re-issued only while pending), and rememberOwnLocked keeps
// no others; the bound is for a client that edits very fast while an old
// edit waits out a long backoff.
const maxOwnEdits = 1024

// write is one member an edit sets: its path (JSON Pointer tokens), and
// whether the edit made it an object (a merge patch's object member)
// rather than setting, replacing or removing it.
type write struct {
	path []string
	obj  bool
}

// ownEdit is one acknowledged edit of this client, by creation order
// (edit.seq); what it set is worked out only when an edit is re-issued,
// which is rare.
type ownEdit struct {
	seq   uint64
	raw   json.RawMessage
	merge bool
}

// writesOf returns the members raw sets: a merge patch's leaves (and its
// object members, as obj), or a JSON Patch's target paths.
func writesOf(raw json.RawMessage, merge bool) []write {
	if merge {
		return mergeWrites(raw, nil, nil)
	}
	var ops []struct {
		Op   string `json:"op"`
		Path string `json:"path"`
		From string `json:"from"`
	}
	if json.Unmarshal(raw, &ops) != nil {
		return nil
	}
	var out []write
	for _, o := range ops {
		switch o.Op {
		case "add", "replace", "remove", "copy":
			out = append(out, write{path: pointerTokens(o.Path)})
		case "move":
			out = append(out, write{path: pointerTokens(o.From)}, write{path: pointerTokens(o.Path)})
		}
	}
	return out
}

func mergeWrites(raw json.RawMessage, prefix []string, out []write) []write {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return out
	}
	for k, v := range m {
		p := append(slices.Clip(prefix), k)
		if firstByte(v) == '{' {
			out = append(out, write{path: p, obj: true})
			out = mergeWrites(v, p, out)
			continue
		}
		out = append(out, write{path: p})
	}
	return out
}

// pointerTokens splits a JSON Pointer (RFC 6901) into its unescaped
// tokens; "" is the whole document (no tokens).
func pointerTokens(ptr string) []string {
	if ptr == "" {
		return []string{}
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, t := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts
}

// hasPrefix reports whether prefix is a prefix of p (or equal to it).
func hasPrefix(p, prefix []string) bool {
	return len(prefix) <= len(p) && slices.Equal(p[:len(prefix)], prefix)
}

// supersede returns merge patch raw without the members that later writes
// set again: a member at or below a path set, replaced or removed later;
// a member that is not an object where a later write set something inside
// it or made it an object. left is false when nothing is left.
func supersede(raw json.RawMessage, later []write) (out json.RawMessage, left bool) {
	if len(later) == 0 {
		return raw, true
	}
	out, empty := supersedeAt(raw, nil, later)
	return out, !empty
}

func supersedeAt(raw json.RawMessage, prefix []string, later []write) (json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw, false // not an object: leave it to the server
	}
	changed := false
	for k, v := range m {
		p := append(slices.Clip(prefix), k)
		covered, inside := false, false
		for _, w := range later {
			if !w.obj && hasPrefix(p, w.path) {
				covered = true
				break
			}
			if len(w.path) > len(p) && hasPrefix(w.path, p) || w.obj && slices.Equal(w.path, p) {
				inside = true
			}
		}
		switch {
		case covered, inside && firstByte(v) != '{':
			delete(m, k)
			changed = true
		case inside:
			sub, empty := supersedeAt(v, p, later)
			if empty && !isEmptyObject(v) {
				delete(m, k)
				changed = true
			} else if !bytes.Equal(sub, v) {
				m[k] = sub
				changed = true
			}
		}
	}
	if !changed {
		return raw, len(m) == 0
	}
	// encoding/json writes the members in key order; a merge patch's
	// meaning does not depend on it.
	b, err := json.Marshal(m)
	if err != nil {
		return raw, false
	}
	return b, len(m) == 0
}

func isEmptyObject(v json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(v, &m) == nil && len(m) == 0
}

// rememberOwnLocked records what an acknowledged edit of this client set,
// for supersede.
func (d *Doc) rememberOwnLocked(e *edit) {
	oldest := uint64(math.MaxUint64) // of the pending edits other than e
	for _, p := range d.pending {
		if p != e {
			oldest = min(oldest, p.seq)
		}
	}
	if e.seq < oldest {
		// No pending edit is older: nothing re-issued can come before it.
		d.ownEdits = d.ownEdits[:0]
		return
	}
	keep := d.ownEdits[:0]
	for _, o := range d.ownEdits {
		if o.seq > oldest {
			keep = append(keep, o)
		}
	}
	if len(keep) >= maxOwnEdits {
		keep = append(keep[:0], keep[1:]...)
	}
	d.ownEdits = append(keep, ownEdit{seq: e.seq, raw: e.raw, merge: e.merge})
}

// supersedeLocked prepares e, about to be re-issued under a new id: a
// merge patch loses the members that its client's later edits (pending,
// or acknowledged) set again. It reports false when nothing is left, and
// e is then to be dropped.
func (d *Doc) supersedeLocked(e *edit) bool {
	if !e.merge {
		return true
	}
	var later []write
	for _, o := range d.ownEdits {
		if o.seq > e.seq {
			later = append(later, writesOf(o.raw, o.merge)...)
		}
	}
	for _, p := range d.pending {
		if p != e && p.seq > e.seq {
			later = append(later, writesOf(p.raw, p.merge)...)
		}
	}
	raw, left := supersede(e.raw, later)
	if !left {
		d.rejectLocked(Rejection{ReqID: e.id, Code: CodeSuperseded, Message: "not applied, and not re-issued: this client's later edits of the document set again all it set", Patch: e.raw})
		return false
	}
	if !bytes.Equal(raw, e.raw) {
		if p, err := delta.ParseMergePatch(raw); err == nil {
			e.raw, e.patch = raw, p
		}
	}
	return true
}
