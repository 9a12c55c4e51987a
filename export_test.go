package syncd

import "fmt"

// CheckCharges reports whether e's loaded bytes are the sum of its loaded
// documents' charges, each equal to the document's current cost, so that the
// black-box tests can check the accounting after concurrent loads and
// unloads without the package exporting it.
func CheckCharges(e *Engine) error {
	e.mu.Lock()
	docs := e.loadedLocked()
	e.mu.Unlock()
	var sum int64
	for _, d := range docs {
		d.mu.Lock()
		charged, cost, counted := d.charged, d.costLocked(), d.charges != nil
		d.mu.Unlock()
		if !counted {
			continue // forgotten since the list was made
		}
		if charged != cost {
			return fmt.Errorf("%s is charged %d, its cost is %d", d.id, charged, cost)
		}
		sum += charged
	}
	if got := e.loadedBytes.Load(); got != sum {
		return fmt.Errorf("loaded bytes %d, the documents are charged %d", got, sum)
	}
	return nil
}

// CachedWatermarks returns how many clients' watermarks doc's loaded copy
// caches (0 if it is not loaded).
func CachedWatermarks(e *Engine, doc string) int {
	e.mu.Lock()
	d := e.docs[doc]
	e.mu.Unlock()
	if d == nil {
		return 0
	}
	<-d.ready
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.wms)
}
