package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/store/boltstore"
)

// restoreOverHTTP writes every document of the backup file into the
// running syncd at base, through its HTTP API: the way back for a cluster
// (-store nats), whose log cannot be replaced by a file, and a way to move
// documents between single nodes without stopping the target. Each
// document is deleted there if it exists (only with force: otherwise any
// existing one refuses the whole restore before anything is written) and
// created again by one edit that replaces the whole document with the
// backup's state — so it starts a new epoch, like every restore, and its
// clients take a snapshot when they come back. Documents of the target
// that the backup does not hold are left alone. It returns how many
// documents it wrote.
func restoreOverHTTP(ctx context.Context, file, base, apiKey string, force bool) (int, error) {
	st, err := boltstore.OpenReadOnly(file, boltstore.Options{})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	// The states come from an engine over the backup, as inspect reads
	// them: exactly what a client of that database would be served.
	e, err := syncd.Open(st, syncd.Options{IdleTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	defer e.Close()
	api := &apiClient{base: strings.TrimSuffix(base, "/"), key: apiKey}

	var docs []string
	for after := ""; ; {
		metas, err := e.List(ctx, after, exportPage)
		if err != nil {
			return 0, err
		}
		for _, m := range metas {
			docs = append(docs, m.Doc)
		}
		if len(metas) < exportPage {
			break
		}
		after = metas[len(metas)-1].Doc
	}
	var existing []string
	for _, doc := range docs {
		status, _, err := api.call(ctx, http.MethodGet, docPath(doc), nil)
		if err != nil {
			return 0, err
		}
		switch status {
		case http.StatusOK:
			existing = append(existing, doc)
		case http.StatusNotFound:
		default:
			return 0, fmt.Errorf("GET %s: HTTP %d", docPath(doc), status)
		}
	}
	if len(existing) > 0 && !force {
		return 0, fmt.Errorf("%s already in %s (e.g. %q): give -force to replace them", documents(len(existing)), base, existing[0])
	}
	for i, doc := range docs {
		snap, err := snapshotWhenRoom(ctx, e, doc)
		if err != nil {
			return i, fmt.Errorf("document %q of the backup: %w", doc, err)
		}
		if status, body, err := api.call(ctx, http.MethodDelete, docPath(doc), nil); err != nil || status/100 != 2 && status != http.StatusNotFound {
			return i, apiFailure(http.MethodDelete, doc, status, body, err)
		}
		edit, _ := json.Marshal(map[string]any{"patch": []any{map[string]any{"op": "replace", "path": "", "value": json.RawMessage(snap.State)}}})
		if status, body, err := api.call(ctx, http.MethodPost, docPath(doc)+"/edits", edit); err != nil || status/100 != 2 {
			return i, apiFailure(http.MethodPost, doc, status, body, err)
		}
	}
	return len(docs), nil
}

// apiClient calls a running syncd's HTTP API with its API key.
type apiClient struct {
	base, key string
}

// maxBusyWait bounds how long call keeps retrying a request the target
// refuses with 429 (its documents in memory at their budget).
const maxBusyWait = 2 * time.Minute

// call sends a request and returns the status and (the start of) the
// body. A 429 RESOURCE_EXHAUSTED (a target at its -max-loaded-docs budget)
// refused the request without doing anything, and says when to retry: it
// is retried after retryAfterMs, for up to maxBusyWait.
func (a *apiClient) call(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	deadline := time.Now().Add(maxBusyWait)
	for {
		status, b, err := a.once(ctx, method, path, body)
		if err != nil || status != http.StatusTooManyRequests || time.Now().After(deadline) {
			return status, b, err
		}
		var refusal struct {
			Error struct {
				RetryAfterMs int64 `json:"retryAfterMs"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &refusal)
		wait := min(max(time.Duration(refusal.Error.RetryAfterMs)*time.Millisecond, 50*time.Millisecond), 5*time.Second)
		select {
		case <-ctx.Done():
			return status, b, nil
		case <-time.After(wait):
		}
	}
}

// once sends one request.
func (a *apiClient) once(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, b, nil
}

// docPath is doc's path in the API. url.PathEscape leaves dots alone, and
// an id "." or ".." as a path segment would be cleaned away by the server's
// router (a redirect to another route), so its dots are escaped too.
func docPath(doc string) string {
	seg := url.PathEscape(doc)
	if seg == "." || seg == ".." {
		seg = strings.ReplaceAll(seg, ".", "%2E")
	}
	return "/v1/docs/" + seg
}

func apiFailure(method, doc string, status int, body []byte, err error) error {
	if err != nil {
		return fmt.Errorf("%s of document %q: %w", method, doc, err)
	}
	return fmt.Errorf("%s of document %q: HTTP %d: %s", method, doc, status, strings.TrimSpace(string(body)))
}
