package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/httpapi"
)

// workerFlags are the flags of weft worker.
type workerFlags struct {
	stepProcessFlags
	metricsAddr string
}

func newWorkerCmd() *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the steps of the runs in a shared store, with other workers",
		Long: `Worker runs steps for a store shared by many processes on many machines: a
PostgreSQL database (--store postgres://USER@HOST:PORT/DB), which weft serve
--store on the same URL also uses. A worker serves no API; it claims ready
steps of every run, runs them, records their outcomes, and goes on until
stopped. Start as many as you like: each caps its own steps (--concurrency)
and pools (--pools); the runs' max_parallel holds across all of them.

--concurrency defaults to 64: no-op steps are bound by the database's
transactions, and the steps a worker has in flight share them, so more in
flight is more throughput (bench/README.md); lower it for heavy steps.

A worker that dies loses nothing: its steps' leases expire (--lease, 4s by
default, renewed every third) and other workers run them again, with their
next attempt numbers. On SIGTERM or Ctrl-C, a worker stops claiming steps,
lets its running steps finish for up to --grace, and exits.

--metrics-addr HOST:PORT serves the worker's Prometheus metrics at /metrics
(and /healthz); the counts are this worker's own: sum them over workers.`,
		Example: `  weft worker --store postgres://weft@db:5432/weft --concurrency 16 --pools ai=4
  weft worker --store "postgres://weft:$PGPASSWORD@db/weft?sslmode=require" --metrics-addr 127.0.0.1:9091`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return work(cmd, &f)
		},
	}
	storeFlag(cmd, &f.store, "", "the shared store: postgres://USER@HOST:PORT/DB (or sqlite:`PATH` for workers on one machine)")
	cmd.Flags().StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics (default: none)")
	// A worker only runs steps, and on PostgreSQL the steps in flight of
	// one process share transactions: 64 reaches 5,000 steps/s with two
	// workers where 16 reaches 4,500 (bench/README.md).
	f.stepProcessFlags.register(cmd, "concurrency", 64)
	return cmd
}

// work is weft worker.
func work(cmd *cobra.Command, f *workerFlags) error {
	ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
	switch {
	case f.store == "":
		return usagef("worker needs a shared store: --store postgres://USER@HOST:PORT/DB (or $%s)", envStore)
	case f.store == "memory":
		return usagef("--store memory: a worker needs a store other processes share, such as postgres://USER@HOST:PORT/DB")
	case f.metricsAddr != "" && !isLoopback(f.metricsAddr):
		return usagef("--metrics-addr %s is reachable from other machines and has no token: listen on 127.0.0.1, or scrape through a proxy", f.metricsAddr)
	}
	p, err := f.setup(cmd)
	if err != nil {
		return err
	}
	store, closeStore, _, err := openStore(f.store)
	if err != nil {
		return storeError(stderr, err)
	}
	defer closeStore()
	eng, err := engine.New(store, p.cfg)
	if err != nil {
		return internalError(stderr, err)
	}
	p.metrics.eng.Store(eng)
	var metricsSrv *http.Server
	served := make(chan error, 1)
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			eng.Close()
			return usagef("--metrics-addr %s: %v", f.metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", p.metrics.handler)
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok"}` + "\n"))
		})
		metricsSrv = httpapi.NewHTTPServer(mux)
		go func() { served <- metricsSrv.Serve(ln) }()
		f.metricsAddr = ln.Addr().String()
	}
	stopProfile, err := f.profile()
	if err != nil {
		eng.Close()
		return err
	}
	defer stopProfile()
	line := fmt.Sprintf("weft: worker %s working for %s (concurrency %d", eng.WorkerID(), redacted(f.store), f.maxParallel)
	if f.metricsAddr != "" {
		line += ", metrics http://" + f.metricsAddr + "/metrics"
	}
	fmt.Fprintln(cmd.OutOrStdout(), line+")")
	p.logger.Info("working", "worker", eng.WorkerID(), "store", redacted(f.store), "concurrency", f.maxParallel, "pools", strings.Join(f.pools, ","))

	select {
	case <-ctx.Done():
	case err = <-served:
	}
	p.logger.Info("shutting down", "grace", f.grace.String())
	p.drain(ctx, eng, f.grace)
	if metricsSrv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		metricsSrv.Shutdown(sctx)
		cancel()
	}
	p.logger.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return internalError(stderr, err)
	}
	return nil
}
