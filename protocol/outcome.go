package protocol

import (
	"math"

	"github.com/deltasync/syncd/revision"
)

// Outcome is what became of one of the client's request ids, in the
// outcomes of a JOIN answer (PROTOCOL.md §6.8): committed as revision Rev,
// or, when Code is set, refused with that error code (Rev is then 0).
type Outcome struct {
	ClientReqID string       `json:"clientReqId"`
	Rev         revision.Rev `json:"rev,omitempty"`
	Code        Code         `json:"code,omitempty"`
}

// Committed reports whether the request was committed.
func (o Outcome) Committed() bool { return o.Code == "" }

// decodeOutcomes reads the outcomes array of a catch-up answer.
func decodeOutcomes(d *objDecoder, bit uint32) []Outcome {
	outs := []Outcome{}
	d.array(bit, false, func(d *objDecoder, path string, i int) {
		c := d.child(path, i, true)
		var o Outcome
		for c.next() {
			switch string(c.key) {
			case "clientReqId":
				o.ClientReqID = c.str(1)
			case "rev":
				if v, ok := c.uint(2, false, math.MaxUint64); ok {
					o.Rev = revision.Rev(v)
				}
			case "code":
				code, _ := c.strOpt(4, false)
				o.Code = Code(code)
			default:
				c.unknown()
			}
		}
		c.require(1, "clientReqId")
		if (o.Rev == 0) == (o.Code == "") {
			c.fail(c.join("rev"), "want exactly one of rev ≥ 1 and code")
		}
		d.adopt(&c)
		outs = append(outs, o)
	})
	return outs
}

// appendOutcomes appends the outcomes field, if there are any.
func appendOutcomes(dst []byte, outs []Outcome) []byte {
	if len(outs) == 0 {
		return dst
	}
	dst = append(dst, `,"outcomes":`...)
	dst = append(dst, '[')
	for i, o := range outs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendStringField(dst, `{"clientReqId":`, o.ClientReqID)
		if o.Code != "" {
			dst = appendStringField(dst, `,"code":`, string(o.Code))
		} else {
			dst = appendUintField(dst, `,"rev":`, uint64(o.Rev))
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}
