package natsstore

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Headers of a log message. They summarise the document after the message,
// so that Head, List and the conflict checks read one message, not the log.
const (
	hdrEpoch    = "Syncd-Epoch"     // the epoch after the message ("" when deleted)
	hdrHead     = "Syncd-Head"      // the head revision after the message
	hdrBase     = "Syncd-Base"      // the head before it, in the same epoch (0 if it creates the epoch)
	hdrEpochSeq = "Syncd-Epoch-Seq" // the message that created the epoch (0: this one)
	hdrCreated  = "Syncd-Created"   // Unix ms of the epoch's Create
	hdrUpdated  = "Syncd-Updated"   // Unix ms of the newest operation (Created before any)
	hdrDeleted  = "Syncd-Deleted"   // "1" when the document is absent after the message
	hdrWriter   = "Syncd-Writer"    // the writer's nonce: tells its own message from another's
	hdrClient   = "Syncd-Client"    // the client id, when the message carries one request
	hdrReq      = "Syncd-Req"       // and its request id
	hdrRollup   = "Nats-Rollup"
)

// logMsg is a log message as read back: its place, its summary and its
// records (decoded on demand).
type logMsg struct {
	doc      string
	seq      uint64
	time     time.Time
	prev     uint64 // the subject's last sequence it was appended after
	resets   bool   // it holds a Create or a Delete: the state after it depends on it alone
	deleted  bool
	epoch    revision.Epoch
	epochSeq uint64
	head     revision.Rev
	base     revision.Rev
	created  int64
	updated  int64
	writer   string
	data     []byte
}

func parseLogMsg(doc string, m *jetstream.RawStreamMsg) (*logMsg, error) {
	h := m.Header
	lm := &logMsg{doc: doc, seq: m.Sequence, time: m.Time, data: m.Data,
		prev:    headerUint(h, jetstream.ExpectedLastSubjSeqHeader),
		resets:  h.Get(hdrRollup) != "",
		deleted: h.Get(hdrDeleted) == "1",
		epoch:   revision.Epoch(h.Get(hdrEpoch)),
		head:    revision.Rev(headerUint(h, hdrHead)),
		base:    revision.Rev(headerUint(h, hdrBase)),
		created: int64(headerUint(h, hdrCreated)),
		updated: int64(headerUint(h, hdrUpdated)),
		writer:  h.Get(hdrWriter),
	}
	lm.epochSeq = headerUint(h, hdrEpochSeq)
	if lm.epochSeq == 0 {
		lm.epochSeq = lm.seq
	}
	if !lm.deleted && lm.epoch == "" {
		return nil, errFrame
	}
	return lm, nil
}

func headerUint(h nats.Header, key string) uint64 {
	v, _ := strconv.ParseUint(h.Get(key), 10, 64)
	return v
}

// client is what a document keeps per client id: its watermark, when it
// last decided (Unix ms of the log message, for the horizon) and its recent
// outcomes. Immutable once in a docState: a change makes a new one.
type client struct {
	mark     revision.Watermark
	at       int64
	outcomes []revision.Outcome
}

// docState is what the store knows of a document as of one log message
// (lastSeq). Immutable once cached: the cache only ever replaces a state
// as a whole.
type docState struct {
	lastSeq  uint64 // the subject's last message; 0: none
	exists   bool
	epoch    revision.Epoch
	epochSeq uint64
	head     revision.Rev
	created  int64
	updated  int64
	clients  map[string]*client
}

// clone returns a copy that may be changed.
func (st *docState) clone() *docState {
	c := *st
	c.clients = maps.Clone(st.clients)
	return &c
}

// advance raises clientID's watermark to o's request id, if higher, and
// records o among its outcomes, in a state the caller owns.
func (st *docState) advance(clientID string, o revision.Outcome, at int64) {
	if st.clients == nil {
		st.clients = make(map[string]*client)
	}
	old := st.clients[clientID]
	if old == nil {
		old = &client{}
	}
	next := old.mark.Advance(o.ReqID)
	if next == old.mark {
		return
	}
	st.clients[clientID] = &client{mark: next, at: at, outcomes: revision.AddOutcome(slices.Clip(old.outcomes), o)}
}

// decided reports whether clientID's request req is at or below the
// client's watermark: the log holds a decision of it, or of a later
// request of the client, so a record deciding it again comes from a
// writer that decided from a copy behind the log.
func (st *docState) decided(clientID, req string) bool {
	c := st.clients[clientID]
	return c != nil && c.mark.Decided(req)
}

// applyRecords applies one message's records to st (which the caller
// owns) as of message seq stored at unix ms at, and returns the ops it
// appended in the final epoch.
func (st *docState) applyRecords(recs []logRecord, seq uint64, at int64) []*syncd.Op {
	var ops []*syncd.Op
	for _, r := range recs {
		switch r.kind {
		case recCreate:
			*st = docState{exists: true, epoch: r.create.Epoch, epochSeq: seq, created: r.create.Time, updated: r.create.Time}
			ops = nil
		case recDelete:
			*st = docState{}
			ops = nil
		case recAppend:
			if !st.exists {
				continue
			}
			st.head = r.op.Rev
			st.updated = r.op.Time
			if r.op.ClientID != "" && r.op.ClientReqID != "" {
				st.advance(r.op.ClientID, revision.Outcome{ReqID: r.op.ClientReqID, Rev: r.op.Rev}, at)
			}
			ops = append(ops, r.op)
		case recDecide:
			if st.exists {
				st.advance(r.decide.ClientID, revision.Refused(r.decide.ReqID, r.decide.Code), at)
			}
		}
	}
	st.lastSeq = seq
	return ops
}

// stateCache holds the docStates of documents this store has read or
// written, bounded: an evicted state is read again from the log.
type stateCache struct {
	mu sync.Mutex
	m  map[string]*docState
}

const maxCachedStates = 4096

func (c *stateCache) init() { c.m = make(map[string]*docState) }

func (c *stateCache) get(doc string) *docState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[doc]
}

// put caches st unless the cache already holds a newer state of doc.
func (c *stateCache) put(doc string, st *docState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[doc]; old != nil && old.lastSeq > st.lastSeq {
		return
	}
	if _, ok := c.m[doc]; !ok && len(c.m) >= maxCachedStates {
		for k := range c.m { // any one: map order is random enough
			delete(c.m, k)
			break
		}
	}
	c.m[doc] = st
}

func (c *stateCache) drop(doc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, doc)
}

func (c *stateCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = make(map[string]*docState)
}
