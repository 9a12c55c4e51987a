package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/revision"
)

// Forwarding on the cluster bus: the transport of the engine's forwarded
// edits (syncd.Forwarder; the engine's side, when and what to forward, is
// forward.go in the root package). Each instance serves requests on
// "fwd.<its id>"; a contended document's home is chosen by rendezvous
// hashing of the document id over the live instances (this one and the
// peers its heartbeats know), so all instances agree without talking, and
// when their views of who is alive differ for a moment the result is only
// contention again: a receiver decides whatever it is sent.
//
// It needs a Bus that also implements BusRequester (internal/natsbus
// does); without one, Home always names this instance and nothing is
// forwarded.

// BusRequester is what a Bus implements to carry forwarded edits: request
// and reply, on top of Bus's publish and subscribe.
type BusRequester interface {
	// Request sends data on subject (relative, as for Publish) with a
	// reply address, and calls reply exactly once: with the answer; with
	// notDelivered set when certainly nobody received it (nobody serves
	// the subject, or it could not be sent); or with an error after
	// timeout, when it may have been handled. Requests of one Bus reach
	// one server in the order sent. It must not wait for the network,
	// and must not call reply before it returns.
	Request(subject string, data []byte, timeout time.Duration, reply func(answer []byte, notDelivered bool, err error))
	// Serve calls handler with each request on subject, one at a time,
	// in the order each requester sent them, until unsubscribe; respond
	// sends the answer, once, from any goroutine. handler must not keep
	// data.
	Serve(subject string, handler func(data []byte, respond func(answer []byte))) (unsubscribe func() error, err error)
}

// DefaultBusForwardTimeout is Options.BusForwardTimeout's default.
const DefaultBusForwardTimeout = 5 * time.Second

func forwardSubject(instance string) string { return "fwd." + subjectToken(instance) }

// Forwarder is the engine's syncd.Forwarder on a server's cluster bus.
// The engine is opened before the server that carries its forwards, so
// the two meet here: make one with NewForwarder, give it to the engine
// (syncd.Options.Forwarder) and to the server (Options.Forwarder). Until
// the server starts, and after it shuts down, it forwards nothing.
type Forwarder struct {
	f atomic.Pointer[clusterForward]
}

// NewForwarder returns a Forwarder not yet tied to a server.
func NewForwarder() *Forwarder { return &Forwarder{} }

// Home implements syncd.Forwarder.
func (fw *Forwarder) Home(doc string) (string, bool) {
	f := fw.f.Load()
	if f == nil {
		return "", true
	}
	return f.home(doc)
}

// Forward implements syncd.Forwarder.
func (fw *Forwarder) Forward(instance string, fe syncd.ForwardedEdit, reply func(syncd.ForwardOutcome, error)) {
	f := fw.f.Load()
	if f == nil {
		time.AfterFunc(0, func() { reply(syncd.ForwardOutcome{}, fmt.Errorf("server: no cluster bus: %w", syncd.ErrNotForwarded)) })
		return
	}
	f.forward(instance, fe, reply)
}

// Contended implements syncd.Forwarder: it tells every instance that doc
// is contended here.
func (fw *Forwarder) Contended(doc string) {
	if f := fw.f.Load(); f != nil {
		f.c.publish(kindForward, subjectContended, busContended{From: f.c.id, Doc: doc}, false)
	}
}

// subjectContended carries the contended documents' announcements.
const subjectContended = "fwd.contended"

// busContended says that From had a conflict on Doc.
type busContended struct {
	From string `json:"from"`
	Doc  string `json:"doc"`
}

// onContended puts the announced document in forward mode here.
func (f *clusterForward) onContended(data []byte) {
	var m busContended
	if !f.c.receive(kindForward, data, &m, &m.From) {
		return
	}
	f.c.engine().Contended(m.Doc)
}

