package httpapi

import (
	"testing"

	"github.com/weft-dev/weft/workflow"
)

func TestDefCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newDefCache(2)
	a, b, d := &workflow.Definition{}, &workflow.Definition{}, &workflow.Definition{}
	c.put("a", a)
	c.put("b", b)
	if c.get("a") != a { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("d", d) // evicts b
	if c.get("b") != nil {
		t.Error("b was not evicted")
	}
	if c.get("a") != a || c.get("d") != d {
		t.Error("a or d evicted")
	}
	c.put("a", b) // an existing digest keeps its definition
	if c.get("a") != a {
		t.Error("put replaced an existing definition")
	}
}
