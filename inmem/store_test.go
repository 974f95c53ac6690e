package inmem_test

import (
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) weft.Store { return inmem.New() })
}