// clusterForward is a cluster's side of forwarding.
type clusterForward struct {
	c       *cluster
	req     BusRequester
	timeout time.Duration
	// members is this instance and its live peers, sorted.
	members atomic.Pointer[[]string]

	mu       sync.Mutex
	next     uint64
	inFlight map[uint64]func(syncd.ForwardOutcome, error) // the replies owed, until taken
	closed   bool

	// The edits forwarded here, queued per document and client
	// (inOrder): a client's are decided one after another, in arrival
	// order, and different clients' at the same time. One goroutine
	// per queue that has work runs them; wg waits for them at close.
	qmu     sync.Mutex
	queues  map[clientKey][]func()
	qclosed bool
	wg      sync.WaitGroup
}

// clientKey names one client's edits of one document.
type clientKey struct{ doc, client string }

func newClusterForward(c *cluster, o Options) *clusterForward {
	req, _ := o.Bus.(BusRequester)
	f := &clusterForward{c: c, req: req, timeout: o.BusForwardTimeout, inFlight: make(map[uint64]func(syncd.ForwardOutcome, error)),
		queues: make(map[clientKey][]func())}
	f.setPeers(nil)
	return f
}

// start serves this instance's forward subject (whether or not this
// instance forwards: another may, to it) and ties fw, if any, to it.
func (f *clusterForward) start(fw *Forwarder) (unsubscribe func() error, err error) {
	if f.req == nil {
		return func() error { return nil }, nil
	}
	unsub, err := f.req.Serve(forwardSubject(f.c.id), f.onRequest)
	if err != nil {
		return nil, err
	}
	if fw != nil {
		fw.f.Store(f)
	}
	return unsub, nil
}

// close stops forwarding: the edits in flight are answered as of unknown
// outcome (they may have been decided), and later answers are dropped.
func (f *clusterForward) close(fw *Forwarder) {
	if fw != nil {
		fw.f.CompareAndSwap(f, nil)
	}
	f.mu.Lock()
	f.closed = true
	owed := f.inFlight
	f.inFlight = make(map[uint64]func(syncd.ForwardOutcome, error))
	f.mu.Unlock()
	for _, reply := range owed {
		reply(syncd.ForwardOutcome{}, errForwardClosing)
	}
	f.qmu.Lock()
	f.qclosed = true
	f.qmu.Unlock()
	f.wg.Wait() // the edits forwarded here are decided (each bounded by the timeout)
}

// inOrder runs job after every job queued before it under key, and at the
// same time as other keys' jobs; false, and job is not run, once closing. Why not one after another on the
// subscription's goroutine: the first edit of each client makes the
// engine read the client's watermark from the log, and with hundreds of
// clients forwarding at once those reads, one after another, held every
// other client's edits up for seconds (past the requesters' timeouts).
// Only a client's own edits must keep their order (its request ids).
func (f *clusterForward) inOrder(key clientKey, job func()) bool {
	f.qmu.Lock()
	if f.qclosed {
		f.qmu.Unlock()
		return false
	}
	if q, busy := f.queues[key]; busy {
		f.queues[key] = append(q, job)
		f.qmu.Unlock()
		return true
	}
	f.queues[key] = nil // busy, nothing waiting
	f.wg.Add(1)
	f.qmu.Unlock()
	go func() {
		defer f.wg.Done()
		for {
			job()
			f.qmu.Lock()
			q := f.queues[key]
			if len(q) == 0 {
				delete(f.queues, key)
				f.qmu.Unlock()
				return
			}
			job, q[0] = q[0], nil
			f.queues[key] = q[1:]
			f.qmu.Unlock()
		}
	}()
	return true
}

var errForwardClosing = errors.New("server: shutting down before a forwarded edit was answered")

// setPeers records the live peers (cluster_heartbeat.go keeps them).
func (f *clusterForward) setPeers(peers []string) {
	ms := append([]string{f.c.id}, peers...)
	slices.Sort(ms)
	f.members.Store(&ms)
}

