package httpapi

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/weft-dev/weft/workflow"
)

// defCache keeps the compiled definitions of the workflow documents most
// recently used, by digest (the SHA-256 of the JSON document parsed: a
// registered version's Digest, the digest of a run's recorded workflow),
// so that starting a run of a registered workflow parses and validates it
// once, not at every run, and runs of one version share one compiled
// definition (read-only once parsed). With each definition it keeps the
// encoded GraphDocument once one was asked for: it is as immutable as the
// definition.
type defCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // of *defEntry, most recent first
	byKey map[string]*list.Element
}

type defEntry struct {
	digest string
	def    *workflow.Definition
	graph  []byte // the encoded GraphDocument, nil until asked for
}

// compiled returns the definition of a workflow document recorded as JSON
// (a registered version's, a run's) and its digest, parsed once per
// content. digest is the document's SHA-256 in hex when known (a
// registered version's Digest), else "" to compute it. The error is the
// document's validation problems: a recorded document validated when it
// was recorded, but may not now (a step type removed from this build).
func (s *Server) compiled(digest string, doc []byte) (*workflow.Definition, string, error) {
	if digest == "" {
		sum := sha256.Sum256(doc)
		digest = hex.EncodeToString(sum[:])
	}
	if def := s.defs.get(digest); def != nil {
		return def, digest, nil
	}
	def, err := s.parse(doc, workflow.FormatJSON)
	if err != nil {
		return nil, "", err
	}
	s.defs.put(digest, def)
	return def, digest, nil
}

// newDefCache returns a cache of at most max definitions.
func newDefCache(max int) *defCache {
	return &defCache{max: max, ll: list.New(), byKey: make(map[string]*list.Element)}
}

// get returns the definition of digest, or nil.
func (c *defCache) get(digest string) *workflow.Definition {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(digest); e != nil {
		return e.def
	}
	return nil
}

// entry returns the entry of digest, now the most recently used, or nil.
// c.mu must be held.
func (c *defCache) entry(digest string) *defEntry {
	el, ok := c.byKey[digest]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*defEntry)
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

// graph returns the encoded graph of digest, or nil.
func (c *defCache) graph(digest string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(digest); e != nil {
		return e.graph
	}
	return nil
}

// putGraph keeps the encoded graph of digest with its definition, if that
// is still cached.
func (c *defCache) putGraph(digest string, graph []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry(digest); e != nil {
		e.graph = graph
	}
}
