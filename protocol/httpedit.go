package protocol

import (
	"encoding/json"

	"github.com/deltasync/syncd/revision"
)

// EditRequest is the body of the HTTP API's POST /v1/docs/{id}/edits
// (PROTOCOL.md §11.1): an UPDATE without the document (which the path
// names), with the client id that a WebSocket takes from its upgrade.
type EditRequest struct {
	Patch       json.RawMessage
	BaseRev     *revision.Rev
	Epoch       revision.Epoch // upper case (ULIDs are accepted in either)
	ClientID    string         // upper case; "" with ClientReqID ""
	ClientReqID string
}

// DecodeEditRequest decodes and checks an edit's body as strictly as a
// WebSocket message (§3.2): keys exactly as named, unknown ones refused,
// nothing after the object, valid UTF-8 and no lone surrogate escapes,
// nesting within MaxDepth. Errors are INVALID_ARGUMENT naming the field,
// under "body".
func DecodeEditRequest(data []byte) (EditRequest, error) {
	const (
		bPatch = 1 << iota
		bBaseRev
		bEpoch
		bClientID
		bClientReqID
	)
	var r EditRequest
	d := newObjDecoder(data, "body", false)
	for d.next() {
		switch string(d.key) {
		case "patch":
			r.Patch = d.raw(bPatch, true, arrayKind|objectKind)
		case "baseRev":
			r.BaseRev = d.revOpt(bBaseRev)
		case "epoch":
			e, _ := d.strOpt(bEpoch, false)
			r.Epoch = canonicalEpoch(e)
		case "clientId":
			r.ClientID, _ = d.strOpt(bClientID, false)
		case "clientReqId":
			r.ClientReqID, _ = d.strOpt(bClientReqID, false)
		default:
			d.unknown()
		}
	}
	d.require(bPatch, "patch")
	if err := d.finishTop(); err != nil {
		return EditRequest{}, err
	}
	if (r.ClientID == "") != (r.ClientReqID == "") {
		return EditRequest{}, fieldError("body", "clientId and clientReqId go together")
	}
	if r.ClientID != "" {
		// One client is one key (its watermark, its author id), whatever
		// the case it is written in, as at the WebSocket upgrade (§2.2).
		id, err := ParseClientID(r.ClientID)
		if err != nil {
			return EditRequest{}, fieldError("body.clientId", "must be a ULID (26 characters of Crockford base32)")
		}
		r.ClientID = id
		if err := revision.ValidateReqID(r.ClientReqID); err != nil {
			return EditRequest{}, fieldError("body.clientReqId", "must be 1–64 printable ASCII characters")
		}
	}
	if r.Epoch != "" && !revision.IsULID(string(r.Epoch)) {
		return EditRequest{}, fieldError("body.epoch", "must be a ULID")
	}
	return r, nil
}
