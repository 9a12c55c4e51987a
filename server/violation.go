package server

import (
	"encoding/json"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
)

// violationDetails are the details of an UPDATE refused because the
// document would break its schema (or another rule of a validation hook):
// the usual {doc, clientReqId, serverRev}, and where the document breaks
// which rule, so a client can point at the field.
type violationDetails struct {
	protocol.UpdateErrorDetails
	Violation *syncd.Violation
}

// AppendJSON writes {doc, clientReqId, serverRev, instancePath,
// keywordLocation}. It must be defined here: the embedded details' own
// would drop the violation.
func (d violationDetails) AppendJSON(dst []byte) []byte {
	dst = d.UpdateErrorDetails.AppendJSON(dst)
	dst = dst[:len(dst)-1] // reopen the object
	path, _ := json.Marshal(d.Violation.InstancePath)
	kw, _ := json.Marshal(d.Violation.KeywordLocation)
	dst = append(dst, `,"instancePath":`...)
	dst = append(dst, path...)
	dst = append(dst, `,"keywordLocation":`...)
	dst = append(dst, kw...)
	return append(dst, '}')
}

// MarshalJSON implements json.Marshaler like AppendJSON.
func (d violationDetails) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil), nil }
