package protocol

import (
	"encoding/json"

	"github.com/deltasync/syncd/internal/jsonkit"
	"github.com/deltasync/syncd/revision"
)

// Payloads of the client-to-server messages.
//
// Each type decodes itself strictly with UnmarshalPayload (also used by
// UnmarshalJSON): an unknown field, a wrong type, a duplicate field, or a
// required field that is missing or null is an [*Error] naming the field,
// such as "payload.doc: required". An optional field sent as null counts
// as absent. Each encodes itself with AppendJSON (also MarshalJSON),
// leaving absent optional fields out. Validate checks what decoding cannot:
// document ids, request ids, epochs.
//
// The json.RawMessage fields of a decoded value alias the input; the
// input must not be modified while the value is in use.

// Join subscribes to a document (and its room), creating it if it does not
// exist. Rev and Epoch are what the client already has; without Rev the
// client gets a snapshot.
type Join struct {
	Doc      string          `json:"doc"`
	Rev      *revision.Rev   `json:"rev,omitempty"`
	Epoch    revision.Epoch  `json:"epoch,omitempty"`
	Presence json.RawMessage `json:"presence,omitempty"` // free JSON
}

// Update edits a document. Patch is a JSON Patch array or a JSON Merge
// Patch object; BaseRev is the revision the client edited (absent: apply in
// arrival order).
type Update struct {
	Doc         string          `json:"doc"`
	Patch       json.RawMessage `json:"patch"`
	BaseRev     *revision.Rev   `json:"baseRev,omitempty"`
	Epoch       revision.Epoch  `json:"epoch,omitempty"`
	ClientReqID string          `json:"clientReqId"`
}

// Leave unsubscribes from a document.
type Leave struct {
	Doc string `json:"doc"`
}

// PresenceSet sets this client's presence state in a document's room.
type PresenceSet struct {
	Doc   string          `json:"doc"`
	State json.RawMessage `json:"state"` // free JSON
}

// Publish sends an ephemeral message to a joined document's room (Doc) or
// to a subscribed topic (Topic): exactly one of the two.
type Publish struct {
	Doc   string          `json:"doc,omitempty"`
	Topic string          `json:"topic,omitempty"`
	Data  json.RawMessage `json:"data"` // free JSON
}

// Subscribe joins a topic.
type Subscribe struct {
	Topic string `json:"topic"`
}

// Unsubscribe leaves a topic.
type Unsubscribe struct {
	Topic string `json:"topic"`
}

// Heartbeat is the payload of HEARTBEAT: an empty object.
type Heartbeat struct{}

// --- Join

func (p *Join) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", false)
	*p = Join{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc = d.str(1)
		case "rev":
			p.Rev = d.revOpt(2)
		case "epoch":
			e, _ := d.strOpt(4, false)
			p.Epoch = canonicalEpoch(e)
		case "presence":
			p.Presence = d.raw(8, false, anyKind)
		default:
			d.unknown()
		}
	}
	d.require(1, "doc")
	return d.finishTop()
}

func (p Join) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"doc":`, p.Doc)
	dst = appendOptRev(dst, `,"rev":`, p.Rev)
	dst = appendOptString(dst, `,"epoch":`, string(p.Epoch))
	dst = appendOptRaw(dst, `,"presence":`, p.Presence)
	return append(dst, '}')
}

func (p *Join) Validate() error {
	if err := validateDoc(p.Doc); err != nil {
		return err
	}
	return validateEpoch(p.Epoch)
}

// --- Update

// UnmarshalPayload decodes an UPDATE. When it fails, p still holds the
// doc and clientReqId the payload names (as strings, when it is JSON at
// all), so that the refusal can name the edit it refuses (PROTOCOL.md
// §5.4).
func (p *Update) UnmarshalPayload(data []byte) error {
	if err := p.decode(data); err != nil {
		*p = Update{}
		p.Doc, p.ClientReqID = updateIDs(data)
		return err
	}
	return nil
}

func (p *Update) decode(data []byte) error {
	d := newObjDecoder(data, "payload", false)
	*p = Update{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc = d.str(1)
		case "patch":
			p.Patch = d.raw(2, true, arrayKind|objectKind)
		case "baseRev":
			p.BaseRev = d.revOpt(4)
		case "epoch":
			e, _ := d.strOpt(8, false)
			p.Epoch = canonicalEpoch(e)
		case "clientReqId":
			p.ClientReqID = d.str(16)
		default:
			d.unknown()
		}
	}
	d.require(1, "doc")
	d.require(2, "patch")
	d.require(16, "clientReqId")
	return d.finishTop()
}

// updateIDs returns the doc and clientReqId members of a malformed
// UPDATE's payload: "" for one that is absent or not a string, or when the
// payload is not JSON. A repeated member counts by its last value.
func updateIDs(data []byte) (doc, reqID string) {
	if !jsonkit.Valid(data) {
		return "", ""
	}
	d := newObjDecoder(data, "payload", true)
	for d.next() {
		switch string(d.key) {
		case "doc":
			doc = d.stringOrSkip()
		case "clientReqId":
			reqID = d.stringOrSkip()
		default:
			d.unknown() // lenient: skipped
		}
	}
	return doc, reqID
}

func (p Update) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"doc":`, p.Doc)
	dst = appendRawField(dst, `,"patch":`, p.Patch, "null")
	dst = appendOptRev(dst, `,"baseRev":`, p.BaseRev)
	dst = appendOptString(dst, `,"epoch":`, string(p.Epoch))
	dst = appendStringField(dst, `,"clientReqId":`, p.ClientReqID)
	return append(dst, '}')
}

