package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// Options say what Start builds. The zero value is a server with default
// options over a fresh in-memory store.
type Options struct {
	Engine syncd.Options
	Server server.Options
	// Store is the store to open the engine on; nil: a new memstore.
	// Start closes it when the test ends.
	Store syncd.Store
}

// Server is a real syncd server on 127.0.0.1: an engine over a store,
// server.New, and an httptest listener. It is shut down when the test
// ends (after the test's own cleanups, so after its clients).
type Server struct {
	T       testing.TB
	Engine  *syncd.Engine
	Store   syncd.Store
	Server  *server.Server
	Metrics *server.Metrics
	*HTTP
	// Logs collects what the server and the engine log; Start shows it
	// when the test fails.
	Logs *LogBuffer

	closeOnce sync.Once
}

// Start runs a syncd server for the test. Unless o.Server names Metrics,
// they are made here and wired to the engine's store commits, as
// cmd/syncd does.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	st := o.Store
	if st == nil {
		st = memstore.New(memstore.Options{})
	}
	// Warnings and errors of the server and the engine (unless the
	// options name loggers of their own), shown when the test fails.
	logs := &LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eo, so := o.Engine, o.Server
	if eo.Logger == nil {
		eo.Logger = logger
	}
	if so.Logger == nil {
		so.Logger = logger
	}
	if so.Metrics == nil {
		so.Metrics = server.NewMetrics()
	}
	if eo.ObserveCommit == nil {
		eo.ObserveCommit = so.Metrics.ObserveStoreCommit
	}
	e, err := syncd.Open(st, eo)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(e, so)
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	s := &Server{T: t, Engine: e, Store: st, Server: srv, Metrics: so.Metrics, Logs: logs}
	s.HTTP = Serve(t, srv.Handler())
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			if l := logs.String(); l != "" {
				t.Logf("server logs:\n%s", l)
			}
		}
	})
	return s
}

// Close shuts the server down (every connection is told 1001), then the
// listener, the engine and the store. It may be called more than once
// (restart tests call it early).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*Timeout)
		defer cancel()
		if err := s.Server.Shutdown(ctx); err != nil {
			s.T.Errorf("Shutdown: %v", err)
		}
		s.HTTP.Close()
		if err := s.Engine.Close(); err != nil {
			s.T.Errorf("engine Close: %v", err)
		}
		if err := s.Store.Close(); err != nil {
			s.T.Errorf("store Close: %v", err)
		}
	})
}

// --- documents, through the engine (the test's view of the truth)

// Commit commits a merge patch from Go (no client id) and returns its op.
func (s *Server) Commit(doc string, patch any) *syncd.Op {
	s.T.Helper()
	b, err := json.Marshal(patch)
	if err != nil {
		s.T.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	op, err := s.Engine.Commit(ctx, doc, syncd.Edit{Patch: b})
	if err != nil {
		s.T.Fatalf("commit %s %s: %v", doc, b, err)
	}
	return op
}

// State returns the engine's durable view of doc.
func (s *Server) State(doc string) *syncd.DocState {
	s.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	st, err := s.Engine.State(ctx, doc)
	if err != nil {
		s.T.Fatalf("state of %s: %v", doc, err)
	}
	return st
}

// Ops returns every operation of doc still held, in order (from the
// oldest that retention kept).
func (s *Server) Ops(doc string) []*syncd.Op {
	s.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
	defer cancel()
	var all []*syncd.Op
	after := revision.Rev(0)
	for i := 0; i < 1000; i++ {
		rng, err := s.Engine.ReadOps(ctx, doc, after, 1000)
		if syncd.CodeOf(err) == syncd.CodeGone && len(all) == 0 {
			after = s.firstHeld(ctx, doc) - 1 // retention trimmed the log before it
			continue
		}
		if err != nil {
			s.T.Fatalf("ReadOps %s after %d: %v", doc, after, err)
		}
		all = append(all, rng.Ops...)
		if len(rng.Ops) == 0 || rng.Ops[len(rng.Ops)-1].Rev >= rng.Head {
			return all
		}
		after = rng.Ops[len(rng.Ops)-1].Rev
	}
	s.T.Fatal("ReadOps did not end")
	return nil
}

// firstHeld is the oldest revision of doc's log (DocMeta.First).
func (s *Server) firstHeld(ctx context.Context, doc string) revision.Rev {
	s.T.Helper()
	after := ""
	for i := 0; i < 1000; i++ {
		metas, err := s.Engine.List(ctx, after, 1000)
		if err != nil {
			s.T.Fatal(err)
		}
		for _, m := range metas {
			if m.Doc == doc {
				return m.First
			}
		}
		if len(metas) < 1000 {
			break
		}
		after = metas[len(metas)-1].Doc
	}
	s.T.Fatalf("no document %s", doc)
	return 0
}

// --- HTTP

// Do sends an HTTP request to the server, with the API key key as a
// bearer token if set and body as JSON (a string as it is), and returns
// the status, the body and the headers.
func (s *Server) Do(method, path, key string, body any) (int, []byte, http.Header) {
	s.T.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, err := json.Marshal(b)
			if err != nil {
				s.T.Fatal(err)
			}
			rd = bytes.NewReader(j)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.Base+path, rd)
	if err != nil {
		s.T.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.T.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, b, resp.Header
}

// LogBuffer collects what a test writes (logs, a program's output), safe
// for concurrent writers.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Quiet is a logger that drops everything.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
