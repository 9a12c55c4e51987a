package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deltasync/syncd/store/boltstore"
)

// The maintenance commands: syncd <command> [flags] [args]. Plain
// "syncd [flags]" serves. Each command has its own flag set, so the
// server's flags (config.go) and the commands' do not mix.

// command runs one maintenance command and returns the process's exit
// code: 0 done, 1 failed, 2 bad usage.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, out, errOut io.Writer) int
}

var commands = map[string]command{
	"backup":  {"copy the database to a file, from a running syncd (-url) or a stopped one (-data)", runBackup},
	"restore": {"put a backup in place as the database of a stopped syncd, with new epochs", runRestore},
	"inspect": {"list the documents of a stopped syncd, or show one", runInspect},
	"compact": {"rewrite the database of a stopped syncd to reclaim free space", runCompact},
}

// lookupCommand returns the command named by the first argument, if any.
func lookupCommand(args []string) (command, bool) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return command{}, false
	}
	c, ok := commands[args[0]]
	return c, ok
}

// newFlagSet returns a command's flag set, with a usage text of its own.
func newFlagSet(name, synopsis, about string, errOut io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("syncd "+name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "Usage: syncd %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseCommand parses a command's flags; flags may come before or after
// its arguments. It returns the arguments, or the exit code to end with.
func parseCommand(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		if fs.NArg() == 0 {
			return rest, 0, true
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// usageError reports bad usage and returns its exit code.
func usageError(errOut io.Writer, name, format string, args ...any) int {
	fmt.Fprintf(errOut, "syncd %s: %s (see syncd %s -h)\n", name, fmt.Sprintf(format, args...), name)
	return 2
}

// failed reports a failure and returns its exit code.
func failed(errOut io.Writer, name string, err error) int {
	fmt.Fprintf(errOut, "syncd %s: %v\n", name, err)
	return 1
}

// failedOnData reports err from opening the database of the data
// directory dir: a running syncd's lock is said in words, with what to do
// instead.
func failedOnData(errOut io.Writer, name, dir string, err error, instead string) int {
	if errors.Is(err, boltstore.ErrLocked) {
		err = fmt.Errorf("a syncd is running on %s: %s", dir, instead)
	}
	return failed(errOut, name, err)
}

// dbPath is the database file of a data directory.
func dbPath(dir string) string { return filepath.Join(dir, "syncd.db") }

// writeAtomically writes a file through fill into a temporary file beside
// path, syncs it, lets check vet it, and renames it over path: path is the
// old file or the new one, whole, whatever happens.
func writeAtomically(path string, fill func(f *os.File) error, check func(tmp string) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := check(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	return nil
}

// humanBytes formats a size for people.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// documents says how many documents, in words.
func documents(n int) string {
	if n == 1 {
		return "1 document"
	}
	return fmt.Sprintf("%d documents", n)
}
