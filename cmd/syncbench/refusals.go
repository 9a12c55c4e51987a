package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Refusals: an edit a writer sent may come back as an ERROR naming its
// request id rather than in the delta stream. Counting them is not enough
// to tell a refusal the protocol allows (UNAVAILABLE under overload, which
// a client retries) from a correctness bug (DUPLICATE of an id never
// applied, CONFLICT, EPOCH), so each refusal is kept by code, with the
// first few messages as samples.

// maxRefusalSamples bounds the messages kept per loop and per run, and
// samplesPerCode those of one code (so that a rare code is not crowded
// out by a common one): the codes say how many, the samples only what
// they looked like.
const (
	maxRefusalSamples = 10
	samplesPerCode    = 2
)

// refusals counts one loop's (or one run's) refused edits by code.
type refusals struct {
	codes   map[string]int64
	samples []string
}

// add records the ERROR msg, which names one of the loop's request ids.
func (r *refusals) add(msg []byte) {
	var env struct {
		Payload struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"payload"`
	}
	code := "UNPARSED"
	if err := json.Unmarshal(msg, &env); err == nil && env.Payload.Code != "" {
		code = env.Payload.Code
	}
	if r.codes == nil {
		r.codes = map[string]int64{}
	}
	r.codes[code]++
	if r.codes[code] <= samplesPerCode && len(r.samples) < maxRefusalSamples {
		r.samples = append(r.samples, string(msg))
	}
}

// merge adds o's counts and, up to the bound, its samples.
func (r *refusals) merge(o *refusals) {
	for c, n := range o.codes {
		if r.codes == nil {
			r.codes = map[string]int64{}
		}
		r.codes[c] += n
	}
	for _, s := range o.samples {
		if len(r.samples) >= maxRefusalSamples || r.sampled(s) >= samplesPerCode {
			continue
		}
		r.samples = append(r.samples, s)
	}
}

// sampled counts the samples r holds of the code of sample s.
func (r *refusals) sampled(s string) int {
	code := sampleCode(s)
	n := 0
	for _, have := range r.samples {
		if sampleCode(have) == code {
			n++
		}
	}
	return n
}

// sampleCode is the error code of a sample ("UNPARSED" if it has none).
func sampleCode(s string) string {
	var env struct {
		Payload struct {
			Code string `json:"code"`
		} `json:"payload"`
	}
	if json.Unmarshal([]byte(s), &env) != nil || env.Payload.Code == "" {
		return "UNPARSED"
	}
	return env.Payload.Code
}

// formatCodes is "CODE=n CODE=n" in code order, or "" when nothing was refused.
func formatCodes(codes map[string]int64) string {
	keys := make([]string, 0, len(codes))
	for c := range codes {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, c := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", c, codes[c])
	}
	return b.String()
}

// refusalCodes sums the refusal codes over a result's writers runs: the
// summary prints all of them, not a median, since one refusal in one run
// is worth seeing.
func refusalCodes(r *result) map[string]int64 {
	sum := map[string]int64{}
	for _, run := range r.Runs {
		if w, ok := run.(writersRun); ok {
			for c, n := range w.ErrorCodes {
				sum[c] += n
			}
		}
	}
	return sum
}
