package server

import "time"

// Heartbeats: the other instances' lives, and the summaries that repair
// the presence mirrors (cluster_presence.go). Every BusHeartbeatInterval
// an instance lists the documents where it holds presence with the seq of
// its last change there; an instance not heard from for BusPeerTimeout is
// dead, and a goodbye (Bye) drops it at once.

// heartbeatDocsPerPart bounds the documents listed in one heartbeat
// message, so that one stays far below NATS's default 1 MiB payload limit
// (a document id is at most 128 bytes, about 200 with its seq in JSON).
const heartbeatDocsPerPart = 1000

// peer is another instance, as its heartbeats describe it.
type peer struct {
	lastSeen time.Time
	// The last complete heartbeat round: its seq, and the documents where
	// the peer holds presence, each with the seq of its last change.
	seq  uint64
	docs map[string]uint64
	// The round being collected, part by part.
	round      uint64
	got        int
	collecting map[string]uint64
}

// busHeartbeat is one part of an instance's heartbeat, or its goodbye.
type busHeartbeat struct {
	From  string            `json:"from"`
	Bye   bool              `json:"bye,omitempty"`
	Seq   uint64            `json:"seq,omitempty"` // the change counter when the heartbeat was made
	Round uint64            `json:"round,omitempty"`
	Part  int               `json:"part,omitempty"`
	Parts int               `json:"parts,omitempty"`
	Docs  map[string]uint64 `json:"docs,omitempty"`
}

// sendHeartbeat announces this instance and the documents where it holds
// presence, in parts of at most heartbeatDocsPerPart documents.
func (p *clusterPresence) sendHeartbeat() {
	if p.c.isClosing() {
		return
	}
	p.hbMu.Lock()
	defer p.hbMu.Unlock()
	p.mu.Lock()
	p.round++
	hb := busHeartbeat{From: p.c.id, Seq: p.seq, Round: p.round}
	docs := make([]string, 0, len(p.local))
	seqs := make(map[string]uint64, len(p.local))
	for doc, lr := range p.local {
		docs = append(docs, doc)
		seqs[doc] = lr.seq
	}
	p.mu.Unlock()
	hb.Parts = max(1, (len(docs)+heartbeatDocsPerPart-1)/heartbeatDocsPerPart)
	for hb.Part = 0; hb.Part < hb.Parts; hb.Part++ {
		part := docs[hb.Part*heartbeatDocsPerPart : min(len(docs), (hb.Part+1)*heartbeatDocsPerPart)]
		hb.Docs = make(map[string]uint64, len(part))
		for _, doc := range part {
			hb.Docs[doc] = seqs[doc]
		}
		p.c.publish(kindHeartbeat, subjectHeartbeat, hb, false)
	}
}

// seenLocked notes that instance id was heard from, and returns its
// record and whether it is new. p.mu must be held.
func (p *clusterPresence) seenLocked(id string, now time.Time) (*peer, bool) {
	pr := p.peers[id]
	isNew := pr == nil
	if isNew {
		pr = &peer{}
		p.peers[id] = pr
		p.c.m.instances.Set(float64(len(p.peers)))
		p.peersChangedLocked()
	}
	pr.lastSeen = now
	return pr, isNew
}

// peersChangedLocked tells forwarding who is alive now (the homes of
// contended documents are chosen among them). p.mu must be held.
func (p *clusterPresence) peersChangedLocked() {
	ids := make([]string, 0, len(p.peers))
	for id := range p.peers {
		ids = append(ids, id)
	}
	p.c.fwd.setPeers(ids)
}

