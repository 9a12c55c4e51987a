package server

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/revision"
)

// The admin page's JSON API, under /admin/api/ (admin.go says who may call
// it). The page polls overview every second, and document for the document
// it shows.

const (
	// maxAdminRows bounds the documents and the connections one overview
	// lists (the page polls it every second): past it the lists are cut,
	// and the totals say how many there are.
	maxAdminRows = 500
	// adminRecentOps is how many recent operations a document view shows.
	adminRecentOps = 20
)

// adminInstance is who answers: in a cluster each instance shows itself.
type adminInstance struct {
	Address string `json:"address"`
	Started int64  `json:"started"` // Unix ms
	Version string `json:"version"`
	Store   string `json:"store"`
	Note    string `json:"note"`
}

type adminDoc struct {
	ID          string   `json:"id"`
	Epoch       string   `json:"epoch"`
	Rev         uint64   `json:"rev"`
	Durable     uint64   `json:"durable"`
	Size        int      `json:"size"`
	Subscribers int      `json:"subscribers"`
	Present     []string `json:"present"` // client ids in the presence room
	RingLen     int      `json:"ringLen"`
	RingCap     int      `json:"ringCap"`
	LastCommit  int64    `json:"lastCommit"` // Unix ms; 0 when none in memory
	Policy      string   `json:"policy"`
}

type adminConn struct {
	ClientID    string   `json:"clientId"`
	User        string   `json:"user"` // the token's sub; "" without authentication
	Address     string   `json:"address"`
	Documents   []string `json:"documents"`
	Topics      []string `json:"topics"`
	QueuedBytes int      `json:"queuedBytes"`
	Opened      int64    `json:"opened"` // Unix ms
}

type adminOverview struct {
	Now         int64         `json:"now"`
	Instance    adminInstance `json:"instance"`
	CSRF        string        `json:"csrf"`
	Documents   []adminDoc    `json:"documents"`
	DocsTotal   int           `json:"documentsTotal"`
	Connections []adminConn   `json:"connections"`
	ConnsTotal  int           `json:"connectionsTotal"`
	Series      struct {
		IntervalMs int64    `json:"intervalMs"`
		Commits    []uint32 `json:"commits"`
		Deliveries []uint32 `json:"deliveries"`
	} `json:"series"`
}

func (a *admin) overview(w http.ResponseWriter, r *http.Request, sess *adminSession) {
	out := adminOverview{Now: time.Now().UnixMilli(), Instance: a.instance(r), CSRF: sess.csrf}
	docs := a.s.engine.LoadedDocs()
	out.DocsTotal = len(docs)
	out.Documents = make([]adminDoc, 0, min(len(docs), maxAdminRows))
	for _, d := range docs[:min(len(docs), maxAdminRows)] {
		ad := adminDoc{
			ID: d.ID, Epoch: string(d.Epoch), Rev: uint64(d.Head), Durable: uint64(d.Durable),
			Size: d.Size, Subscribers: d.Subscribers, Present: []string{},
			RingLen: d.RingLen, RingCap: d.RingCap, Policy: d.Policy.String(),
		}
		if !d.LastCommit.IsZero() {
			ad.LastCommit = d.LastCommit.UnixMilli()
		}
		if d.Present > 0 {
			for _, p := range a.s.engine.Presence(d.ID) {
				ad.Present = append(ad.Present, p.ClientID)
			}
		}
		out.Documents = append(out.Documents, ad)
	}
	conns := a.s.router.Conns()
	sort.Slice(conns, func(i, j int) bool { return conns[i].ClientID() < conns[j].ClientID() })
	out.ConnsTotal = len(conns)
	out.Connections = make([]adminConn, 0, min(len(conns), maxAdminRows))
	for _, c := range conns[:min(len(conns), maxAdminRows)] {
		ac := adminConn{
			ClientID: c.ClientID(), Address: c.ClientAddr(), QueuedBytes: c.QueuedBytes(),
			Opened: c.Opened().UnixMilli(), Documents: []string{}, Topics: []string{},
		}
		if sess, ok := c.Data().(*session); ok {
			ac.User = sess.userID()
			ac.Documents = sess.joinedIDs()
		}
		for _, t := range c.Topics() {
			if name, ok := strings.CutPrefix(t, userTopicPrefix); ok {
				ac.Topics = append(ac.Topics, name)
			}
		}
		out.Connections = append(out.Connections, ac)
	}
	out.Series.IntervalMs = seriesInterval.Milliseconds()
	out.Series.Commits, out.Series.Deliveries = a.series.snapshot()
	writeJSON(w, http.StatusOK, out)
}

