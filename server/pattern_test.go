package server

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// referenceMatch is the obvious definition of a pattern: a regular
// expression, anchored, "*" as any run of bytes and "?" as one byte. Go's
// regexp runs in linear time, so it is also safe, but too slow to compile
// on every JOIN.
func referenceMatch(t *rapid.T, pattern, s string) bool {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String()).MatchString(s)
}

func TestPatternMatchesReference(t *testing.T) {
	// A small alphabet makes matches and near-misses common.
	patterns := rapid.StringOfN(rapid.SampledFrom([]rune("ab/*?")), 0, 12, -1)
	ids := rapid.StringOfN(rapid.SampledFrom([]rune("ab/")), 0, 16, -1)
	rapid.Check(t, func(t *rapid.T) {
		p, s := patterns.Draw(t, "pattern"), ids.Draw(t, "id")
		if got, want := compilePattern(p).match(s), referenceMatch(t, p, s); got != want {
			t.Fatalf("match(%q, %q) = %v, want %v", p, s, got, want)
		}
	})
}

func TestPatternExamples(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"team:42/*", "team:42/a/b", true},
		{"team:42/*", "team:42", false},
		{"team:42/*", "team:42/", true},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"**a**", "xax", true},
		{"*a*b", "ba", false},
		{"a*b*a", "aba", true},
		{"a*a", "a", false}, // prefix and suffix must not overlap
		{"?*?", "a", false},
	} {
		if got := compilePattern(c.p).match(c.s); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// TestPatternNoBacktracking is the attack on the matcher: patterns
// of many stars that cannot match, against long ids. The old recursive
// matcher tried every split: C(128, 6) ≈ 5·10⁹ for six stars on 128
// bytes, minutes of CPU; on a 4 KiB id, longer than the universe. The
// linear matcher does each in microseconds, so the generous bound below
// cannot flake, yet no backtracking matcher could meet it.
func TestPatternNoBacktracking(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, n := range []int{128, 4096} {
			id := strings.Repeat("a", n)
			for stars := 1; stars <= 12; stars++ {
				p := strings.Repeat("*a", stars) + "*b"
				if compilePattern(p).match(id) {
					t.Errorf("%q matched %d a's", p, n)
				}
				if !compilePattern(strings.Repeat("*a", stars) + "*").match(id) {
					t.Errorf("stars %d did not match", stars)
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("pathological patterns took over 10 s: the matcher backtracks")
	}
}

func BenchmarkPatternPathological(b *testing.B) {
	p := compilePattern("*a*a*a*a*a*a*b")
	id := strings.Repeat("a", 128)
	for b.Loop() {
		p.match(id)
	}
}
