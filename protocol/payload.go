package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"

	"github.com/deltasync/syncd/internal/jsonkit"
)

// PayloadDecoder is implemented by payload types that decode themselves
// strictly (every payload type of this package does, without reflection).
type PayloadDecoder interface {
	UnmarshalPayload(data []byte) error
}

// Validator is implemented by payload types with semantic checks beyond
// decoding. The router calls Validate after decoding.
type Validator interface {
	Validate() error
}

// DecodePayload decodes a payload strictly into v, a non-nil pointer. An
// empty payload (the message had none) decodes as {}.
//
// If v implements [PayloadDecoder], that is used. Otherwise v is decoded by
// reflection with these rules, so that an application's own message types
// get the same strictness as syncd's:
//   - an unknown field is an error (at every level of nesting);
//   - a wrong type is an error naming the field ("payload.n: want number,
//     got string");
//   - a top-level struct field is required unless its json tag has
//     omitempty or omitzero, or its type is a pointer; a required field that
//     is missing or null is an error;
//   - keys match the json names exactly, with case (encoding/json would also
//     accept "DOC" for "doc");
//   - a field given twice is an error.
//
// Errors are [*Error]s with code INVALID_ARGUMENT.
func DecodePayload(data []byte, v any) error {
	if len(data) == 0 {
		data = emptyObject
	}
	if d, ok := v.(PayloadDecoder); ok {
		return d.UnmarshalPayload(data)
	}
	return decodeReflect(data, v)
}

var emptyObject = []byte("{}")

// structPlan is what the reflective decoder knows about a struct type.
type structPlan struct {
	fields map[string]bool // json name → required
}

var plans sync.Map // reflect.Type → *structPlan (nil plan: not a struct)

func planFor(t reflect.Type) *structPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*structPlan)
	}
	var plan *structPlan
	if t.Kind() == reflect.Struct {
		plan = &structPlan{fields: map[string]bool{}}
		addFields(plan, t)
	}
	p, _ := plans.LoadOrStore(t, plan)
	return p.(*structPlan)
}

// addFields records the json names of t's fields, following encoding/json's
// rules for tags, "-", unexported fields and embedded structs.
func addFields(plan *structPlan, t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(plan, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := f.Type.Kind() == reflect.Pointer
		for _, o := range strings.Split(opts, ",") {
			if o == "omitempty" || o == "omitzero" {
				optional = true
			}
		}
		plan.fields[name] = !optional
	}
}

func decodeReflect(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &Error{Code: CodeInternal, Message: "protocol: DecodePayload needs a non-nil pointer"}
	}
	// First pass, no reflection: syntax, the top-level keys against the
	// plan, duplicates, nulls and missing required fields.
	if plan := planFor(rv.Type().Elem()); plan != nil {
		if err := checkTopLevel(data, plan); err != nil {
			return err
		}
	} else if !jsonkit.Valid(data) {
		s := jsonkit.Scanner{Data: data}
		_, err := s.SkipValue()
		if err == nil {
			err = s.ErrAt("unexpected data after the value")
		}
		return wireError(err)
	}
	// Second pass: values and types, by encoding/json.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return translateJSONError(err)
	}
	return nil
}

func checkTopLevel(data []byte, plan *structPlan) error {
	d := newObjDecoder(data, "payload", false)
	seen := make(map[string]bool, len(plan.fields))
	for d.next() {
		name := string(d.key)
		required, known := plan.fields[name]
		switch {
		case !known:
			d.unknown()
		case seen[name]:
			d.fail(d.field(), "duplicate field")
		default:
			seen[name] = true
			if d.isNull() {
				if required {
					d.nullRequired()
				}
				continue
			}
			if _, err := d.s.SkipValue(); err != nil {
				d.err = err
			}
		}
	}
	if d.err == nil {
		for name, required := range plan.fields {
			if required && !seen[name] {
				d.fail("payload."+name, "required")
				break
			}
		}
	}
	return d.finishTop()
}

// translateJSONError rewrites encoding/json's errors as field errors.
func translateJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path := "payload"
		if te.Field != "" {
			path += "." + te.Field
		}
		return fieldError(path, "want "+kindOfType(te.Type)+", got "+te.Value)
	}
	var ce *Error
	if errors.As(err, &ce) { // from a nested type's UnmarshalJSON
		return ce
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
		return fieldError("payload."+strings.TrimSuffix(name, `"`), "unknown field")
	}
	return &Error{Code: CodeInvalidArgument, Message: "payload: " + strings.TrimPrefix(msg, "json: "), Cause: err}
}

// kindOfType names a Go type the way the wire errors name JSON types.
func kindOfType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return kindOfType(t.Elem())
	}
	return t.String()
}
