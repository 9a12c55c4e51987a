package natsstore

import (
	"bytes"
	"encoding/json"
	"testing"
)

// base64Field decodes a message get's data field as encoding/json would
// decode it into a []byte: same bytes, and an error for the same inputs.
func FuzzBase64Field(f *testing.F) {
	for _, seed := range []string{``, `null`, `""`, `"AQID"`, `"AQI="`, `"AQ=="`, `"\u0041QID"`, `"AQ\/D"`, `"not base64!"`, `"AQID`, `123`, `"AQ\nID"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 0 && !json.Valid(raw) {
			return // the response as a whole would not have decoded
		}
		got, gotErr := base64Field(raw)
		var want []byte
		var wantErr error
		if len(raw) > 0 {
			wantErr = json.Unmarshal(raw, &want)
		}
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("base64Field(%q): error %v; encoding/json: %v", raw, gotErr, wantErr)
		}
		if gotErr == nil && (!bytes.Equal(got, want) || (got == nil) != (want == nil)) {
			t.Fatalf("base64Field(%q) = %q (nil %v); encoding/json: %q (nil %v)", raw, got, got == nil, want, want == nil)
		}
	})
}
