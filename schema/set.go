package schema

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/deltasync/syncd"
)

// Set chooses a schema by document-id prefix: the longest matching prefix
// wins, as with the conflict policies. Documents no prefix matches are
// not checked.
type Set struct {
	// longest first, so the first match is the longest
	byPrefix []prefixed
}

type prefixed struct {
	prefix string
	schema *Schema
}

// Load compiles the schema files of a prefix → file map. A file named for
// several prefixes is compiled once. The first file that does not compile
// fails the load; the error names it.
func Load(files map[string]string) (*Set, error) {
	s := &Set{}
	compiled := map[string]*Schema{}
	prefixes := make([]string, 0, len(files))
	for p := range files {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes) // a stable order: the same file fails first every time
	for _, p := range prefixes {
		file := files[p]
		sch, ok := compiled[file]
		if !ok {
			var err error
			if sch, err = Compile(file); err != nil {
				return nil, err
			}
			compiled[file] = sch
		}
		s.byPrefix = append(s.byPrefix, prefixed{prefix: p, schema: sch})
	}
	sort.SliceStable(s.byPrefix, func(i, j int) bool { return len(s.byPrefix[i].prefix) > len(s.byPrefix[j].prefix) })
	return s, nil
}

// Len is the number of prefixes with a schema.
func (s *Set) Len() int { return len(s.byPrefix) }

// For returns the schema of a document id, or nil.
func (s *Set) For(doc string) *Schema {
	for _, p := range s.byPrefix {
		if strings.HasPrefix(doc, p.prefix) {
			return p.schema
		}
	}
	return nil
}

// Validate is the engine's validation hook (syncd.Options.Validate). An
// edit that leaves its document invalid is refused with CodeInvalid; the
// refusal's cause is a *syncd.Violation.
func (s *Set) Validate(_ context.Context, v *syncd.Validation) error {
	sch := s.For(v.Doc)
	if sch == nil {
		return nil
	}
	doc, ok := v.State.(map[string]any)
	var err error
	if !ok || !v.Checked {
		err = sch.ValidateAll(v.State)
	} else {
		var buf [8]string
		changed, root := buf[:0], false
		for p := range v.Paths.All() {
			if p == "" {
				root = true
				break
			}
			changed = append(changed, firstToken(p))
		}
		err = sch.ValidateChanged(doc, changed, root)
	}
	if err == nil {
		return nil
	}
	var viol *syncd.Violation
	if !errors.As(err, &viol) {
		viol = &syncd.Violation{Message: err.Error()}
	}
	return &syncd.Error{Code: syncd.CodeInvalid, Message: "the edit would not match the schema " + sch.file, Err: viol}
}

// firstToken returns the first reference token of a JSON Pointer other
// than "", unescaped: "/a~1b/0" gives "a/b".
func firstToken(p string) string {
	tok := p[1:]
	if i := strings.IndexByte(tok, '/'); i >= 0 {
		tok = tok[:i]
	}
	if strings.IndexByte(tok, '~') >= 0 {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return tok
}
