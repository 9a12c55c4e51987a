package schema

import (
	"errors"
	"slices"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A commit changes a few members of a document that may be large; checking
// the whole document against its schema on every commit would make the
// commit cost grow with the document. When the schema's top level only
// says things about each member separately (properties,
// patternProperties, additionalProperties, propertyNames), a document
// that was valid stays valid when every changed member is valid on its
// own: only those are checked. The few top-level keywords that look at the
// set of member names (required, dependentRequired, minProperties,
// maxProperties) are cheap and checked on every commit. Anything that
// looks at the object as a whole (allOf, if, dependentSchemas,
// unevaluatedProperties, a $ref beside other keywords, ...) rules the
// shortcut out.
//
// The shortcut only says "valid": when it finds a problem, the whole
// document is checked to name the place and the rule, so a refusal reads
// the same either way.

// memberPlan is what a schema's top level says about each member.
type memberPlan struct {
	root *jsonschema.Schema
}

// errInvalid says the shortcut found the document invalid; the caller
// checks the whole document for the place and the rule.
var errInvalid = errors.New("invalid")

// planMembers returns the plan for root, or nil if root says something
// about the document as a whole. A root that is only a $ref (a common
// layout: the real schema under $defs) is planned on what it refers to.
func planMembers(root *jsonschema.Schema) *memberPlan {
	r := root
	for r.Ref != nil {
		if looksAtWhole(r) || hasMemberKeywords(r) || r.Types != nil {
			return nil
		}
		r = r.Ref
	}
	if looksAtWhole(r) {
		return nil
	}
	// A $dynamicRef (or $recursiveRef) anywhere below resolves against the
	// schema resources the validation passed through on its way there; a
	// member checked on its own starts that path at the member, so its
	// verdict may differ from the whole document's.
	if reachesDynamicRef(root, map[*jsonschema.Schema]bool{}) {
		return nil
	}
	// Keywords of other types (items, minLength, ...) do not apply to an
	// object, and a document's root is always an object; but a type list
	// without "object" refuses every document.
	if r.Types != nil && !slices.Contains(r.Types.ToStrings(), "object") {
		return nil
	}
	return &memberPlan{root: r}
}

// looksAtWhole reports whether r has a keyword, other than $ref, that
// looks at the object as a whole rather than member by member.
func looksAtWhole(r *jsonschema.Schema) bool {
	return r.Bool != nil || r.RecursiveRef != nil || r.DynamicRef != nil ||
		r.RecursiveAnchor || r.DynamicAnchor != "" ||
		r.Enum != nil || r.Const != nil || r.Not != nil ||
		len(r.AllOf) > 0 || len(r.AnyOf) > 0 || len(r.OneOf) > 0 ||
		r.If != nil || r.Then != nil || r.Else != nil || r.Format != nil ||
		len(r.Dependencies) > 0 || len(r.DependentSchemas) > 0 ||
		r.UnevaluatedProperties != nil || len(r.Extensions) > 0
}

// hasMemberKeywords reports whether r has any of the keywords the plan
// checks itself.
func hasMemberKeywords(r *jsonschema.Schema) bool {
	return len(r.Properties) > 0 || len(r.PatternProperties) > 0 || r.AdditionalProperties != nil ||
		r.PropertyNames != nil || len(r.Required) > 0 || r.MinProperties != nil || r.MaxProperties != nil ||
		len(r.DependentRequired) > 0
}

// check checks the members of doc named in changed, and the top-level
// keywords about member names. It returns nil or errInvalid.
func (p *memberPlan) check(doc map[string]any, changed []string) error {
	r := p.root
	for _, name := range r.Required {
		if _, ok := doc[name]; !ok {
			return errInvalid
		}
	}
	if r.MinProperties != nil && len(doc) < *r.MinProperties {
		return errInvalid
	}
	if r.MaxProperties != nil && len(doc) > *r.MaxProperties {
		return errInvalid
	}
	for name, needs := range r.DependentRequired {
		if _, ok := doc[name]; !ok {
			continue
		}
		for _, n := range needs {
			if _, ok := doc[n]; !ok {
				return errInvalid
			}
		}
	}
	for _, name := range changed {
		v, ok := doc[name]
		if !ok {
			continue // removed: only the name checks above see it
		}
		if err := p.checkMember(name, v); err != nil {
			return err
		}
	}
	return nil
}

// checkMember checks one member against every subschema that applies to
// it at the top level.
func (p *memberPlan) checkMember(name string, v any) error {
	r := p.root
	if r.PropertyNames != nil && r.PropertyNames.Validate(name) != nil {
		return errInvalid
	}
	matched := false
	if sub, ok := r.Properties[name]; ok {
		matched = true
		if sub.Validate(v) != nil {
			return errInvalid
		}
	}
	for re, sub := range r.PatternProperties {
		if re.MatchString(name) {
			matched = true
			if sub.Validate(v) != nil {
				return errInvalid
			}
		}
	}
	if matched {
		return nil
	}
	switch ap := r.AdditionalProperties.(type) {
	case bool:
		if !ap {
			return errInvalid
		}
	case *jsonschema.Schema:
		if ap.Validate(v) != nil {
			return errInvalid
		}
	}
	return nil
}

// reachesDynamicRef reports whether s, or a schema it leads to, has a
// $dynamicRef or $recursiveRef.
func reachesDynamicRef(s *jsonschema.Schema, seen map[*jsonschema.Schema]bool) bool {
	if s == nil || seen[s] {
		return false
	}
	seen[s] = true
	if s.DynamicRef != nil || s.RecursiveRef != nil {
		return true
	}
	subs := []*jsonschema.Schema{s.Ref, s.Not, s.If, s.Then, s.Else, s.PropertyNames, s.UnevaluatedProperties,
		s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	subs = append(subs, s.AllOf...)
	subs = append(subs, s.AnyOf...)
	subs = append(subs, s.OneOf...)
	subs = append(subs, s.PrefixItems...)
	for _, x := range s.Properties {
		subs = append(subs, x)
	}
	for _, x := range s.PatternProperties {
		subs = append(subs, x)
	}
	for _, x := range s.DependentSchemas {
		subs = append(subs, x)
	}
	for _, x := range s.Dependencies {
		if x, ok := x.(*jsonschema.Schema); ok {
			subs = append(subs, x)
		}
	}
	for _, x := range []any{s.AdditionalProperties, s.AdditionalItems, s.Items} {
		switch x := x.(type) {
		case *jsonschema.Schema:
			subs = append(subs, x)
		case []*jsonschema.Schema:
			subs = append(subs, x...)
		}
	}
	for _, x := range subs {
		if reachesDynamicRef(x, seen) {
			return true
		}
	}
	return false
}
