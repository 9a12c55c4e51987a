// Package embed shows syncd embedded in a program's own HTTP server: the
// engine and the sync protocol live beside the program's routes, the
// program adds an RPC of its own to the WebSocket router, validates edits
// with a hook, and commits edits from Go.
//
// Run it with `go run ./examples/embed/cmd/embed`; the test beside this file
// runs it against the Go client.
package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"unicode/utf8"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// The application's own RPC: a summary of a document.
const (
	TypeSummary      = "DOC.SUMMARY"
	TypeSummaryReply = "DOC.SUMMARY.OK"
)

// SummaryRequest asks for a document's summary.
type SummaryRequest struct {
	Doc string `json:"doc"`
}

// Validate is called by the router before the handler (an invalid request
// is answered INVALID_ARGUMENT without reaching it).
func (r SummaryRequest) Validate() error {
	if err := syncd.ValidateDocID(r.Doc); err != nil {
		return protocol.NewError(protocol.CodeInvalidArgument, "doc: "+err.Error())
	}
	return nil
}

// Summary is the reply.
type Summary struct {
	Doc  string `json:"doc"`
	Rev  uint64 `json:"rev"`
	Keys int    `json:"keys"`
}

// MaxTitle is the longest "title" the validation hook lets into any
// document: an example of an application rule the engine enforces.
const MaxTitle = 80

// App is the program: its HTTP handler serves the application's routes and
// syncd's.
type App struct {
	store  *memstore.Store
	engine *syncd.Engine
	server *server.Server
	mux    *http.ServeMux
}

// New builds the app. Close it when done.
func New(logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	a := &App{store: memstore.New(memstore.Options{}), mux: http.NewServeMux()}
	var err error
	a.engine, err = syncd.Open(a.store, syncd.Options{Logger: logger, Validate: validateTitle})
	if err != nil {
		return nil, err
	}
	a.server, err = server.New(a.engine, server.Options{Logger: logger})
	if err != nil {
		a.engine.Close()
		return nil, err
	}
	// The application's RPC, beside the sync protocol, on the same router.
	router.HandleRPC(a.server.Router(), TypeSummary, TypeSummaryReply, a.summary)

	a.mux.Handle("/ws", a.server.Handler())
	a.mux.Handle("/healthz", a.server.Handler())
	a.mux.HandleFunc("POST /announce", a.announce)
	a.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "an application with syncd inside: WebSocket at /ws, POST /announce?doc=…&text=…")
	})
	return a, nil
}

// Handler returns the program's HTTP handler.
func (a *App) Handler() http.Handler { return a.mux }

// Engine returns the embedded engine.
func (a *App) Engine() *syncd.Engine { return a.engine }

// Close shuts the server, the engine and the store down, in that order.
func (a *App) Close() {
	a.server.Shutdown(context.Background())
	a.engine.Close()
	a.store.Close()
}

// validateTitle refuses an edit that would leave a title over MaxTitle
// characters; it sees the document as it would become.
func validateTitle(_ context.Context, v *syncd.Validation) error {
	title, _ := v.State.(map[string]any)["title"].(string)
	if utf8.RuneCountInString(title) > MaxTitle {
		return syncd.Errorf(syncd.CodeInvalid, "title is longer than %d characters", MaxTitle)
	}
	return nil
}

// summary answers DOC.SUMMARY from the engine.
func (a *App) summary(x *router.Ctx, req SummaryRequest) (Summary, error) {
	snap, err := a.engine.State(x.Context(), req.Doc)
	if syncd.CodeOf(err) == syncd.CodeNotFound {
		return Summary{}, protocol.NewError(protocol.CodeNotFound, "no such document")
	}
	if err != nil {
		return Summary{}, err
	}
	var state map[string]json.RawMessage
	if err := json.Unmarshal(snap.State, &state); err != nil {
		return Summary{}, err
	}
	return Summary{Doc: req.Doc, Rev: uint64(snap.Rev), Keys: len(state)}, nil
}

// announce commits an edit from Go: every client joined to the document
// receives it like any other operation.
func (a *App) announce(w http.ResponseWriter, r *http.Request) {
	doc, text := r.URL.Query().Get("doc"), r.URL.Query().Get("text")
	patch, _ := json.Marshal(map[string]string{"announcement": text})
	op, err := a.engine.Commit(r.Context(), doc, syncd.Edit{Patch: patch})
	if err != nil {
		var ee *syncd.Error
		status := http.StatusInternalServerError
		if errors.As(err, &ee) && ee.Code == syncd.CodeInvalid {
			status = http.StatusBadRequest
		}
		http.Error(w, err.Error(), status)
		return
	}
	fmt.Fprintf(w, "committed as revision %d\n", op.Rev)
}
