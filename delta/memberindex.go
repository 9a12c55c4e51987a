package delta

import (
	"slices"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// MemberIndex answers, for a history of merge patches, "what changed after
// revision r" as one merge patch, at a cost per member changed rather than
// per patch: a catch-up many operations behind a document whose members
// are rewritten over and over (a list of items, a board of cards) gets
// the newest value of each member that changed, as committed.
//
// It keeps, for every top-level member written by a recent patch, the
// newest patch that wrote it (its revision, and the value's span in its
// text) and since when that patch's value hides every earlier write of the
// member: a value that is not an object hides everything; an object hides
// an earlier object whose members it all sets to non-objects (the same
// item written again, field for field). Changed composes from those
// values when, for every member changed after r, the newest value hides
// all of its writes after r; otherwise it says it cannot, and the caller
// composes the patches themselves (ComposeMerge, Compactor).
//
// Anything else (a JSON Patch, a merge patch that is not an object) makes
// the history before it unanswerable: Invalidate. Members whose newest
// write is older than what the caller still keeps are dropped with Forget,
// so the index holds at most the members of the patches the caller keeps.
//
// Revisions are the caller's, increasing by one per patch. The zero value
// is empty and ready; it is not safe for concurrent use.
type MemberIndex struct {
	byName map[string]*memberEntry
	// The entries in the order of their newest write: oldest first.
	oldest, newest *memberEntry
	// from is the first revision after which Changed may answer: nothing
	// it does not know of happened after from. last is the newest
	// revision added or invalidated.
	from, last uint64
	// scratch is skipShaped's arena, and fieldScratch the fields being
	// read, reused from Add to Add: they are copied into the entry's own
	// buffers, themselves reused when the member is written again, so
	// rewriting known members allocates nothing.
	scratch      composer
	fieldScratch []memberField
}

// memberEntry is a member's newest write.
type memberEntry struct {
	name  string
	rev   uint64 // the newest write
	text  []byte // its value, a span of that patch's text
	leaf  bool   // the value is not an object
	shape []byte // an object's member names (see skipShaped), when hasShape
	// hasShape: shape is known (the value is an object whose names fit).
	hasShape bool
	// fields, when fieldsOK (an object without a repeated name), are the
	// value's members and when each last changed value: a rewrite that
	// sets a field to what it was does not count, so a catch-up sends
	// only the fields that differ (Changed).
	fields   []memberField
	fieldsOK bool
	// visible is the newest earlier write that the newest one does not
	// hide (0: none): Changed answers only from a revision at or after it.
	visible    uint64
	prev, next *memberEntry
}

// Add records the merge patch text committed as revision rev, which must
// be the revision after the previous Add's or Invalidate's. It reads the
// patch's top-level members; a patch that is not an object, or that
// cannot be read (it was applied, so it can), invalidates instead.
func (x *MemberIndex) Add(rev uint64, text []byte) {
	x.last = rev
	d := newDecoder(text)
	defer d.release()
	c := &x.scratch
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		x.Invalidate(rev)
		return
	}
	if x.byName == nil {
		x.byName = make(map[string]*memberEntry)
	}
	if empty, err := d.openEmpty('}'); err != nil || (empty && d.end() != nil) {
		x.Invalidate(rev)
		return
	} else if empty {
		return
	}
	for {
		name, isObject, err := d.member()
		if err != nil {
			x.Invalidate(rev)
			return
		}
		e := x.byName[string(name)]
		if e == nil {
			e = &memberEntry{name: string(name)}
			x.byName[e.name] = e
		}
		start := d.pos
		c.shapes = c.shapes[:0]
		shape, err := c.skipShaped(d, isObject)
		if err != nil {
			x.Invalidate(rev)
			return
		}
		covered := false
		switch {
		case e.rev == 0:
			// The first write the index knows of: earlier ones are
			// before what Changed answers for.
		case e.rev == rev:
			// Named twice in one patch: the last counts, and whether
			// it hides the first is not worth finding out.
			e.visible = rev
		case !isObject:
			e.visible = 0 // a non-object hides every earlier write
		case e.leaf || !e.hasShape || shape == nil || !shapeCovers(shape, e.shape):
			// An object merged into the previous value, which it does
			// not wholly override: that write shows through.
			e.visible = e.rev
		default:
			covered = true
		}
		x.readFields(e, text[start:d.pos], isObject, covered, rev)
		e.rev, e.text, e.leaf = rev, text[start:d.pos], !isObject
		e.shape, e.hasShape = append(e.shape[:0], shape...), shape != nil
		x.moveNewest(e)
		done, err := d.next('}', "")
		if err == nil && done {
			err = d.end()
		}
		if err != nil {
			// Not the text of one object (never so for a committed
			// patch): what was recorded of it must not be trusted.
			x.Invalidate(rev)
			return
		}
		if done {
			return
		}
	}
}

