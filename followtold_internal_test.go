package syncd

import (
	"testing"

	"github.com/deltasync/syncd/revision"
)

func toldRevs(from, to revision.Rev) []*Op {
	var ops []*Op
	for r := from; r <= to; r++ {
		ops = append(ops, &Op{Rev: r})
	}
	return ops
}

func complete(epoch revision.Epoch, from, to revision.Rev) StoredChange {
	return StoredChange{Complete: true, Epoch: epoch, Ops: toldRevs(from, to)}
}

// What a follow may take from what the watch told, and when it must read
// the store instead.
func TestToldOpsTake(t *testing.T) {
	cases := []struct {
		name     string
		tells    []StoredChange
		epoch    revision.Epoch
		durable  revision.Rev
		wantOK   bool
		wantRevs []revision.Rev
		followed bool // whether the last tell asked for a follow
	}{
		{"nothing told", nil, "e", 3, true, nil, false},
		{"continues", []StoredChange{complete("e", 4, 5), complete("e", 6, 6)}, "e", 3, true, []revision.Rev{4, 5, 6}, true},
		{"own appends dropped", []StoredChange{complete("e", 4, 5)}, "e", 5, true, nil, true},
		{"own then foreign", []StoredChange{complete("e", 4, 5), complete("e", 6, 7)}, "e", 5, true, []revision.Rev{6, 7}, true},
		{"gap after durable", []StoredChange{complete("e", 6, 7)}, "e", 4, false, nil, true},
		{"gap between calls", []StoredChange{complete("e", 4, 5), complete("e", 7, 7)}, "e", 3, false, nil, true},
		{"another epoch", []StoredChange{complete("f", 1, 2)}, "e", 0, false, nil, true},
		{"incomplete", []StoredChange{complete("e", 4, 5), {}}, "e", 3, false, nil, true},
		{"incomplete then more", []StoredChange{{}, complete("e", 4, 5)}, "e", 3, false, nil, true},
		{"decision only", []StoredChange{{Complete: true, Epoch: "e"}}, "e", 3, true, nil, false},
		{"too many", []StoredChange{complete("e", 1, maxToldOps), complete("e", maxToldOps+1, maxToldOps+1)}, "e", 0, false, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var told toldOps
			followed := false
			for _, tc := range c.tells {
				followed = told.tell(tc)
			}
			if followed != c.followed {
				t.Errorf("the last tell asked for a follow: %v, want %v", followed, c.followed)
			}
			ops, ok := told.take(c.epoch, c.durable)
			var revs []revision.Rev
			for _, op := range ops {
				revs = append(revs, op.Rev)
			}
			if ok != c.wantOK || len(revs) != len(c.wantRevs) {
				t.Fatalf("take = %v, %v; want %v, %v", revs, ok, c.wantRevs, c.wantOK)
			}
			for i := range revs {
				if revs[i] != c.wantRevs[i] {
					t.Fatalf("take = %v; want %v", revs, c.wantRevs)
				}
			}
			// Taken: the next take starts afresh.
			if ops, ok := told.take(c.epoch, c.durable); !ok || len(ops) != 0 {
				t.Fatalf("a second take = %d operations, %v; want none, true", len(ops), ok)
			}
		})
	}
}
