package server

import (
	"net/http"
	"strings"

	"github.com/deltasync/syncd/protocol"
)

// Every answer under /v1/ is JSON, the unmatched ones included: a program
// calling the API parses one error format, and a person who forgot to turn
// the API on is told how, instead of reading "404 page not found".

// apiOff is the error of every /v1/ request while the API is off.
var apiOff = protocol.NewError(protocol.CodeNotFound,
	"the HTTP API is off: start syncd with -api-key KEY (or SYNCD_API_KEY=KEY; embedders: server.Options.APIKey) and send the key as X-API-Key or Authorization: Bearer")

// apiMethods are the methods the API's routes use, tried to build the
// Allow header of a 405.
var apiMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// registerNotFound answers the /v1/ requests no API route matches: the API
// is off, the method is not allowed on that path (405), or there is no
// such endpoint (404).
func (a *httpAPI) registerNotFound(mux *http.ServeMux) {
	// Behind the key like every API request (PROTOCOL.md §11.1): without
	// it, 401 (or 404 while the API is off), whatever the path and method.
	mux.Handle("/v1/", a.guard(func(w http.ResponseWriter, r *http.Request) error {
		// ServeMux would answer a wrong method with a plain-text 405, but
		// this catch-all matches first; find the methods the path has.
		var allowed []string
		for _, m := range apiMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/v1/" && pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": protocol.Errorf(protocol.CodeInvalidArgument,
				"method %s is not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allowed, " or ")).Payload()})
		}
		return protocol.Errorf(protocol.CodeNotFound, "no API endpoint %s %s (the API: PROTOCOL.md §11.1)", r.Method, r.URL.Path)
	}))
}
