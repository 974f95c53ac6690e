package main

import (
	"net/http"
	"sync/atomic"

	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/prom"
)

// serverMetrics are the Prometheus metrics of weft serve: the engine's
// (through its Observer) and the Go runtime's, on a registry of their own.
type serverMetrics struct {
	handler http.Handler
	eng     atomic.Pointer[engine.Engine] // set once the engine exists
	// newHTTP registers the HTTP API's request metrics (weft serve only).
	newHTTP func() (*prom.HTTP, error)
}

// newMetrics registers the metrics and makes cfg's engine report to them.
// defaultProvider names the default AI provider in the provider label.
func newMetrics(cfg *engine.Config, defaultProvider string) (*serverMetrics, error) {
	sm := &serverMetrics{}
	reg := prom.NewRegistry()
	m, err := prom.New(reg, &prom.Options{
		DefaultProvider: defaultProvider,
		Unfinished: func() float64 {
			if e := sm.eng.Load(); e != nil {
				return float64(e.UnfinishedRuns())
			}
			return 0
		},
	})
	if err != nil {
		return nil, err
	}
	cfg.Observer = m
	sm.handler = prom.Handler(reg)
	sm.newHTTP = func() (*prom.HTTP, error) { return prom.NewHTTP(reg) }
	return sm, nil
}
