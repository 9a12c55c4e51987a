package boltstore

import "sync"

// metaCache holds the decoded metas of recently committed documents, so
// that a commit does not look up and decode the meta of every document it
// touches: with group commit spread over many documents, that was a
// lookup, a decode and several allocations per document per commit.
//
// Only Commit uses it: it holds mu for the whole transaction (commits are
// serialised by bbolt anyway) and stores the batch's metas only once the
// transaction has committed, so the cache never holds a rolled-back
// state. Reads go to the file, as before. This Store is the file's only
// writer (bbolt's file lock), so nothing else can make the cache stale.
type metaCache struct {
	mu sync.Mutex
	m  map[string]meta // documents known to exist; absence means "ask the file"
}

// maxCachedMetas bounds the cache; past it, it starts over. A meta is
// about a hundred bytes with its key.
const maxCachedMetas = 100_000

func (c *metaCache) load(doc string) (meta, bool) {
	m, ok := c.m[doc]
	return m, ok
}

// store records doc's meta after a commit: m, or that it does not exist.
func (c *metaCache) store(doc string, m *meta) {
	if m == nil {
		delete(c.m, doc)
		return
	}
	if c.m == nil || len(c.m) >= maxCachedMetas {
		c.m = make(map[string]meta)
	}
	c.m[doc] = *m
}