// readFields sets e.fields from value, the member's new value written by
// rev. covered says value hides e's previous value field for field: a
// field whose text is the same as before keeps when it last changed.
// Anything else (a non-object, a repeated name) leaves e without fields.
func (x *MemberIndex) readFields(e *memberEntry, value []byte, isObject, covered bool, rev uint64) {
	if !isObject {
		e.fields, e.fieldsOK = e.fields[:0], false
		return
	}
	d := newDecoder(value)
	defer d.release()
	fs := x.fieldScratch[:0]
	ok := true
	if empty, err := d.openEmpty('}'); err != nil {
		ok = false
	} else if !empty {
		for {
			name, isObject, err := d.member()
			if err != nil {
				ok = false
				break
			}
			f := memberField{name: d.names.get(name), start: d.pos, changed: rev}
			for _, g := range fs {
				if g.name == f.name {
					ok = false // repeated: the last counts, which a subset would get wrong
				}
			}
			if err := d.skipMember(isObject); err != nil {
				ok = false
				break
			}
			f.end = d.pos
			if covered && e.fieldsOK {
				for _, g := range e.fields {
					if g.name == f.name && string(e.text[g.start:g.end]) == string(value[f.start:f.end]) {
						f.changed = g.changed
					}
				}
			}
			fs = append(fs, f)
			done, err := d.next('}', "")
			if err != nil {
				ok = false
				break
			}
			if done {
				break
			}
		}
	}
	x.fieldScratch = fs
	e.fields, e.fieldsOK = append(e.fields[:0], fs...), ok
}

// valueSize returns the size of what Changed writes for e after revision
// after: its text, or just its fields that changed after it, or -1 when
// none did (e then need not be written at all).
func (e *memberEntry) valueSize(after uint64) int {
	if !e.fieldsOK {
		return len(e.text)
	}
	n, size := 0, 1
	for _, f := range e.fields {
		if f.changed > after {
			n++
			size += len(f.name) + 4 + f.end - f.start // "name":value,
		}
	}
	switch {
	case n == len(e.fields):
		return len(e.text)
	case n == 0:
		return -1
	}
	return size
}

// appendValue appends what valueSize measured, which must not be -1.
func (e *memberEntry) appendValue(dst []byte, after uint64) []byte {
	if e.valueSize(after) == len(e.text) {
		return append(dst, e.text...)
	}
	dst = append(dst, '{')
	first := true
	for _, f := range e.fields {
		if f.changed <= after {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = jsonkit.AppendString(dst, f.name)
		dst = append(dst, ':')
		dst = append(dst, e.text[f.start:f.end]...)
	}
	return append(dst, '}')
}

// Invalidate records that revision rev was not a merge patch of members
// (or could not be read as one): Changed will not answer for a revision
// before it.
func (x *MemberIndex) Invalidate(rev uint64) {
	x.byName, x.oldest, x.newest = nil, nil, nil
	x.from, x.last = rev, rev
}

// Forget drops the members whose newest write is older than rev: the
// caller keeps no patch before rev and will not ask about it.
func (x *MemberIndex) Forget(rev uint64) {
	for e := x.oldest; e != nil && e.rev < rev; e = x.oldest {
		x.unlink(e)
		delete(x.byName, e.name)
	}
	x.from = max(x.from, rev-min(rev, 1))
}

// Changed appends to dst one merge patch with the effect of every patch
// added after revision after, to a document as it was at after, or
// returns ok false when it cannot say: nothing was added after it, a
// revision after it was not a merge patch of members (Invalidate), or a
// member's newest value does not hide all of its writes since after.
// Members come out newest first, each with its value as committed.
//
// limit > 0 bounds the result's size (names counted unescaped): over it,
// Changed writes nothing and returns ErrOverLimit, for a caller that only
// wants a patch smaller than something else.
func (x *MemberIndex) Changed(after uint64, dst []byte, limit int) (_ []byte, ok bool, err error) {
	if after < x.from || after >= x.last {
		return dst, false, nil
	}
	size := 2
	for e := x.newest; e != nil && e.rev > after; e = e.prev {
		if e.visible > after {
			return dst, false, nil
		}
		if n := e.valueSize(after); n >= 0 {
			size += len(e.name) + n + 4
		}
	}
	if limit > 0 && size-1 > limit { // size counts a comma too many
		return dst, false, ErrOverLimit
	}
	dst = append(slices.Grow(dst, size), '{')
	first := true
	for e := x.newest; e != nil && e.rev > after; e = e.prev {
		if e.valueSize(after) < 0 {
			continue // rewritten, but every field to what it was at after
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = jsonkit.AppendString(dst, e.name)
		dst = append(dst, ':')
		dst = e.appendValue(dst, after)
	}
	return append(dst, '}'), true, nil
}

// moveNewest makes e the newest entry.
func (x *MemberIndex) moveNewest(e *memberEntry) {
	if x.newest == e {
		return
	}
	if e.prev != nil || e.next != nil || x.oldest == e {
		x.unlink(e)
	}
	e.prev, e.next = x.newest, nil
	if x.newest != nil {
		x.newest.next = e
	} else {
		x.oldest = e
	}
	x.newest = e
}

func (x *MemberIndex) unlink(e *memberEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		x.oldest = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		x.newest = e.prev
	}
	e.prev, e.next = nil, nil
}

// memberField is a field of a member's newest value.
type memberField struct {
	name       string
	start, end int    // the field's value, a span of the member's text
	changed    uint64 // the newest write that gave it a different value (or first gave it one)
}

// shapeCovers reports whether every member that the shape older lists is
// a member that the shape newer lists with a value that is not an object
// (the last of its name, as a parser keeps): an object written as newer
// hides one written as older.
func shapeCovers(newer, older []byte) bool {
	if string(newer) == string(older) {
		// The same names in the same order, the common case: it covers
		// when every value is a non-object.
		for len(newer) > 0 {
			if newer[0] != 1 {
				return false
			}
			newer = newer[3+(int(newer[1])|int(newer[2])<<8):]
		}
		return true
	}
	for len(older) > 0 {
		n := int(older[1]) | int(older[2])<<8
		if !shapeDecides(newer, older[3:3+n]) {
			return false
		}
		older = older[3+n:]
	}
	return true
}
