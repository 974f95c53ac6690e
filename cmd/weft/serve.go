package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/httpapi"
)

// The environment variables of weft serve.
const (
	envDataDir  = "WEFT_DATA_DIR"  // where the default database lives
	envAPIToken = "WEFT_API_TOKEN" // the bearer token (serve: required of clients; clients: sent)
)

// serveFlags are the flags of weft serve.
type serveFlags struct {
	stepProcessFlags
	addr          string
	token         string
	metricsPublic bool
	noDashboard   bool
	noWorker      bool
	maxQueued     int
	maxBody       int64
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API, run workflows, export metrics",
		Long: `Serve runs weft as a server: the web dashboard (/), the HTTP API
(/api/v1/...), Server-Sent Events of runs, Prometheus metrics (/metrics),
health checks (/healthz, /readyz) and the OpenAPI document
(/api/v1/openapi.json). It runs the steps of every
run in its store, resuming the runs that were unfinished when it last
stopped.

The store defaults to sqlite:weft.db in $WEFT_DATA_DIR, else in the
current directory.

Security: with --token (or $WEFT_API_TOKEN) every request but /healthz must
carry "Authorization: Bearer TOKEN"; /metrics too, unless
--metrics-public. The dashboard's files are served without it and the page
asks for the token once per browser tab. Serving on an address other than loopback without a token
is refused.

On SIGTERM or Ctrl-C, weft serve stops taking requests, lets running steps
finish for up to --grace, and stops; what is left is resumed by the next
weft serve (or weft worker) on the same store.`,
		Example: `  weft serve
  WEFT_API_TOKEN=$(openssl rand -hex 32) weft serve --addr 0.0.0.0:8080 --store sqlite:/var/lib/weft/weft.db
  weft serve --max-parallel 32 --pools ai=4 --ai-provider echo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd, &f)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0: any free port)")
	storeFlag(cmd, &f.store, defaultServeStore(), "where runs are kept: sqlite:`PATH`, postgres://USER@HOST/DB (shared with weft worker processes) or memory")
	flags.StringVar(&f.token, "token", "", "require this bearer `TOKEN` of clients (default $"+envAPIToken+")")
	flags.BoolVar(&f.metricsPublic, "metrics-public", false, "serve /metrics without the token")
	flags.BoolVar(&f.noDashboard, "no-dashboard", false, "do not serve the web dashboard at /")
	flags.BoolVar(&f.noWorker, "no-worker", false, "serve the API only; weft worker processes run the steps")
	flags.IntVar(&f.maxQueued, "max-unfinished-runs", 10000, "refuse new runs (429) while `N` runs are unfinished (0: no limit)")
	f.maxBody = 10 << 20
	flags.Var((*positiveInt)(&f.maxBody), "max-body-bytes", "refuse request bodies over `N` bytes")
	f.stepProcessFlags.register(cmd, "max-parallel", 10)
	return cmd
}

// defaultServeStore is sqlite:weft.db in $WEFT_DATA_DIR, else in the
// current directory.
func defaultServeStore() string {
	return "sqlite:" + filepath.Join(os.Getenv(envDataDir), "weft.db")
}

// serve is weft serve.
func serve(cmd *cobra.Command, f *serveFlags) error {
	ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
	token := f.token
	if !cmd.Flags().Changed("token") {
		token = os.Getenv(envAPIToken)
	}
	if token == "" && !isLoopback(f.addr) {
		return usagef("--addr %s is reachable from other machines: set a token (--token or $%s), or listen on 127.0.0.1", f.addr, envAPIToken)
	}
	if f.maxQueued < 0 {
		return usagef("--max-unfinished-runs %d: expected 0 (no limit) or more", f.maxQueued)
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
	workflows, ok := store.(weft.WorkflowStore)
	if !ok {
		return internalError(stderr, fmt.Errorf("store %s cannot hold workflows", redacted(f.store)))
	}
	unfinished, err := store.UnfinishedRuns(ctx)
	if err != nil {
		return storeError(stderr, &storeOpenError{err})
	}
	p.cfg.NoWorker, p.cfg.MaxUnfinishedRuns = f.noWorker, f.maxQueued
	eng, err := engine.New(store, p.cfg)
	if err != nil {
		return internalError(stderr, err)
	}
	p.metrics.eng.Store(eng)
	requests, err := p.metrics.newHTTP()
	if err != nil {
		return internalError(stderr, err)
	}
	api, err := httpapi.New(&httpapi.Config{
		Engine: eng, Store: store, Workflows: workflows, Registry: p.reg, Limits: p.opts.Limits,
		Token: token, MetricsPublic: f.metricsPublic, Metrics: p.metrics.handler,
		DisableDashboard: f.noDashboard, Requests: requests,
		MaxBodyBytes: f.maxBody, Logger: p.logger,
	})
	if err != nil {
		eng.Close()
		return internalError(stderr, err)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		eng.Close()
		return usagef("--addr %s: %v", f.addr, err)
	}
	srv := httpapi.NewHTTPServer(api)
	fmt.Fprintf(cmd.OutOrStdout(), "weft: serving http://%s (store %s, %d unfinished runs resumed)\n", ln.Addr(), redacted(f.store), len(unfinished))
	p.logger.Info("serving", "addr", ln.Addr().String(), "store", redacted(f.store), "unfinished_runs", len(unfinished), "auth", token != "")

	stopProfile, err := f.profile()
	if err != nil {
		eng.Close()
		return err
	}
	defer stopProfile()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	// Stop taking requests, end event streams, then let the steps in
	// flight finish within the grace period.
	p.logger.Info("shutting down", "grace", f.grace.String())
	api.Close()
	httpCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	srv.Shutdown(httpCtx)
	cancel()
	p.drain(ctx, eng, f.grace)
	p.logger.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return internalError(stderr, err)
	}
	return nil
}

// isLoopback reports whether a listen address is reachable from this
// machine only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parsePools parses --pools NAME=N[,NAME=N] flags.
func parsePools(flags []string) (map[string]int, error) {
	pools := map[string]int{}
	for _, flag := range flags {
		for _, p := range strings.Split(flag, ",") {
			name, n, ok := strings.Cut(strings.TrimSpace(p), "=")
			size, err := strconv.Atoi(n)
			if !ok || !weft.ValidID(name) || err != nil || size < 1 {
				return nil, usagef("--pools %q: expected NAME=N with N of 1 or more, such as ai=4", p)
			}
			pools[name] = size
		}
	}
	return pools, nil
}

// newLogger returns the server's logger on w, as text or JSON lines, from
// level up.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: expected text or json", format)
}
