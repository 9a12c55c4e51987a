package main

import "testing"

// Refusals are counted by code, and a rare code keeps its samples next to
// a common one's.
func TestRefusalsByCode(t *testing.T) {
	msg := func(code string) []byte {
		return []byte(`{"type":"ERROR","payload":{"code":"` + code + `","message":"m"}}`)
	}
	var loop, run refusals
	for range 20 {
		loop.add(msg("ALREADY_EXISTS"))
	}
	loop.add(msg("UNAVAILABLE"))
	loop.add([]byte(`not json`))
	run.merge(&loop)
	run.merge(&loop)
	if got := formatCodes(run.codes); got != "ALREADY_EXISTS=40 UNAVAILABLE=2 UNPARSED=2" {
		t.Fatalf("codes %q", got)
	}
	per := map[string]int{}
	for _, s := range run.samples {
		per[sampleCode(s)]++
	}
	if per["ALREADY_EXISTS"] != samplesPerCode || per["UNAVAILABLE"] != 2 || per["UNPARSED"] != 2 {
		t.Fatalf("samples per code %v", per)
	}
}