// instance describes this instance; its address is the one this request
// reached.
func (a *admin) instance(r *http.Request) adminInstance {
	in := adminInstance{
		Started: a.started.UnixMilli(), Version: a.version, Store: a.s.opts.AdminStore,
		Note: "This page shows this instance only.",
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		in.Address = addr.String()
	}
	if in.Store == "" {
		in.Store = "unknown"
	}
	return in
}

// joinedIDs returns the ids of the documents s has joined, sorted.
func (s *session) joinedIDs() []string {
	s.mu.Lock()
	ids := make([]string, 0, s.countDocsLocked())
	if s.one != nil {
		ids = append(ids, s.one.doc)
	}
	for id := range s.docs {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	return ids
}

type adminOp struct {
	Rev      uint64          `json:"rev"`
	Type     string          `json:"type"`
	ClientID string          `json:"clientId"`
	Author   string          `json:"author"`
	User     string          `json:"user"` // the author's user, if it is connected now
	Time     int64           `json:"ts"`
	Payload  json.RawMessage `json:"payload"`
}

type adminPresence struct {
	ClientID string          `json:"clientId"`
	State    json.RawMessage `json:"state"`
}

// document answers one document: its durable state, its recent operations
// with their authors, and its presence room. Reading it loads it, like a
// JOIN would, within the engine's bounds.
func (a *admin) document(w http.ResponseWriter, r *http.Request, _ *adminSession) {
	id := r.URL.Query().Get("id")
	snap, err := a.s.engine.State(r.Context(), id)
	if err != nil {
		a.engineError(w, err)
		return
	}
	out := struct {
		ID       string          `json:"id"`
		Epoch    revision.Epoch  `json:"epoch"`
		Rev      revision.Rev    `json:"rev"`
		State    json.RawMessage `json:"state"`
		Ops      []adminOp       `json:"ops"`
		Presence []adminPresence `json:"presence"`
	}{ID: snap.Doc, Epoch: snap.Epoch, Rev: snap.Rev, State: snap.State, Ops: []adminOp{}, Presence: []adminPresence{}}
	after := revision.Rev(0)
	if snap.Rev > adminRecentOps {
		after = snap.Rev - adminRecentOps
	}
	// Operations trimmed by retention, or a document changed since the
	// snapshot, only leave the list short: the state is what matters.
	if rng, err := a.s.engine.ReadOps(r.Context(), id, after, adminRecentOps); err == nil {
		for i := len(rng.Ops) - 1; i >= 0; i-- { // newest first
			op := rng.Ops[i]
			ao := adminOp{Rev: uint64(op.Rev), Type: string(op.Kind), ClientID: op.ClientID, Author: authorOf(op.ClientID), Time: op.Time, Payload: op.Payload}
			if c, ok := a.s.router.Conn(op.ClientID); ok && op.ClientID != "" {
				if sess, ok := c.Data().(*session); ok {
					ao.User = sess.userID()
				}
			}
			out.Ops = append(out.Ops, ao)
		}
	}
	for _, p := range a.s.engine.Presence(id) {
		out.Presence = append(out.Presence, adminPresence{ClientID: p.ClientID, State: p.State})
	}
	writeJSON(w, http.StatusOK, out)
}

// disconnect closes a connection with 1000: the server ended the session
// on purpose, and the client does not reconnect on its own (protocol
// CloseCodes).
func (a *admin) disconnect(w http.ResponseWriter, r *http.Request, _ *adminSession) {
	id := r.URL.Query().Get("client")
	c, ok := a.s.router.Conn(id)
	if !ok || id == "" {
		adminError(w, http.StatusNotFound, "no such connection")
		return
	}
	a.s.opts.Logger.Info("admin: disconnecting", "client", id, "addr", c.ClientAddr())
	c.Close(protocol.CloseNormal, "disconnected by an administrator")
	w.WriteHeader(http.StatusNoContent)
}

// deleteDoc deletes a document, as DELETE /v1/docs/{id} does.
func (a *admin) deleteDoc(w http.ResponseWriter, r *http.Request, _ *adminSession) {
	id := r.URL.Query().Get("id")
	if err := a.s.engine.Delete(r.Context(), id); err != nil {
		a.engineError(w, err)
		return
	}
	a.s.opts.Logger.Info("admin: deleted a document", "doc", id)
	w.WriteHeader(http.StatusNoContent)
}

// engineError answers an engine error with its HTTP status.
func (a *admin) engineError(w http.ResponseWriter, err error) {
	pe := toWire(err)
	var ee *syncd.Error
	if errors.As(err, &ee) && ee.Code == syncd.CodeInternal {
		a.s.opts.Logger.Warn("admin", "err", err)
	}
	adminError(w, httpStatus(pe.Code), pe.Message)
}