func (p *Update) Validate() error {
	if err := validateDoc(p.Doc); err != nil {
		return err
	}
	if p.PatchKind() == "" {
		return fieldError("payload.patch", "want array (JSON Patch) or object (JSON Merge Patch)")
	}
	if err := revision.ValidateReqID(p.ClientReqID); err != nil {
		return fieldError("payload.clientReqId", "must be 1–64 printable ASCII characters")
	}
	return validateEpoch(p.Epoch)
}

// PatchKind returns [OpPatch] for a JSON Patch (an array), [OpMerge] for a
// JSON Merge Patch (an object), and "" for anything else.
func (p *Update) PatchKind() string {
	s := jsonkit.Scanner{Data: p.Patch}
	switch s.Peek() {
	case jsonkit.KindArray:
		return OpPatch
	case jsonkit.KindObject:
		return OpMerge
	}
	return ""
}

// --- Leave

func (p *Leave) UnmarshalPayload(data []byte) error {
	doc, err := decodeStringPayload(data, "doc")
	*p = Leave{Doc: doc}
	return err
}

func (p Leave) AppendJSON(dst []byte) []byte {
	return append(appendStringField(dst, `{"doc":`, p.Doc), '}')
}

func (p *Leave) Validate() error { return validateDoc(p.Doc) }

// --- PresenceSet

func (p *PresenceSet) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", false)
	*p = PresenceSet{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc = d.str(1)
		case "state":
			p.State = d.raw(2, true, anyKind)
		default:
			d.unknown()
		}
	}
	d.require(1, "doc")
	d.require(2, "state")
	return d.finishTop()
}

func (p PresenceSet) AppendJSON(dst []byte) []byte {
	dst = appendStringField(dst, `{"doc":`, p.Doc)
	dst = appendRawField(dst, `,"state":`, p.State, "{}")
	return append(dst, '}')
}

func (p *PresenceSet) Validate() error {
	if err := validateDoc(p.Doc); err != nil {
		return err
	}
	if len(p.State) == 0 {
		return fieldError("payload.state", "required")
	}
	return nil
}

// --- Publish

func (p *Publish) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", false)
	*p = Publish{}
	for d.next() {
		switch string(d.key) {
		case "doc":
			p.Doc, _ = d.strOpt(1, false)
		case "topic":
			p.Topic, _ = d.strOpt(2, false)
		case "data":
			p.Data = d.raw(4, true, anyKind)
		default:
			d.unknown()
		}
	}
	d.require(4, "data")
	return d.finishTop()
}

func (p Publish) AppendJSON(dst []byte) []byte {
	dst = appendRawField(appendRoute(dst, p.Doc, p.Topic), `"data":`, p.Data, "null")
	return append(dst, '}')
}

// appendRoute opens the object of PUBLISH or MESSAGE with its optional doc
// and topic members, each followed by its comma (data always follows).
func appendRoute(dst []byte, doc, topic string) []byte {
	dst = append(dst, '{')
	if doc != "" {
		dst = append(appendStringField(dst, `"doc":`, doc), ',')
	}
	if topic != "" {
		dst = append(appendStringField(dst, `"topic":`, topic), ',')
	}
	return dst
}

func (p *Publish) Validate() error {
	switch {
	case p.Doc != "" && p.Topic != "":
		return fieldError("payload.topic", "give doc or topic, not both")
	case p.Doc != "":
		return validateDoc(p.Doc)
	case p.Topic != "":
		return validateTopic(p.Topic)
	}
	return fieldError("payload.doc", "required (or topic)")
}

