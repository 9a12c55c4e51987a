package delta_test

import (
	"errors"

	"github.com/deltasync/syncd/delta"
)

// tb is what the helpers need of a *testing.T or *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// mustEncode encodes v or fails the test.
func mustEncode(t tb, v any) []byte {
	t.Helper()
	b, err := delta.Encode(v)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

// mustDecode decodes s or fails the test.
func mustDecode(t tb, s string) any {
	t.Helper()
	v, err := delta.Decode([]byte(s))
	if err != nil {
		t.Fatalf("Decode(%s): %v", s, err)
	}
	return v
}

// assertSentinel checks that err is a *delta.Error wrapping exactly one of
// the package's sentinels.
func assertSentinel(t tb, err error) {
	t.Helper()
	var de *delta.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *delta.Error", err, err)
	}
	n := 0
	for _, s := range []error{delta.ErrInvalidPatch, delta.ErrPathNotFound, delta.ErrTestFailed, delta.ErrTooLarge, delta.ErrTooDeep, delta.ErrTooMuchWork} {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %v wraps %d sentinels, want 1", err, n)
	}
}
