package delta_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/deltasync/syncd/delta"
)

func TestParsePointer(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"/", []string{""}},
		{"//", []string{"", ""}},
		{"/foo", []string{"foo"}},
		{"/foo/0", []string{"foo", "0"}},
		{"/a~1b", []string{"a/b"}},
		{"/m~0n", []string{"m~n"}},
		{"/~01", []string{"~1"}},
		{"/~10", []string{"/0"}},
		{"/ /%25/é", []string{" ", "%25", "é"}},
	}
	for _, tt := range tests {
		got, err := delta.ParsePointer(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParsePointer(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"a", "#/a", "/~", "/~2", "/a~", "/~a", " /a"} {
		if got, err := delta.ParsePointer(bad); err == nil || !errors.Is(err, delta.ErrInvalidPatch) {
			t.Errorf("ParsePointer(%q) = %q, %v; want ErrInvalidPatch", bad, got, err)
		}
	}
}
