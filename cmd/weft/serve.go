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
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/httpapi"
)

// The environment variables of weft serve.
const (
	envDataDir  = "WEFT_DATA_DIR"  // where the default database lives
	envAPIToken = "WEFT_API_TOKEN" // the bearer token (serve: required of clients; clients: sent)
)

// serveFlags are the flags of weft serve.
type serveFlags struct {
	addr          string
	store         string
	token         string
	metricsPublic bool
	noWorker      bool
	maxParallel   int64
	pools         []string
	maxQueued     int
	maxBody       int64
	grace         time.Duration
	outputDir     string
	allowHosts    string
	logFormat     string
	logLevel      string
	cpuProfile    string
	ai            aiFlags
	limits        limitFlags
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API, run workflows, export metrics",
		Long: `Serve runs weft as a server: the HTTP API (/api/v1/...), Server-Sent Events
of runs, Prometheus metrics (/metrics), health checks (/healthz, /readyz)
and the OpenAPI document (/api/v1/openapi.json). It runs the steps of every
run in its store, resuming the runs that were unfinished when it last
stopped.

The store defaults to sqlite:weft.db in $WEFT_DATA_DIR, else in the
current directory.

Security: with --token (or $WEFT_API_TOKEN) every request but /healthz must
carry "Authorization: Bearer TOKEN"; /metrics too, unless
--metrics-public. Serving on an address other than loopback without a token
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
	storeFlag(cmd, &f.store, defaultServeStore(), "where runs are kept: sqlite:`PATH` or memory")
	flags.StringVar(&f.token, "token", "", "require this bearer `TOKEN` of clients (default $"+envAPIToken+")")
	flags.BoolVar(&f.metricsPublic, "metrics-public", false, "serve /metrics without the token")
	flags.BoolVar(&f.noWorker, "no-worker", false, "serve the API only; other processes run the steps")
	f.maxParallel = 10
	flags.Var((*positiveInt)(&f.maxParallel), "max-parallel", "run at most `N` steps at once in this process")
	flags.StringArrayVar(&f.pools, "pools", nil, "cap named pools of steps in this process, `NAME=N[,NAME=N]` (repeatable), such as ai=4")
	flags.IntVar(&f.maxQueued, "max-unfinished-runs", 10000, "refuse new runs (429) while `N` runs are unfinished (0: no limit)")
	f.maxBody = 10 << 20
	flags.Var((*positiveInt)(&f.maxBody), "max-body-bytes", "refuse request bodies over `N` bytes")
	flags.DurationVar(&f.grace, "grace", 30*time.Second, "on SIGTERM, let running steps finish for up to `DURATION`")
	flags.StringVar(&f.outputDir, "output-dir", "", "root `DIR` of output steps with destination \"file\"")
	flags.StringVar(&f.allowHosts, "allow-hosts", "", "comma-separated `LIST` of hostnames, IP addresses and CIDR blocks that webhooks may reach besides public addresses (default $"+envAllowHosts+")")
	flags.StringVar(&f.logFormat, "log-format", "text", "log lines on standard error as `text` or json")
	flags.StringVar(&f.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	flags.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole serve to `FILE` (for benchmarks)")
	flags.MarkHidden("cpuprofile")
	f.ai.register(cmd)
	f.limits.register(cmd)
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
	if f.grace < 0 {
		return usagef("--grace %s: expected a duration of 0 or more", f.grace)
	}
	pools, err := parsePools(f.pools)
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	allow, err := allowHostsOf(cmd, f.allowHosts)
	if err != nil {
		return err
	}
	providers, err := f.ai.providers()
	if err != nil {
		return err
	}
	reg, err := executor.NewRegistry(&executor.Config{OutputDir: f.outputDir, Stdout: &lockedWriter{w: cmd.OutOrStdout()}, AllowHosts: allow, AI: providers})
	if err != nil {
		return usagef("--allow-hosts: %v", err)
	}
	opts, err := f.limits.options(reg)
	if err != nil {
		return internalError(stderr, err)
	}

	store, closeStore, durable, err := openStore(f.store)
	if err != nil {
		return storeError(stderr, err)
	}
	defer closeStore()
	workflows, ok := store.(weft.WorkflowStore)
	if !ok {
		return internalError(stderr, fmt.Errorf("store %s cannot hold workflows", f.store))
	}
	unfinished, err := store.UnfinishedRuns(ctx)
	if err != nil {
		return storeError(stderr, &storeOpenError{err})
	}
	cfg := engineConfig(reg, int(f.maxParallel), opts.Limits, durable)
	cfg.Pools, cfg.NoWorker, cfg.Logger = pools, f.noWorker, logger
	cfg.MaxUnfinishedRuns = f.maxQueued
	defaultProvider := ""
	if providers != nil {
		defaultProvider = providers.Default()
	}
	metrics, err := newMetrics(cfg, defaultProvider)
	if err != nil {
		return internalError(stderr, err)
	}
	eng, err := engine.New(store, cfg)
	if err != nil {
		return internalError(stderr, err)
	}
	metrics.eng.Store(eng)
	api, err := httpapi.New(&httpapi.Config{
		Engine: eng, Store: store, Workflows: workflows, Registry: reg, Limits: opts.Limits,
		Token: token, MetricsPublic: f.metricsPublic, Metrics: metrics.handler,
		MaxBodyBytes: f.maxBody, Logger: logger,
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
	fmt.Fprintf(cmd.OutOrStdout(), "weft: serving http://%s (store %s, %d unfinished runs resumed)\n", ln.Addr(), f.store, len(unfinished))
	logger.Info("serving", "addr", ln.Addr().String(), "store", f.store, "unfinished_runs", len(unfinished), "auth", token != "")

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return usagef("--cpuprofile: %v", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return usagef("--cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	// Stop taking requests, end event streams, then let the steps in
	// flight finish within the grace period.
	logger.Info("shutting down", "grace", f.grace.String())
	api.Close()
	httpCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	srv.Shutdown(httpCtx)
	cancel()
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.grace)
	defer cancel()
	if serr := eng.Shutdown(graceCtx); serr != nil {
		logger.Warn("steps still running at the end of the grace period were stopped; they run again on the next start", "err", serr)
	}
	logger.Info("stopped")
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
