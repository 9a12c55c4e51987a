package delta_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/deltasync/syncd/delta"
)

// TestMemberIndexProperty: random histories of merge patches, with JSON
// Patches among them (which the index is told of with Invalidate) and
// Forget at random points. Whenever Changed answers for a revision, its
// patch takes the document as it was then to the head, exactly.
func TestMemberIndexProperty(t *testing.T) {
	answered := 0
	rapid.Check(t, func(t *rapid.T) {
		states := []any{docGen.Draw(t, "doc")}
		var x delta.MemberIndex
		forgotten := uint64(0) // Forget's argument so far
		for range rapid.IntRange(1, 25).Draw(t, "n") {
			rev := uint64(len(states))
			next := delta.Clone(states[len(states)-1])
			if rapid.IntRange(0, 9).Draw(t, "jsonPatch") == 0 {
				p, err := delta.ParseJSONPatch(drawJSONPatch(t, next))
				if err != nil {
					continue
				}
				if _, err := p.Apply(&next); err != nil {
					continue // refused: no revision
				}
				x.Invalidate(rev)
			} else {
				text := drawMergePatch(t)
				p, err := delta.ParseMergePatch(text)
				if err != nil {
					t.Fatalf("drawn merge patch %s: %v", text, err)
				}
				if _, err := p.Apply(&next); err != nil {
					t.Fatalf("merge patch %s: %v", text, err)
				}
				x.Add(rev, text)
			}
			states = append(states, next)
			if rapid.IntRange(0, 7).Draw(t, "forget") == 0 {
				forgotten = max(forgotten, rapid.Uint64Range(0, rev+1).Draw(t, "forgetRev"))
				x.Forget(forgotten)
			}
		}
		head := states[len(states)-1]
		for after := range uint64(len(states)) {
			out, ok, _ := x.Changed(after, nil, 0)
			if !ok {
				continue
			}
			if forgotten > 0 && after+1 < forgotten {
				t.Fatalf("Changed(%d) answered although revisions before %d were forgotten", after, forgotten)
			}
			answered++
			if _, ok, err := x.Changed(after, nil, len(out)); !ok || err != nil {
				t.Fatalf("Changed(%d) with a limit of its own size %d: %v, %v", after, len(out), ok, err)
			}
			if _, _, err := x.Changed(after, nil, len(out)-1); len(out) > 2 && !strings.Contains(string(out), `\`) && !errors.Is(err, delta.ErrOverLimit) {
				t.Fatalf("Changed(%d) with a limit below its size %d: %v, want ErrOverLimit", after, len(out), err)
			}
			p, err := delta.ParseMergePatch(out)
			if err != nil {
				t.Fatalf("Changed(%d) = %s, which does not parse: %v", after, out, err)
			}
			got := delta.Clone(states[after])
			if _, err := p.Apply(&got); err != nil {
				t.Fatal(err)
			}
			if !sameJSON(got, head) {
				t.Fatalf("Changed(%d) = %s takes %s to %s, want the head %s", after, out, encodeOrNil(states[after]), encodeOrNil(got), encodeOrNil(head))
			}
		}
	})
	if answered == 0 {
		t.Fatal("Changed never answered: the property was not exercised")
	}
}

// TestMemberIndexRewrites: the history it is for (the same members written
// again and again, field for field) is answered from every revision, with
// the newest value of each member; one write that does not hide an
// earlier one stops answers from before it.
func TestMemberIndexRewrites(t *testing.T) {
	var x delta.MemberIndex
	write := func(rev uint64, text string) { x.Add(rev, []byte(text)) }
	for rev := uint64(1); rev <= 100; rev++ {
		write(rev, fmt.Sprintf(`{"k%d":{"v":%d,"pad":"xx"}}`, rev%10, rev))
	}
	if _, ok, _ := x.Changed(100, nil, 0); ok {
		t.Error("Changed(100) at the head answered")
	}
	for _, after := range []uint64{0, 50, 95, 99} {
		out, ok, _ := x.Changed(after, nil, 0)
		if !ok {
			t.Fatalf("Changed(%d): no answer", after)
		}
		if n := strings.Count(string(out), `"v"`); n != min(10, int(100-after)) {
			t.Errorf("Changed(%d) = %s: %d members, want %d", after, out, n, min(10, int(100-after)))
		}
	}
	// Only the fields whose values changed travel: pad was rewritten to
	// what it was.
	if out, _, _ := x.Changed(97, nil, 0); string(out) != `{"k0":{"v":100},"k9":{"v":99},"k8":{"v":98}}` {
		t.Errorf("Changed(97) = %s", out)
	}
	// A member rewritten to exactly what it was is left out.
	write(101, `{"k5":{"v":95,"pad":"xx"}}`)
	if out, ok, _ := x.Changed(99, nil, 0); !ok || string(out) != `{"k0":{"v":100}}` {
		t.Errorf("Changed(99) after an identical rewrite = %s, %v", out, ok)
	}
	// A member created after the revision travels whole.
	write(102, `{"new":{"v":1,"pad":"xx"}}`)
	if out, ok, _ := x.Changed(101, nil, 0); !ok || string(out) != `{"new":{"v":1,"pad":"xx"}}` {
		t.Errorf("Changed(101) = %s, %v", out, ok)
	}
	// k3 gets a field its next write does not set: from before that,
	// the newest k3 does not say everything.
	write(103, `{"k3":{"v":101,"extra":1}}`)
	write(104, `{"k3":{"v":102,"pad":"xx"}}`)
	if _, ok, _ := x.Changed(102, nil, 0); ok {
		t.Error("Changed(102) answered across a write the newest does not hide")
	}
	if out, ok, _ := x.Changed(103, nil, 0); !ok || string(out) != `{"k3":{"v":102,"pad":"xx"}}` {
		t.Errorf("Changed(103) = %s, %v", out, ok)
	}
	// A non-object hides everything; a JSON Patch (Invalidate) ends
	// answers from before it.
	write(105, `{"k3":null}`)
	if out, ok, _ := x.Changed(102, nil, 0); !ok || !strings.HasPrefix(string(out), `{"k3":null`) {
		t.Errorf("Changed(102) after a null = %s, %v", out, ok)
	}
	x.Invalidate(106)
	if _, ok, _ := x.Changed(105, nil, 0); ok {
		t.Error("Changed(105) answered across an Invalidate")
	}
	// Forget drops what the caller no longer keeps, and with it the
	// answers from before.
	write(107, `{"a":1}`)
	if out, ok, _ := x.Changed(106, nil, 0); !ok || string(out) != `{"a":1}` {
		t.Errorf("Changed(106) = %s, %v", out, ok)
	}
	write(108, `{"b":1}`)
	x.Forget(108)
	if _, ok, _ := x.Changed(106, nil, 0); ok {
		t.Error("Changed(106) answered after Forget(108)")
	}
	if out, ok, _ := x.Changed(107, nil, 0); !ok || string(out) != `{"b":1}` {
		t.Errorf("Changed(107) = %s, %v", out, ok)
	}
}
