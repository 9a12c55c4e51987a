package revision

import "testing"

func TestBadDocIDByte(t *testing.T) {
	for id, want := range map[string]int{
		"":                 -1,
		"todo:list/42":     -1,
		"a_b.c-D9":         -1,
		"a b":              1,
		"ok\x00":           2,
		"é":                0,
		"doc#1":            3,
		"UPPER:lower/0-9_": -1,
	} {
		if got := BadDocIDByte(id); got != want {
			t.Errorf("BadDocIDByte(%q) = %d, want %d", id, got, want)
		}
	}
}
