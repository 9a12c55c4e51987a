package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of every delivery.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>",
	// the HMAC keyed with the endpoint's secret over "<t>.<body>".
	HeaderSignature = "Syncd-Signature"
	// HeaderEventID is the event's id (a ULID), the same on every retry:
	// receivers deduplicate on it.
	HeaderEventID = "Syncd-Event-Id"
	// HeaderEventType is the event's type, e.g. "document.changed".
	HeaderEventType = "Syncd-Event-Type"
)

// Sign returns the HeaderSignature value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verification errors.
var (
	ErrBadSignatureHeader = errors.New("webhook: malformed " + HeaderSignature + " header")
	ErrSignatureMismatch  = errors.New("webhook: signature does not match")
	ErrTooOld             = errors.New("webhook: timestamp outside the tolerance")
)

// Verify checks a delivery: header is its Syncd-Signature value, body its
// raw body (read whole, before any JSON decoding), secret the endpoint's.
// It returns nil if the signature is the HMAC of the header's timestamp and
// the body and the timestamp is within tolerance of now (which refuses a
// captured delivery replayed later; 5 minutes is usual, 0 skips the check).
// The comparison takes constant time. Receivers may import this package
// or copy this function with Sign's mac: it needs only the standard
// library.
//
// A retried event is signed again with a new timestamp; deduplicate on
// the event id, not on the signature.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrBadSignatureHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrBadSignatureHeader
			}
			sigs = append(sigs, sig)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignatureHeader
	}
	want := mac(secret, ts, body)
	matched := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return ErrTooOld
		}
	}
	return nil
}
