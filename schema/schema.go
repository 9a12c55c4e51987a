package schema

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/deltasync/syncd"
)

// Schema is one compiled schema file.
type Schema struct {
	file string
	root *jsonschema.Schema
	// members is set when the schema allows checking only the top-level
	// members an edit changed (see partial.go); nil means the whole
	// document is checked every time.
	members *memberPlan
}

// Compile reads and compiles the schema in file. Documents it does not say
// otherwise of ($schema) are read as draft 2020-12. Its errors name the
// file.
func Compile(file string) (*Schema, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", file, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", file, err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("schema %s: not JSON: %w", file, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(abs, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", file, err)
	}
	root, err := c.Compile(abs)
	if err != nil {
		return nil, fmt.Errorf("schema %s does not compile: %w", file, err)
	}
	return &Schema{file: file, root: root, members: planMembers(root)}, nil
}

// File is the file the schema was compiled from.
func (s *Schema) File() string { return s.file }

// Partial reports whether the schema allows checking only what an edit
// changed.
func (s *Schema) Partial() bool { return s.members != nil }

// ValidateAll checks a whole document (decoded JSON, numbers as
// json.Number). It returns nil or a *syncd.Violation.
func (s *Schema) ValidateAll(doc any) error {
	if err := s.root.Validate(doc); err != nil {
		return violation(err)
	}
	return nil
}

// ValidateChanged checks doc knowing that only the top-level members
// named in changed may differ from a version of doc that was valid. root
// is true when the edit replaced the whole document. When the schema does
// not allow that shortcut it checks the whole document. A refusal always
// comes from checking the whole document, so that its place and rule are
// the same whichever way was taken.
func (s *Schema) ValidateChanged(doc map[string]any, changed []string, root bool) error {
	if s.members == nil || root || s.members.check(doc, changed) != nil {
		return s.ValidateAll(doc)
	}
	return nil
}

// violation turns the library's error into a *syncd.Violation naming one
// innermost failure: the place in the document and the keyword in the
// schema that refused it. The library visits an object's members in map
// order, so of several failures the first in (place, rule) order is
// chosen: the same edit is always refused the same way.
func violation(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &syncd.Violation{Message: err.Error()}
	}
	var best *jsonschema.OutputUnit
	var visit func(u *jsonschema.OutputUnit)
	visit = func(u *jsonschema.OutputUnit) {
		if len(u.Errors) == 0 {
			if best == nil || u.InstanceLocation < best.InstanceLocation ||
				(u.InstanceLocation == best.InstanceLocation && u.KeywordLocation < best.KeywordLocation) {
				best = u
			}
			return
		}
		for i := range u.Errors {
			visit(&u.Errors[i])
		}
	}
	visit(ve.DetailedOutput())
	v := &syncd.Violation{InstancePath: best.InstanceLocation, KeywordLocation: best.KeywordLocation}
	// The library writes the keyword location as a URI fragment
	// (%5E for ^); people and clients read the plain pointer better.
	if kw, err := url.PathUnescape(v.KeywordLocation); err == nil {
		v.KeywordLocation = kw
	}
	if best.Error != nil {
		v.Message = best.Error.String()
	} else {
		v.Message = strings.TrimSpace(ve.Error())
	}
	return v
}
