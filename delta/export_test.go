package delta

import (
	"fmt"
	"strings"
)

// Test hooks: the merge patch preparation that ParseMergePatch does while
// decoding must equal the one newMergePatch (used by Compact) does on the
// decoded value.

// PrepareMergePatch prepares the decoded merge patch v as Compact does.
func PrepareMergePatch(v any) *Patch { return newMergePatch(v) }

// MergeTree describes a merge patch's preparation: bounds, and per member
// its name, path, kind, size and value, nested, in Apply's order.
func MergeTree(p *Patch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "obj=%v size=%d npaths=%d nlog=%d value=%s\n", p.mp.obj, p.mp.size, p.npaths, p.nlog, encodeOrError(p.mp.patchValue()))
	writeMergeMembers(&b, p.mp.root, p.mp.paths, 0)
	return b.String()
}

func writeMergeMembers(b *strings.Builder, members []mergeMember, paths string, depth int) {
	for i := range members {
		mm := &members[i]
		fmt.Fprintf(b, "%d: %q path=%q del=%v obj=%v size=%d value=%s members=%d\n",
			depth, mm.key, paths[mm.path.start:mm.path.end], mm.del, mm.obj, mm.size, encodeOrError(mm.value), len(mm.members))
		writeMergeMembers(b, mm.members, paths, depth+1)
	}
}

func encodeOrError(v any) string {
	out, err := Encode(v)
	if err != nil {
		return err.Error()
	}
	return string(out)
}