// onHeartbeat handles a message on the heartbeat subject.
func (p *clusterPresence) onHeartbeat(data []byte) {
	var hb busHeartbeat
	if !p.c.receive(kindHeartbeat, data, &hb, &hb.From) {
		return
	}
	if hb.Bye {
		p.dropPeer(hb.From, false)
		return
	}
	now := time.Now()
	p.mu.Lock()
	if _, gone := p.gone[hb.From]; gone {
		p.mu.Unlock()
		return // sent before its goodbye
	}
	pr, isNew := p.seenLocked(hb.From, now)
	if pr.collecting == nil || hb.Round != pr.round {
		pr.round, pr.got, pr.collecting = hb.Round, 0, make(map[string]uint64)
	}
	for doc, seq := range hb.Docs {
		pr.collecting[doc] = seq
	}
	pr.got++
	var wants, stale []string
	if pr.got >= hb.Parts {
		pr.seq, pr.docs, pr.collecting = hb.Seq, pr.collecting, nil
		for doc, dr := range p.docs {
			r := dr.remote[hb.From]
			seq, listed := pr.docs[doc]
			switch {
			case listed && (r == nil || r.seq < seq || r.gap):
				if p.wantDueLocked(dr.roomLocked(hb.From), now) {
					wants = append(wants, doc)
				}
			case !listed && r != nil && r.seq < hb.Seq:
				stale = append(stale, doc)
			}
		}
	}
	p.mu.Unlock()
	if isNew {
		// A new instance (or one back from the dead): tell it about this
		// one now rather than at the next tick.
		p.sendHeartbeat()
	}
	for _, doc := range wants {
		p.want(doc, hb.From)
	}
	for _, doc := range stale {
		p.dropRoom(doc, hb.From, hb.Seq)
	}
}

// dropRoom drops instance id's entries in doc if they are older than
// before (its heartbeat, made at change counter before, did not list doc:
// its last departure there was missed).
func (p *clusterPresence) dropRoom(doc, id string, before uint64) {
	l := p.lock(doc)
	l.Lock()
	defer l.Unlock()
	p.mu.Lock()
	dr := p.docs[doc]
	var r *remoteRoom
	if dr != nil {
		r = dr.remote[id]
	}
	if r == nil || r.seq >= before {
		p.mu.Unlock()
		return
	}
	delete(dr.remote, id)
	dr.changedLocked()
	others := dr.othersLocked(id, clientsOf(r))
	p.mu.Unlock()
	p.c.engine().ClearRemotePresence(doc, id, "")
	p.showOthers(doc, others)
}

// clientsOf lists the client ids of r's entries.
func clientsOf(r *remoteRoom) []string {
	ids := make([]string, 0, len(r.entries))
	for id := range r.entries {
		ids = append(ids, id)
	}
	return ids
}

// dropSilent drops the instances not heard from for BusPeerTimeout.
func (p *clusterPresence) dropSilent(now time.Time) {
	var dead []string
	p.mu.Lock()
	for id, at := range p.gone {
		if now.Sub(at) > p.c.timeout {
			delete(p.gone, id)
		}
	}
	for id, pr := range p.peers {
		if now.Sub(pr.lastSeen) > p.c.timeout {
			dead = append(dead, id)
		}
	}
	p.mu.Unlock()
	for _, id := range dead {
		p.c.log.Info("cluster bus: instance silent, dropping its presence", "peer", id, "timeout", p.c.timeout)
		p.dropPeer(id, true)
	}
}

// dropPeer forgets instance id and takes its entries out of every room:
// it died (dead), or said goodbye.
func (p *clusterPresence) dropPeer(id string, dead bool) {
	p.mu.Lock()
	if !dead {
		p.gone[id] = time.Now()
	}
	if _, ok := p.peers[id]; ok {
		delete(p.peers, id)
		p.c.m.instances.Set(float64(len(p.peers)))
		p.peersChangedLocked()
		if dead {
			p.c.m.deadInstances.Inc()
		}
	}
	var docs []string
	for doc, dr := range p.docs {
		if _, ok := dr.remote[id]; ok {
			docs = append(docs, doc)
		}
	}
	p.mu.Unlock()
	for _, doc := range docs {
		l := p.lock(doc)
		l.Lock()
		p.mu.Lock()
		n := -1
		var others []remoteEntry
		if dr := p.docs[doc]; dr != nil {
			if r := dr.remote[id]; r != nil {
				n = len(r.entries)
				delete(dr.remote, id)
				dr.changedLocked()
				others = dr.othersLocked(id, clientsOf(r))
			}
		}
		p.mu.Unlock()
		if n >= 0 {
			p.c.engine().ClearRemotePresence(doc, id, "")
			p.c.m.droppedDead.Add(float64(n))
			p.showOthers(doc, others)
		}
		l.Unlock()
	}
}
