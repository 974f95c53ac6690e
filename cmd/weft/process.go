package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/workflow"
)

// stepProcessFlags are the flags of the long-running commands that run
// steps for a store, weft serve and weft worker: the cap, pools, leases,
// the shutdown grace period, what steps may reach, AI providers, document
// limits, logs.
type stepProcessFlags struct {
	store       string
	maxParallel int64
	pools       []string
	lease       time.Duration
	poll        time.Duration
	grace       time.Duration
	outputDir   string
	allowHosts  string
	logFormat   string
	logLevel    string
	cpuProfile  string
	ai          aiFlags
	limits      limitFlags
}

// register adds the flags to cmd; capFlag names the cap's flag
// (max-parallel for serve, concurrency for worker) and defaultCap is its
// default.
func (f *stepProcessFlags) register(cmd *cobra.Command, capFlag string, defaultCap int64) {
	flags := cmd.Flags()
	f.maxParallel = defaultCap
	flags.Var((*positiveInt)(&f.maxParallel), capFlag, "run at most `N` steps at once in this process")
	flags.StringArrayVar(&f.pools, "pools", nil, "cap named pools of steps in this process, `NAME=N[,NAME=N]` (repeatable), such as ai=4")
	flags.DurationVar(&f.lease, "lease", durableLease, "lease steps for `DURATION`, renewed every third of it: a dead process's steps run again elsewhere once it expires")
	flags.DurationVar(&f.poll, "poll", time.Second, "look for work nobody announced (expired leases, retries due, runs of processes that cannot notify) every `DURATION`")
	flags.DurationVar(&f.grace, "grace", 30*time.Second, "on SIGTERM, let running steps finish for up to `DURATION`")
	flags.StringVar(&f.outputDir, "output-dir", "", "root `DIR` of output steps with destination \"file\"")
	flags.StringVar(&f.allowHosts, "allow-hosts", "", "comma-separated `LIST` of hostnames, IP addresses and CIDR blocks that webhooks may reach besides public addresses (default $"+envAllowHosts+")")
	flags.StringVar(&f.logFormat, "log-format", "text", "log lines on standard error as `text` or json")
	flags.StringVar(&f.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	flags.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process to `FILE` (for benchmarks)")
	flags.MarkHidden("cpuprofile")
	f.ai.register(cmd)
	f.limits.register(cmd)
}

// stepProcess is what a command that runs steps sets up from its flags:
// the step types, document options, logger, metrics, and the engine's
// configuration (without a store).
type stepProcess struct {
	reg     *weft.Registry
	opts    *workflow.Options
	logger  *slog.Logger
	cfg     *engine.Config
	metrics *serverMetrics
}

// setup checks the flags and builds the step process.
func (f *stepProcessFlags) setup(cmd *cobra.Command) (*stepProcess, error) {
	if f.grace < 0 {
		return nil, usagef("--grace %s: expected a duration of 0 or more", f.grace)
	}
	if f.lease < 100*time.Millisecond {
		return nil, usagef("--lease %s: expected 100ms or more", f.lease)
	}
	if f.poll < 10*time.Millisecond {
		return nil, usagef("--poll %s: expected 10ms or more", f.poll)
	}
	pools, err := parsePools(f.pools)
	if err != nil {
		return nil, err
	}
	logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
	if err != nil {
		return nil, err
	}
	allow, err := allowHostsOf(cmd, f.allowHosts)
	if err != nil {
		return nil, err
	}
	providers, err := f.ai.providers()
	if err != nil {
		return nil, err
	}
	reg, err := executor.NewRegistry(&executor.Config{OutputDir: f.outputDir, Stdout: &lockedWriter{w: cmd.OutOrStdout()}, AllowHosts: allow, AI: providers})
	if err != nil {
		return nil, usagef("--allow-hosts: %v", err)
	}
	opts, err := f.limits.options(reg)
	if err != nil {
		return nil, internalError(cmd.ErrOrStderr(), err)
	}
	cfg := engineConfig(reg, int(f.maxParallel), opts.Limits, true)
	cfg.Pools, cfg.Logger, cfg.LeaseDuration, cfg.PollInterval = pools, logger, f.lease, f.poll
	defaultProvider := ""
	if providers != nil {
		defaultProvider = providers.Default()
	}
	metrics, err := newMetrics(cfg, defaultProvider)
	if err != nil {
		return nil, internalError(cmd.ErrOrStderr(), err)
	}
	return &stepProcess{reg: reg, opts: opts, logger: logger, cfg: cfg, metrics: metrics}, nil
}

// profile starts the CPU profile of --cpuprofile, if any, and returns the
// function that stops it.
func (f *stepProcessFlags) profile() (stop func(), err error) {
	if f.cpuProfile == "" {
		return func() {}, nil
	}
	pf, err := os.Create(f.cpuProfile)
	if err != nil {
		return nil, usagef("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, usagef("--cpuprofile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		pf.Close()
	}, nil
}

// drain lets the engine's running steps finish within the grace period,
// logging what it had to stop.
func (p *stepProcess) drain(ctx context.Context, eng *engine.Engine, grace time.Duration) {
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := eng.Shutdown(graceCtx); err != nil {
		p.logger.Warn("steps still running at the end of the grace period were stopped; they run again once their lease expires", "err", err)
	}
}
