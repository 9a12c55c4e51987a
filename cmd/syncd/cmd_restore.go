package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/boltstore"
)

// runRestore is "syncd restore FILE -data DIR": the backup becomes the
// database of a stopped syncd. Every document gets a new epoch: a client
// that saw revisions past the backup would otherwise be served deltas over
// a different history (or wait for revisions that now mean something
// else); with a new epoch it takes a snapshot (PROTOCOL.md §6.3, §6.8).
// The watermarks go with the old epochs (§6.7).
func runRestore(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := newFlagSet("restore", "FILE (-data DIR | -url URL -api-key KEY) [-force]",
		"Checks the backup FILE, gives every document a new epoch (clients take a\n"+
			"snapshot on reconnecting; watermarks start over) and puts it in place as\n"+
			"DIR/syncd.db, atomically. Refused while a syncd runs on DIR, and when\n"+
			"DIR/syncd.db exists unless -force.\n"+
			"With -url instead: writes every document of FILE into a running syncd (a\n"+
			"cluster instance too) over its HTTP API, each as a new epoch; refused when\n"+
			"any of them exists there unless -force (which replaces those).", errOut)
	dir := fs.String("data", "", "data directory of a stopped syncd")
	url := fs.String("url", "", "base URL of a running syncd to restore into, e.g. http://127.0.0.1:8080")
	apiKey := fs.String("api-key", "", "with -url: the running syncd's -api-key (default $SYNCD_API_KEY)")
	force := fs.Bool("force", false, "replace an existing database (with -url: existing documents)")
	rest, code, ok := parseCommand(fs, args)
	if !ok {
		return code
	}
	if len(rest) != 1 || (*dir == "") == (*url == "") {
		return usageError(errOut, "restore", "want one FILE and either -data DIR or -url URL")
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("SYNCD_API_KEY")
	}
	if *url != "" && *apiKey == "" {
		return usageError(errOut, "restore", "-url needs -api-key (or SYNCD_API_KEY)")
	}
	file, target := rest[0], dbPath(*dir)
	if _, err := boltstore.Verify(ctx, file); err != nil {
		return failed(errOut, "restore", fmt.Errorf("%s is not a good backup: %w", file, err))
	}
	if *url != "" {
		n, err := restoreOverHTTP(ctx, file, *url, *apiKey, *force)
		if err != nil {
			return failed(errOut, "restore", err)
		}
		fmt.Fprintf(out, "restored %s from %s into %s, each with a new epoch\n", documents(n), file, *url)
		return 0
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return failed(errOut, "restore", err)
	}
	if _, err := os.Stat(target); err == nil {
		// Holding the old file's shared lock until the rename keeps a
		// syncd from starting on it meanwhile.
		old, err := boltstore.OpenReadOnly(target, boltstore.Options{})
		if errors.Is(err, boltstore.ErrLocked) {
			return failedOnData(errOut, "restore", *dir, err, "stop it first")
		}
		if old != nil {
			defer old.Close()
		}
		if !*force {
			return failed(errOut, "restore", fmt.Errorf("%s exists: give -force to replace it", target))
		}
		// A damaged database (err != nil, not locked) is what -force
		// replaces.
	}
	docs := 0
	err := writeAtomically(target, func(f *os.File) error {
		src, err := os.Open(file)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(f, src)
		return err
	}, func(tmp string) error {
		n, err := boltstore.RenewEpochs(tmp, syncd.NewEpoch)
		if err != nil {
			return err
		}
		docs = n
		if _, err = boltstore.Verify(ctx, tmp); err != nil {
			return err
		}
		// The replaced database's write-ahead log (applied to it when
		// it was opened above) must not be read against the restored
		// file at the next start.
		return boltstore.RemoveLogFiles(target)
	})
	if err != nil {
		return failed(errOut, "restore", err)
	}
	fmt.Fprintf(out, "restored %s from %s into %s, each with a new epoch\n", documents(docs), file, target)
	return 0
}
