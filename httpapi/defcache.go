package httpapi

import (
	"container/list"
	"sync"

	"github.com/weft-dev/weft/workflow"
)

// defCache keeps the compiled definitions of the registered workflow
// versions most recently started, by digest, so that starting a run of a
// registered workflow parses and validates it once, not at every run, and
// runs of one version share one compiled definition (read-only once
// parsed).
type defCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // of *defEntry, most recent first
	byKey map[string]*list.Element
}

type defEntry struct {
	digest string
	def    *workflow.Definition
}

// newDefCache returns a cache of at most max definitions.
func newDefCache(max int) *defCache {
	return &defCache{max: max, ll: list.New(), byKey: make(map[string]*list.Element)}
}

// get returns the definition of digest, or nil.
func (c *defCache) get(digest string) *workflow.Definition {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[digest]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*defEntry).def
	}
	return nil
}

// put keeps def under digest, dropping the least recently used beyond max.
func (c *defCache) put(digest string, def *workflow.Definition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[digest]; ok {
		c.ll.MoveToFront(el)
		return
	}
	c.byKey[digest] = c.ll.PushFront(&defEntry{digest: digest, def: def})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.byKey, last.Value.(*defEntry).digest)
	}
}
