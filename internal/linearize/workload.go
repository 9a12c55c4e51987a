package linearize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deltasync/syncd/client"
)

// Workload is a run of concurrent writers and readers against one
// document on one or several syncd instances. The zero value of every
// field but URLs and Doc means its default.
type Workload struct {
	// URLs are the instances' base URLs ("http://127.0.0.1:8080"); the
	// WebSocket endpoint is URL + "/ws". Writer i and JOIN reader i
	// connect to URLs[i mod n] first and fail over to the others; HTTP
	// reads go to each instance in turn. Required.
	URLs []string
	// Doc is the document; nobody else may write it during the run.
	// Required.
	Doc string
	// APIKey is the HTTP API's key. Empty: no HTTP reads (only JOIN reads).
	APIKey string
	// Writers is the number of SDK clients committing, one edit at a
	// time each. Default 4.
	Writers int
	// Commits is the number of commits per writer. Default 25.
	Commits int
	// Readers is the number of readers; each alternates an HTTP GET (with
	// APIKey) and a fresh JOIN over its own SDK client. Default 2.
	Readers int
	// Reads is the number of reads per reader. Default 25.
	Reads int
	// OpTimeout bounds the wait for one operation's answer; a commit not
	// answered by then has an unknown outcome. Default 10s.
	OpTimeout time.Duration
	// Pause is a delay after each operation, to spread a run over time
	// (for example while a test kills an instance). Default none.
	Pause time.Duration
	// Started, if set, is called once every client is connected and the
	// recording begins (a test that injects a fault waits for it).
	Started func()
	// ClientOptions, if set, adjusts every SDK client's options (after
	// URL, URLs and Logger are set).
	ClientOptions func(*client.Options)
}

func (w Workload) withDefaults() Workload {
	if w.Writers <= 0 {
		w.Writers = 4
	}
	if w.Commits <= 0 {
		w.Commits = 25
	}
	if w.Readers <= 0 {
		w.Readers = 2
	}
	if w.Reads <= 0 {
		w.Reads = 25
	}
	if w.OpTimeout <= 0 {
		w.OpTimeout = 10 * time.Second
	}
	return w
}

// Run runs w, records every operation, and returns the history. It
// returns an error only when the run cannot start: an instance refuses the
// first connection, or the document cannot be joined. Errors during the
// run become unknown outcomes or discarded reads, which is what the
// checker needs to see. It returns when every writer and reader has
// finished or ctx ends, and leaves no goroutine behind. It may be called
// from any goroutine (it never fails a test itself).
func Run(ctx context.Context, w Workload) (History, error) {
	w = w.withDefaults()
	if len(w.URLs) == 0 || w.Doc == "" {
		return History{}, errors.New("linearize.Run: Workload.URLs and Workload.Doc are required")
	}
	httpc := &http.Client{Timeout: w.OpTimeout, Transport: &http.Transport{}}
	defer httpc.CloseIdleConnections()

	// Every client is dialed, and every document joined, before the
	// recording starts, so that the run measures the service, not the
	// dialing; the initial state is read from the first writer's JOIN.
	writers := make([]*client.Doc, w.Writers)
	readers := make([]*client.Client, w.Readers)
	var clients []*client.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range w.Writers {
		c, err := w.dial(ctx, i)
		if err != nil {
			return History{}, err
		}
		clients = append(clients, c)
		jctx, cancel := context.WithTimeout(ctx, w.OpTimeout)
		d, err := c.Join(jctx, w.Doc)
		cancel()
		if err != nil {
			return History{}, fmt.Errorf("linearize: writer %d: Join %s: %w", i, w.Doc, err)
		}
		writers[i] = d
	}
	for i := range w.Readers {
		c, err := w.dial(ctx, i)
		if err != nil {
			return History{}, err
		}
		readers[i] = c
		clients = append(clients, c)
	}
	init, err := joinRead(ctx, writers[0])
	if err != nil {
		return History{}, fmt.Errorf("linearize: the initial state: %w", err)
	}

	rec := NewRecorder()
	if w.Started != nil {
		w.Started()
	}
	var wg sync.WaitGroup
	for i, d := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.write(ctx, rec, i, d)
		}()
	}
	for i, c := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.read(ctx, rec, w.Writers+i, i, c, httpc)
		}()
	}
	wg.Wait()
	return History{Init: NewState(init.Epoch, init.Rev, init.Keys), Ops: rec.Operations()}, nil
}

