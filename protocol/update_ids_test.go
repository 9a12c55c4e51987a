package protocol_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/deltasync/syncd/protocol"
)

// TestUpdateMalformedKeepsIDs: an UPDATE that fails decoding still names
// its doc and clientReqId, wherever the fault is, so that the refusal can
// name the edit (PROTOCOL.md §5.4); encoding/json, which the server used
// to decode such a payload a second time, is the reference.
func TestUpdateMalformedKeepsIDs(t *testing.T) {
	for _, raw := range []string{
		`{"baseRev":"1","clientReqId":"r-1","doc":"a/b","patch":{"x":1}}`,
		`{"patch":"title","doc":"a/b","clientReqId":"r-1"}`,
		`{"doc":"a/b","patch":{"x":1},"clientReqId":17}`,
		`{"doc":["a/b"],"patch":{"x":1},"clientReqId":"r-1"}`,
		`{"force":true,"doc":"a/b","clientReqId":"r-1","patch":{}}`,
		`{"doc":"a/b","doc":"c/d","clientReqId":"r-1"}`,
		`{"doc":"a/b","clientReqId":"r-\u0031"}`,
		`{"doc":"a/b","patch":{"x":1},"clientReqId":"r-1",}`, // not JSON: no ids
		`["a/b"]`,
		`{"epoch":12,"doc":null,"clientReqId":"r-1","patch":{}}`,
	} {
		var p protocol.Update
		err := p.UnmarshalPayload([]byte(raw))
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidArgument {
			t.Fatalf("%s: error %v, want INVALID_ARGUMENT", raw, err)
		}
		var ref struct {
			Doc         any `json:"doc"`
			ClientReqID any `json:"clientReqId"`
		}
		_ = json.Unmarshal([]byte(raw), &ref)
		doc, _ := ref.Doc.(string)
		reqID, _ := ref.ClientReqID.(string)
		if p.Doc != doc || p.ClientReqID != reqID {
			t.Errorf("%s: ids %q %q, want %q %q", raw, p.Doc, p.ClientReqID, doc, reqID)
		}
		if p.Patch != nil || p.BaseRev != nil || p.Epoch != "" {
			t.Errorf("%s: a refused payload keeps more than its ids: %+v", raw, p)
		}
	}
}

// TestUpdateErrorDetailsField: the field of a malformed UPDATE comes first
// and only when set.
func TestUpdateErrorDetailsField(t *testing.T) {
	for _, c := range []struct {
		d    protocol.UpdateErrorDetails
		want string
	}{
		{protocol.UpdateErrorDetails{Doc: "a", ClientReqID: "r", ServerRev: 4}, `{"doc":"a","clientReqId":"r","serverRev":4}`},
		{protocol.UpdateErrorDetails{Field: "payload.patch", Doc: "a", ClientReqID: "r"}, `{"field":"payload.patch","doc":"a","clientReqId":"r","serverRev":0}`},
	} {
		if got := string(c.d.AppendJSON(nil)); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
	if f := protocol.Errorf(protocol.CodeInvalidArgument, "x").Field(); f != "" {
		t.Errorf("a plain error has field %q", f)
	}
	var p protocol.Update
	var pe *protocol.Error
	if err := p.UnmarshalPayload([]byte(`{"doc":"a/b","patch":1,"clientReqId":"r"}`)); !errors.As(err, &pe) || pe.Field() != "payload.patch" {
		t.Errorf("error %v: field %q, want payload.patch", err, pe.Field())
	}
}