// --- Subscribe, Unsubscribe

func (p *Subscribe) UnmarshalPayload(data []byte) error {
	topic, err := decodeStringPayload(data, "topic")
	*p = Subscribe{Topic: topic}
	return err
}

func (p Subscribe) AppendJSON(dst []byte) []byte {
	return append(appendStringField(dst, `{"topic":`, p.Topic), '}')
}

func (p *Subscribe) Validate() error { return validateTopic(p.Topic) }

func (p *Unsubscribe) UnmarshalPayload(data []byte) error {
	topic, err := decodeStringPayload(data, "topic")
	*p = Unsubscribe{Topic: topic}
	return err
}

func (p Unsubscribe) AppendJSON(dst []byte) []byte { return Subscribe(p).AppendJSON(dst) }
func (p *Unsubscribe) Validate() error             { return validateTopic(p.Topic) }

// decodeStringPayload decodes the payload of LEAVE, SUBSCRIBE, UNSUBSCRIBE
// and AUTH.REFRESH: an object whose one member, name, is a required string.
func decodeStringPayload(data []byte, name string) (string, error) {
	d := newObjDecoder(data, "payload", false)
	var v string
	for d.next() {
		if string(d.key) == name {
			v = d.str(1)
		} else {
			d.unknown()
		}
	}
	d.require(1, name)
	return v, d.finishTop()
}

// --- Heartbeat

func (p *Heartbeat) UnmarshalPayload(data []byte) error {
	d := newObjDecoder(data, "payload", false)
	for d.next() {
		d.unknown()
	}
	return d.finishTop()
}

func (p Heartbeat) AppendJSON(dst []byte) []byte { return append(dst, '{', '}') }

func (p *Heartbeat) Validate() error { return nil }

// --- validation helpers

func validateDoc(doc string) error {
	if !ValidDocID(doc) {
		return fieldError("payload.doc", docIDRule)
	}
	return nil
}

func validateTopic(topic string) error {
	if !ValidTopic(topic) {
		return fieldError("payload.topic", docIDRule)
	}
	return nil
}

// canonicalEpoch returns e upper-cased when it is a ULID (the server
// accepts ULIDs in either case, §1, and compares epochs as strings), and
// as it is otherwise, for validateEpoch to refuse.
func canonicalEpoch(e string) revision.Epoch {
	if c, err := revision.ParseEpoch(e); err == nil {
		return c
	}
	return revision.Epoch(e)
}

func validateEpoch(e revision.Epoch) error {
	if e != "" && !revision.IsULID(string(e)) {
		return fieldError("payload.epoch", "must be a ULID")
	}
	return nil
}

// MarshalJSON and UnmarshalJSON make the types work with encoding/json
// too, with the same strictness and the same omissions.

func (p Join) MarshalJSON() ([]byte, error)         { return p.AppendJSON(nil), nil }
func (p *Join) UnmarshalJSON(b []byte) error        { return p.UnmarshalPayload(b) }
func (p Update) MarshalJSON() ([]byte, error)       { return p.AppendJSON(nil), nil }
func (p *Update) UnmarshalJSON(b []byte) error      { return p.UnmarshalPayload(b) }
func (p Leave) MarshalJSON() ([]byte, error)        { return p.AppendJSON(nil), nil }
func (p *Leave) UnmarshalJSON(b []byte) error       { return p.UnmarshalPayload(b) }
func (p PresenceSet) MarshalJSON() ([]byte, error)  { return p.AppendJSON(nil), nil }
func (p *PresenceSet) UnmarshalJSON(b []byte) error { return p.UnmarshalPayload(b) }
func (p Publish) MarshalJSON() ([]byte, error)      { return p.AppendJSON(nil), nil }
func (p *Publish) UnmarshalJSON(b []byte) error     { return p.UnmarshalPayload(b) }
func (p Subscribe) MarshalJSON() ([]byte, error)    { return p.AppendJSON(nil), nil }
func (p *Subscribe) UnmarshalJSON(b []byte) error   { return p.UnmarshalPayload(b) }
func (p Unsubscribe) MarshalJSON() ([]byte, error)  { return p.AppendJSON(nil), nil }
func (p *Unsubscribe) UnmarshalJSON(b []byte) error { return p.UnmarshalPayload(b) }
func (p Heartbeat) MarshalJSON() ([]byte, error)    { return p.AppendJSON(nil), nil }
func (p *Heartbeat) UnmarshalJSON(b []byte) error   { return p.UnmarshalPayload(b) }
