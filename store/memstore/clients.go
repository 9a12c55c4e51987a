package memstore

import (
	"context"
	"sync"

	"github.com/deltasync/syncd"
)

// clientRecords are the store's client records ([syncd.Store.ClaimClient]),
// under a lock of their own: a connection attempt never waits for a commit.
type clientRecords struct {
	mu sync.Mutex
	m  map[string]syncd.ClientRecord
}

// ClaimClient implements [syncd.Store.ClaimClient].
func (s *Store) ClaimClient(ctx context.Context, claim syncd.ClientClaim) (syncd.ClientRecord, error) {
	if err := ctx.Err(); err != nil {
		return syncd.ClientRecord{}, err
	}
	if err := claim.Validate(); err != nil {
		return syncd.ClientRecord{}, err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return syncd.ClientRecord{}, errClosed
	}
	c := &s.clients
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.m[claim.ClientID].Check(claim)
	if err != nil {
		return r, err
	}
	if c.m == nil {
		c.m = make(map[string]syncd.ClientRecord)
	}
	c.m[claim.ClientID] = r
	return r, nil
}
