package webhook

import (
	"errors"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign(secret, now, body)
	if err := Verify(secret, h, body, 5*time.Minute, now.Add(time.Minute)); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for _, c := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"other body", secret, h, []byte(`{"id":"y"}`), now, ErrSignatureMismatch},
		{"other secret", []byte("other"), h, body, now, ErrSignatureMismatch},
		{"too old", secret, h, body, now.Add(time.Hour), ErrTooOld},
		{"no v1", secret, "t=1800000000", body, now, ErrBadSignatureHeader},
		{"garbage", secret, "nonsense", body, now, ErrBadSignatureHeader},
		{"bad hex", secret, "t=1800000000,v1=zz", body, now, ErrBadSignatureHeader},
	} {
		if err := Verify(c.secret, c.header, c.body, 5*time.Minute, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
