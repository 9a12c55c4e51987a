package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/deltasync/syncd/store/boltstore"
)

// runBackup is "syncd backup FILE": a consistent copy of the database,
// from a running syncd over its HTTP API (GET /v1/backup) or from the data
// directory of a stopped one. The copy is written beside FILE, checked
// (opened read-only, every page and document), and only then renamed to
// FILE.
func runBackup(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := newFlagSet("backup", "FILE (-url URL -api-key KEY | -data DIR)",
		"Copies the database to FILE, atomically, and checks the copy.\n"+
			"From a running syncd: -url and -api-key (or SYNCD_API_KEY); the server keeps serving.\n"+
			"From a stopped syncd: -data (refused while a syncd runs on it).", errOut)
	url := fs.String("url", "", "base URL of a running syncd, e.g. http://127.0.0.1:8080")
	apiKey := fs.String("api-key", "", "the running syncd's -api-key (default $SYNCD_API_KEY)")
	dir := fs.String("data", "", "data directory of a stopped syncd")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	rest, code, ok := parseCommand(fs, args)
	if !ok {
		return code
	}
	if len(rest) != 1 {
		return usageError(errOut, "backup", "want one FILE, got %d arguments", len(rest))
	}
	if (*url == "") == (*dir == "") {
		return usageError(errOut, "backup", "give either -url (a running syncd) or -data (a stopped one)")
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("SYNCD_API_KEY")
	}
	if *url != "" && *apiKey == "" {
		return usageError(errOut, "backup", "-url needs -api-key (or SYNCD_API_KEY)")
	}
	file := rest[0]
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var fill func(f *os.File) error
	if *url != "" {
		fill = func(f *os.File) error { return backupOverHTTP(ctx, *url, *apiKey, f) }
	} else {
		st, err := boltstore.OpenReadOnly(dbPath(*dir), boltstore.Options{})
		if err != nil {
			return failedOnData(errOut, "backup", *dir, err, "back it up over its HTTP API with -url and -api-key, or stop it first")
		}
		defer st.Close()
		fill = func(f *os.File) error {
			_, err := st.Backup(ctx, f)
			return err
		}
	}
	docs := 0
	err := writeAtomically(file, fill, func(tmp string) error {
		n, err := boltstore.Verify(ctx, tmp)
		if err != nil {
			return fmt.Errorf("the copy does not check out, not kept: %w", err)
		}
		docs = n
		return nil
	})
	if err != nil {
		return failed(errOut, "backup", err)
	}
	st, _ := os.Stat(file)
	fmt.Fprintf(out, "backed up %s to %s (%s), checked\n", documents(docs), file, humanBytes(st.Size()))
	return 0
}

// backupOverHTTP streams GET /v1/backup of the syncd at base into w.
func backupOverHTTP(ctx context.Context, base, apiKey string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/v1/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("GET %s: HTTP %d: %s", req.URL, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", req.URL, err)
	}
	return nil
}