// dial connects an SDK client to URLs[i mod n] first, the others after.
func (w Workload) dial(ctx context.Context, i int) (*client.Client, error) {
	n := len(w.URLs)
	first := w.URLs[i%n]
	var others []string
	for j := 1; j < n; j++ {
		others = append(others, wsURL(w.URLs[(i+j)%n]))
	}
	o := client.Options{URL: wsURL(first), URLs: others, Logger: slog.New(slog.DiscardHandler),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
	if w.ClientOptions != nil {
		w.ClientOptions(&o)
	}
	dctx, cancel := context.WithTimeout(ctx, w.OpTimeout)
	defer cancel()
	c, err := client.Dial(dctx, o)
	if err != nil {
		return nil, fmt.Errorf("linearize: dial %s: %w", first, err)
	}
	return c, nil
}

func wsURL(base string) string {
	base = strings.TrimSuffix(base, "/")
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/ws"
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/ws"
}

// outcome is what a writer learns of its edit.
type outcome struct {
	key  string
	out  Output
	note string // why it was refused, for the visualization
}

// write commits Commits keys, one at a time, each waiting for its answer
// (acknowledgement, refusal) up to OpTimeout.
func (w Workload) write(ctx context.Context, rec *Recorder, id int, d *client.Doc) {
	results := make(chan outcome, 64)
	report := func(o outcome) {
		select {
		case results <- o:
		default: // an answer to an edit already given up on; nobody waits
		}
	}
	d.OnChange(func(ch client.Change) {
		if ch.Kind != client.ChangeAck || len(ch.Patches) != 1 {
			return
		}
		for _, key := range patchKeys(ch.Patches[0]) {
			report(outcome{key: key, out: Output{Rev: uint64(ch.Rev)}})
		}
	})
	d.OnReject(func(r client.Rejection) {
		out := Output{Refused: true}
		if r.Code == client.CodeOutcomeUnknown {
			out = Output{Unknown: true}
		}
		note := fmt.Sprintf("%s %s: %s", r.ReqID, r.Code, r.Message)
		for _, key := range patchKeys(r.Patch) {
			report(outcome{key, out, note})
		}
	})
	for j := range w.Commits {
		if ctx.Err() != nil {
			return
		}
		key := fmt.Sprintf("w%d-%d", id, j)
		call := rec.Invoke(id, Input{Kind: Commit, Key: key, Via: "sdk"})
		if _, err := d.Merge(map[string]bool{key: true}); err != nil {
			// Refused before sending (the client is closed): never applied.
			call.Return(Output{Refused: true})
			call.Note(err.Error())
			return
		}
		timer := time.NewTimer(w.OpTimeout)
	wait:
		for {
			select {
			case o := <-results:
				if o.key != key {
					continue // the late answer of an earlier edit
				}
				if o.out.Unknown {
					call.Unknown()
				} else {
					call.Return(o.out)
				}
				if o.note != "" {
					call.Note(o.note)
				}
				break wait
			case <-timer.C:
				call.Unknown()
				call.Note("no answer within " + w.OpTimeout.String())
				break wait
			case <-ctx.Done():
				call.Unknown()
				break wait
			}
		}
		timer.Stop()
		w.pause(ctx)
	}
}

// patchKeys returns the keys a merge patch of this workload sets.
func patchKeys(raw json.RawMessage) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return slices.Collect(maps.Keys(m))
}

// read reads Reads times, alternating an HTTP GET (at each instance in
// turn) and a fresh JOIN over c. A read that fails is discarded: it
// observed nothing.
func (w Workload) read(ctx context.Context, rec *Recorder, id, idx int, c *client.Client, httpc *http.Client) {
	for j := range w.Reads {
		if ctx.Err() != nil {
			return
		}
		if w.APIKey != "" && j%2 == 0 {
			base := w.URLs[(idx+j/2)%len(w.URLs)]
			call := rec.Invoke(id, Input{Kind: Read, Via: "http " + base})
			if out, err := w.httpRead(ctx, httpc, base); err != nil {
				call.Discard()
			} else {
				call.Return(out)
			}
		} else {
			call := rec.Invoke(id, Input{Kind: Read, Via: "join " + c.URL()})
			jctx, cancel := context.WithTimeout(ctx, w.OpTimeout)
			d, err := c.Join(jctx, w.Doc)
			var out Output
			if err == nil {
				out, err = joinRead(jctx, d)
				d.Leave()
			}
			cancel()
			if err != nil {
				call.Discard()
			} else {
				call.Return(out)
			}
		}
		w.pause(ctx)
	}
}

func (w Workload) pause(ctx context.Context) {
	if w.Pause <= 0 {
		return
	}
	select {
	case <-time.After(w.Pause):
	case <-ctx.Done():
	}
}

// httpRead is GET /v1/docs/{id} (PROTOCOL.md §11.1).
func (w Workload) httpRead(ctx context.Context, httpc *http.Client, base string) (Output, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/v1/docs/"+url.PathEscape(w.Doc), nil)
	if err != nil {
		return Output{}, err
	}
	req.Header.Set("X-API-Key", w.APIKey)
	resp, err := httpc.Do(req)
	if err != nil {
		return Output{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return Output{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Output{}, fmt.Errorf("GET %s: HTTP %d: %.200s", req.URL, resp.StatusCode, body)
	}
	var doc struct {
		Epoch string                     `json:"epoch"`
		Rev   uint64                     `json:"rev"`
		State map[string]json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return Output{}, fmt.Errorf("GET %s: %w", req.URL, err)
	}
	return Output{Epoch: doc.Epoch, Rev: doc.Rev, Keys: slices.Collect(maps.Keys(doc.State))}, nil
}

// joinRead reads a joined document's confirmed position and state as one
// value: the SDK gives them by separate calls, so a change that lands in
// between would tear the read; it is read again until the revision did
// not move (a bounded number of times).
func joinRead(ctx context.Context, d *client.Doc) (Output, error) {
	for range 100 {
		rev, epoch := d.Rev(), d.Epoch()
		state := d.Confirmed()
		if d.Rev() != rev || d.Epoch() != epoch {
			if ctx.Err() != nil {
				return Output{}, ctx.Err()
			}
			continue
		}
		m, ok := state.(map[string]any)
		if !ok {
			return Output{}, fmt.Errorf("document %s is %T, not an object", d.ID(), state)
		}
		return Output{Epoch: string(epoch), Rev: uint64(rev), Keys: slices.Collect(maps.Keys(m))}, nil
	}
	return Output{}, errors.New("the document kept changing while it was read")
}
