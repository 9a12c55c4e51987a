package boltstore

import (
	"errors"
	"testing"

	"github.com/deltasync/syncd"
)

// FuzzDecodeClient: a client record decodes or fails with errCorrupt, never
// panics, and what decodes re-encodes to the same record.
func FuzzDecodeClient(f *testing.F) {
	f.Add(encodeClient(syncd.ClientRecord{Owner: "ann", Attempt: "01JD0000000000000000000002"}))
	f.Add(encodeClient(syncd.ClientRecord{}))
	f.Add([]byte{encodingV1, 5, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeClient(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		again, err := decodeClient(encodeClient(r))
		if err != nil || again != r {
			t.Fatalf("re-encoding %+v gives %+v, %v", r, again, err)
		}
	})
}
