package main

import (
	"context"
	"fmt"
	"io"

	"github.com/deltasync/syncd/store/boltstore"
)

// runCompact is "syncd compact -data DIR": bbolt never gives freed pages
// back to the file system, so a database that once held much more than it
// does now stays large; compacting rewrites it with only the live pages.
func runCompact(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := newFlagSet("compact", "-data DIR",
		"Rewrites the database of a stopped syncd without its free pages, checks the\n"+
			"result and puts it in place atomically. Needs free disk space for the copy.", errOut)
	dir := fs.String("data", "", "data directory of a stopped syncd (required)")
	rest, code, ok := parseCommand(fs, args)
	if !ok {
		return code
	}
	if len(rest) != 0 || *dir == "" {
		return usageError(errOut, "compact", "want -data DIR and no arguments")
	}
	before, after, err := boltstore.Compact(ctx, dbPath(*dir))
	if err != nil {
		return failedOnData(errOut, "compact", *dir, err, "stop it first")
	}
	if after == before {
		fmt.Fprintf(out, "%s has no space to reclaim (%s); left as it was\n", dbPath(*dir), humanBytes(before))
		return 0
	}
	saved := 0.0
	if before > 0 {
		saved = 100 * float64(before-after) / float64(before)
	}
	fmt.Fprintf(out, "compacted %s: %s → %s (%.0f%% smaller)\n", dbPath(*dir), humanBytes(before), humanBytes(after), saved)
	return 0
}
