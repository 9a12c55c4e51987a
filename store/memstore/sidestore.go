package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/deltasync/syncd"
)

// sideSpaces is the memory store's syncd.SideStore: a map per space. Like
// everything in this store it is gone when the process ends.
type sideSpaces struct {
	mu     sync.Mutex
	spaces map[string]map[string][]byte
}

var _ syncd.SideStore = (*Store)(nil)

// SideGet implements syncd.SideStore.
func (s *Store) SideGet(ctx context.Context, space, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.side.mu.Lock()
	defer s.side.mu.Unlock()
	v, ok := s.side.spaces[space][key]
	if !ok {
		return nil, syncd.ErrNotFound
	}
	return bytes.Clone(v), nil
}

// SideWrite implements syncd.SideStore.
func (s *Store) SideWrite(ctx context.Context, writes []syncd.SideWrite) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, w := range writes {
		if w.Space == "" || w.Key == "" {
			return fmt.Errorf("memstore: side write needs a space and a key (space %q, key %q)", w.Space, w.Key)
		}
	}
	s.side.mu.Lock()
	defer s.side.mu.Unlock()
	if s.side.spaces == nil {
		s.side.spaces = make(map[string]map[string][]byte)
	}
	for _, w := range writes {
		sp := s.side.spaces[w.Space]
		if sp == nil {
			sp = make(map[string][]byte)
			s.side.spaces[w.Space] = sp
		}
		if w.Value == nil {
			delete(sp, w.Key)
		} else {
			sp[w.Key] = bytes.Clone(w.Value)
		}
	}
	return nil
}

// SideScan implements syncd.SideStore.
func (s *Store) SideScan(ctx context.Context, space, after string, limit int) ([]syncd.SideEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("memstore: side scan: limit %d, want > 0", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.side.mu.Lock()
	var out []syncd.SideEntry
	for k, v := range s.side.spaces[space] {
		if k > after {
			out = append(out, syncd.SideEntry{Key: k, Value: bytes.Clone(v)})
		}
	}
	s.side.mu.Unlock()
	slices.SortFunc(out, func(a, b syncd.SideEntry) int { return bytes.Compare([]byte(a.Key), []byte(b.Key)) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
