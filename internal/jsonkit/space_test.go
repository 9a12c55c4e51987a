package jsonkit

import (
	"bytes"
	"encoding/json"
	"testing"
)

// hasSpaceByCompact is what HasSpace answers, the slow way.
func hasSpaceByCompact(t testing.TB, raw []byte) bool {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Len() != len(raw)
}

func TestHasSpace(t *testing.T) {
	for _, s := range []string{
		`{}`, `{ }`, `{"a b":1}`, `{"a":"x\"y z"}`, `{"a":"x\\"}`, `{"a":"x\\" }`, "[1,\n2]", "\t1", `"abcdefghijklmnop\"qrstu vwxyz"`,
		`["abcdefghijklmnopqrstuvwxyz\\",1]`, `["abcdefghijklmnopqrstuvwxyz\\", 1]`, `"é ü"`, `{"é":"ü"} `,
	} {
		if got, want := HasSpace([]byte(s)), hasSpaceByCompact(t, []byte(s)); got != want {
			t.Errorf("HasSpace(%s) = %v, want %v", s, got, want)
		}
	}
}

// FuzzHasSpace compares HasSpace with json.Compact on valid JSON:
//
//	go test ./internal/jsonkit/ -run '^$' -fuzz '^FuzzHasSpace$' -fuzztime 10s
func FuzzHasSpace(f *testing.F) {
	f.Add([]byte(`{"a":"b c","d":[1, 2]}`))
	f.Add([]byte(`["\\\" ",1]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		if got, want := HasSpace(raw), hasSpaceByCompact(t, raw); got != want {
			t.Fatalf("HasSpace(%q) = %v, want %v", raw, got, want)
		}
	})
}