// home chooses doc's home by rendezvous (highest random weight) hashing:
// each instance's weight for doc is a hash of both, the heaviest wins. An
// instance that joins or leaves moves only the documents it wins or won.
func (f *clusterForward) home(doc string) (string, bool) {
	if f.req == nil {
		return f.c.id, true
	}
	var best string
	var bestW uint64
	for _, id := range *f.members.Load() {
		if w := rendezvousWeight(id, doc); best == "" || w > bestW {
			best, bestW = id, w
		}
	}
	return best, best == f.c.id
}

// rendezvousWeight hashes instance and doc (FNV-1a, then a 64-bit
// finaliser so that ids differing in their last bytes spread well). It
// must never change: every instance of a cluster must compute the same.
func rendezvousWeight(instance, doc string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(instance); i++ {
		h = (h ^ uint64(instance[i])) * prime
	}
	h = (h ^ 0xff) * prime // a separator no id byte sequence can fake
	for i := 0; i < len(doc); i++ {
		h = (h ^ uint64(doc[i])) * prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// wireForward is a forwarded edit on the bus.
type wireForward struct {
	From   string          `json:"from"`
	Doc    string          `json:"doc"`
	Client string          `json:"client,omitempty"`
	Req    string          `json:"req,omitempty"`
	Base   *revision.Rev   `json:"base,omitempty"`
	Epoch  revision.Epoch  `json:"epoch,omitempty"`
	Patch  json.RawMessage `json:"patch,omitempty"`
	Refuse bool            `json:"refuse,omitempty"`
	// After: decide this only once the same client's edit After is
	// decided (syncd.ForwardedEdit.After).
	After string `json:"after,omitempty"`
}

// wireForwardReply is the home's answer: the operation, or the refusal
// or failure.
type wireForwardReply struct {
	Op    *syncd.Op         `json:"op,omitempty"`
	Epoch revision.Epoch    `json:"epoch,omitempty"`
	Err   *wireForwardError `json:"err,omitempty"`
	// Contended: the home sees the document written by others than the
	// requester too (syncd.ForwardOutcome.Contended).
	Contended bool `json:"contended,omitempty"`
}

type wireForwardError struct {
	Code    string       `json:"code"`
	Message string       `json:"message,omitempty"`
	Head    revision.Rev `json:"head,omitempty"`
	Limit   syncd.Limit  `json:"limit,omitempty"`
	// Unknown: the home could not learn whether its write happened
	// (syncd.ErrOutcomeUnknown).
	Unknown bool `json:"unknown,omitempty"`
}

// forward sends fe to instance; reply gets the answer once.
func (f *clusterForward) forward(instance string, fe syncd.ForwardedEdit, reply func(syncd.ForwardOutcome, error)) {
	w := wireForward{From: f.c.id, Doc: fe.Doc, Client: fe.Edit.ClientID, Req: fe.Edit.ReqID, Epoch: fe.Edit.Epoch, Patch: fe.Edit.Patch, Refuse: fe.Refuse, After: fe.After}
	if fe.Edit.HasBase {
		w.Base = &fe.Edit.Base
	}
	data, err := json.Marshal(w)
	f.mu.Lock()
	if f.closed || err != nil {
		f.mu.Unlock()
		if err == nil {
			err = errForwardClosing
		}
		time.AfterFunc(0, func() { reply(syncd.ForwardOutcome{}, fmt.Errorf("%w: %v", syncd.ErrNotForwarded, err)) })
		return
	}
	f.next++
	id := f.next
	f.inFlight[id] = reply
	f.mu.Unlock()
	f.c.m.out[kindForward].Inc()
	f.req.Request(forwardSubject(instance), data, f.timeout, func(answer []byte, notDelivered bool, err error) {
		f.mu.Lock()
		reply := f.inFlight[id]
		delete(f.inFlight, id)
		f.mu.Unlock()
		if reply == nil {
			return // answered at close
		}
		if err != nil {
			if notDelivered {
				err = fmt.Errorf("%w: %v", syncd.ErrNotForwarded, err)
			}
			reply(syncd.ForwardOutcome{}, err)
			return
		}
		var r wireForwardReply
		if err := json.Unmarshal(answer, &r); err != nil || r.Op == nil && r.Err == nil {
			f.c.m.malformed.Inc()
			reply(syncd.ForwardOutcome{}, fmt.Errorf("server: malformed answer to a forwarded edit: %v", err))
			return
		}
		reply(r.outcome(fe), nil)
	})
}

// outcome is r as the engine takes it.
func (r *wireForwardReply) outcome(fe syncd.ForwardedEdit) syncd.ForwardOutcome {
	if r.Err == nil {
		return syncd.ForwardOutcome{Op: r.Op, Epoch: r.Epoch, Contended: r.Contended}
	}
	code, ok := syncd.ParseCode(r.Err.Code)
	if !ok {
		code = syncd.CodeInternal
	}
	e := &syncd.Error{Code: code, Message: r.Err.Message, Doc: fe.Doc, ReqID: fe.Edit.ReqID, Head: r.Err.Head, Limit: r.Err.Limit}
	if r.Err.Unknown {
		e.Err = syncd.ErrOutcomeUnknown
	}
	return syncd.ForwardOutcome{Err: e, Contended: r.Contended}
}

// onRequest decides a forwarded edit here and answers once the decision
// is durable (or refused). A request that does not parse is answered with
// an error, not decided.
func (f *clusterForward) onRequest(data []byte, respond func([]byte)) {
	var w wireForward
	f.c.m.in[kindForward].Inc()
	if err := json.Unmarshal(data, &w); err != nil || w.From == "" || w.Doc == "" {
		f.c.m.malformed.Inc()
		f.c.log.Warn("cluster bus: malformed forwarded edit", "err", err)
		respond(encodeForwardReply(wireForwardReply{Err: &wireForwardError{Code: syncd.CodeInvalid.String(), Message: "malformed forwarded edit"}}))
		return
	}
	fe := syncd.ForwardedEdit{Doc: w.Doc, Refuse: w.Refuse, From: w.From, After: w.After, Edit: syncd.Edit{ClientID: w.Client, ReqID: w.Req, Epoch: w.Epoch, Patch: w.Patch}}
	if w.Base != nil {
		fe.Edit.Base, fe.Edit.HasBase = *w.Base, true
	}
	// The data is not kept past this call: fe holds copies (Unmarshal
	// copies a RawMessage).
	queued := f.inOrder(clientKey{w.Doc, w.Client}, func() {
		// The requester stops waiting after its timeout and decides the
		// edit itself: waiting here (to load the document, for room in
		// its ring) longer than that only makes two decisions for the
		// log to sort out.
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		f.c.engine().CommitForwarded(ctx, fe, func(out syncd.ForwardOutcome) {
			cancel()
			r := wireForwardReply{Op: out.Op, Epoch: out.Epoch, Contended: out.Contended}
			if out.Err != nil {
				r.Op = nil
				r.Err = &wireForwardError{Code: out.Err.Code.String(), Message: out.Err.Message, Head: out.Err.Head, Limit: out.Err.Limit,
					Unknown: errors.Is(out.Err, syncd.ErrOutcomeUnknown)}
			}
			respond(encodeForwardReply(r))
		})
	})
	if !queued {
		// Shutting down: not decided, so "not applied" is the truth.
		respond(encodeForwardReply(wireForwardReply{Err: &wireForwardError{Code: syncd.CodeUnavailable.String(), Message: "the instance is shutting down"}}))
	}
}

func encodeForwardReply(r wireForwardReply) []byte {
	data, err := json.Marshal(r)
	if err != nil {
		// An Op's payload is compact JSON the engine checked: this
		// cannot happen; answer something the requester understands.
		data, _ = json.Marshal(wireForwardReply{Err: &wireForwardError{Code: syncd.CodeInternal.String(), Message: "encoding the answer failed", Unknown: true}})
	}
	return data
}
