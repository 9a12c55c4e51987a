package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
	"github.com/deltasync/syncd/router"
)

// The HTTP API lets backends read and edit documents without a WebSocket.
// Every route needs the API key (Authorization: Bearer <key>, or the
// X-API-Key header); without a configured key the API is off (404).
// Document ids travel as one path segment: escape "/" in an id as %2F.
//
//	GET    /v1/docs?after=&limit=          list documents
//	GET    /v1/docs/{id}                   the document: {doc, epoch, rev, state}
//	GET    /v1/docs/{id}/ops?after=N&limit= operations after N (410 when trimmed)
//	POST   /v1/docs/{id}/edits             commit an edit (same rules as UPDATE)
//	DELETE /v1/docs/{id}                   delete (re-creating starts a new epoch)
//	GET    /v1/backup                      a consistent copy of the database

// maxEditBody bounds the body of an edit request, the only route that
// reads one (httpbounds.go).
const maxEditBody = 4 << 20

const editPattern = "POST /v1/docs/{id}/edits"

type httpAPI struct {
	engine *syncd.Engine
	key    string
	backup func(ctx context.Context, w io.Writer) (int64, error)
	m      *Metrics
	// proxies tells the client's address (router.ClientAddr); guesses
	// bounds the wrong keys per address (keyguesses.go).
	proxies router.TrustedProxies
	guesses *addrLimiters

	writeTimeout time.Duration // for each chunk of the backup stream
}

func (a *httpAPI) register(mux *http.ServeMux) {
	mux.Handle("GET /v1/docs", a.guard(a.list))
	mux.Handle("GET /v1/docs/{id}", a.guard(a.read))
	mux.Handle("GET /v1/docs/{id}/ops", a.guard(a.ops))
	mux.Handle(editPattern, a.guard(a.edit))
	mux.Handle("DELETE /v1/docs/{id}", a.guard(a.remove))
	mux.Handle("GET /v1/backup", a.guard(a.backupDB))
	a.registerNotFound(mux) // httpapi_notfound.go
}

// guard checks the API key in constant time. A refused request's body is
// never read (refuseBody): an unauthenticated client cannot hold the
// connection open by trickling one.
func (a *httpAPI) guard(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.key == "" {
			refuseBody(w, r)
			writeError(w, apiOff)
			return
		}
		addr, now := router.ClientAddr(r, a.proxies), time.Now()
		if wait := a.guesses.wait(addr, now); wait > 0 {
			refuseBody(w, r)
			writeError(w, &protocol.Error{Code: protocol.CodeResourceExhausted, Message: "too many wrong API keys from this address; retry later", RetryAfter: wait})
			return
		}
		got := r.Header.Get("X-API-Key")
		if auth := r.Header.Get("Authorization"); got == "" && strings.HasPrefix(auth, "Bearer ") {
			got = strings.TrimPrefix(auth, "Bearer ")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(a.key)) != 1 {
			a.guesses.spend(addr, now)
			refuseBody(w, r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="syncd"`)
			writeError(w, protocol.NewError(protocol.CodeUnauthenticated, "missing or wrong API key"))
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, toWire(err))
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, pe *protocol.Error) {
	writeJSON(w, httpStatus(pe.Code), map[string]any{"error": pe.Payload()})
}

func queryInt(r *http.Request, name string, def, min, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, protocol.Errorf(protocol.CodeInvalidArgument, "query %s: want an integer %d–%d", name, min, max)
	}
	return n, nil
}

func (a *httpAPI) list(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	metas, err := a.engine.List(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	if metas == nil {
		metas = []syncd.DocMeta{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"docs": metas})
}

func (a *httpAPI) read(w http.ResponseWriter, r *http.Request) error {
	snap, err := a.engine.State(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, docViewOf(snap))
}

func (a *httpAPI) ops(w http.ResponseWriter, r *http.Request) error {
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", 500, 1, 10000)
	if err != nil {
		return err
	}
	doc := r.PathValue("id")
	rng, err := a.engine.ReadOps(r.Context(), doc, revision.Rev(after), limit)
	if syncd.CodeOf(err) == syncd.CodeGone {
		// The operations are gone: say from which revision a snapshot
		// must be read instead.
		pe := toWire(err).WithDetails(map[string]any{"doc": doc, "epoch": rng.Epoch, "snapshotRev": rng.Head})
		return writeJSON(w, http.StatusGone, map[string]any{"error": pe.Payload(), "snapshotRev": rng.Head})
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"doc": doc, "epoch": rng.Epoch, "head": rng.Head, "operations": wireOps(rng.Ops)})
}

func (a *httpAPI) edit(w http.ResponseWriter, r *http.Request) error {
	doc := r.PathValue("id")
	body, err := io.ReadAll(r.Body) // capped at maxEditBody (httpbounds.go)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return protocol.Errorf(protocol.CodeInvalidArgument, "body: larger than %d bytes", tooLarge.Limit)
		}
		return protocol.Errorf(protocol.CodeInvalidArgument, "body: %v", err)
	}
	// Read as strictly as an UPDATE on the WebSocket: a body that two JSON
	// decoders would read differently must not be committed.
	req, err := protocol.DecodeEditRequest(body)
	if err != nil {
		return err
	}
	ed := syncd.Edit{ClientID: req.ClientID, ReqID: req.ClientReqID, Epoch: req.Epoch, Patch: req.Patch}
	if req.BaseRev != nil {
		ed.Base, ed.HasBase = *req.BaseRev, true
	}
	start := time.Now()
	op, epoch, err := a.engine.CommitInEpoch(r.Context(), doc, ed)
	a.m.observeEdit(time.Since(start), err)
	if err != nil {
		writeError(w, refuseUpdate(a.engine, err, doc, req.ClientReqID))
		return nil
	}
	return writeJSON(w, http.StatusOK, map[string]any{"doc": doc, "epoch": epoch, "operation": wireOp(op)})
}

func (a *httpAPI) remove(w http.ResponseWriter, r *http.Request) error {
	if err := a.engine.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *httpAPI) backupDB(w http.ResponseWriter, r *http.Request) error {
	if a.backup == nil {
		return protocol.NewError(protocol.CodeUnimplemented, "this store cannot stream a backup")
	}
	// The stream may take long on a large file: rather than one deadline
	// for the whole response, each chunk must be taken by the client within
	// writeTimeout, so a stalled reader is cut off and a steady one is not.
	// (The store does not hold its read transaction while streaming.)
	out := &deadlineWriter{w: w, rc: http.NewResponseController(w), timeout: a.writeTimeout}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="syncd-backup.db"`)
	if r.Method == http.MethodHead {
		// The GET route takes HEAD too: answer with the headers, without
		// copying the whole database for a body nobody reads.
		return nil
	}
	_, err := a.backup(r.Context(), out)
	switch {
	case err == nil:
		return nil
	case out.written == 0 && r.Context().Err() == nil:
		// Nothing sent yet (the store failed to take its copy, say the
		// disk is full): the status line can still say so.
		w.Header().Del("Content-Disposition")
		return protocol.Errorf(protocol.CodeUnavailable, "backup failed: %v", err)
	default:
		// The status line is gone; cutting the stream short is how the
		// client learns the copy is incomplete.
		panic(http.ErrAbortHandler)
	}
}
