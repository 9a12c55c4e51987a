package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/schema"
)

// schemaFiles parses -schema: prefix=file pairs, comma-separated like
// -policy.
func (c *Config) schemaFiles() (map[string]string, error) {
	out := map[string]string{}
	for _, item := range splitList(c.Schemas) {
		prefix, file, ok := strings.Cut(item, "=")
		file = strings.TrimSpace(file)
		if !ok || file == "" {
			return nil, fmt.Errorf("-schema: %q is not prefix=file.json", item)
		}
		if prev, dup := out[prefix]; dup && prev != file {
			return nil, fmt.Errorf("-schema: prefix %q has two schemas, %s and %s", prefix, prev, file)
		}
		out[prefix] = file
	}
	return out, nil
}

// loadSchemas compiles the -schema files and returns the engine's
// validation hook, or nil when there are none. A file that does not
// compile stops the start: serving without the checks it asks for would
// let invalid documents in.
func (c *Config) loadSchemas() (func(context.Context, *syncd.Validation) error, error) {
	files, err := c.schemaFiles()
	if err != nil || len(files) == 0 {
		return nil, err
	}
	set, err := schema.Load(files)
	if err != nil {
		return nil, fmt.Errorf("-schema: %w", err)
	}
	return set.Validate, nil
}
