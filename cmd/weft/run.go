package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/workflow"
)

// envAllowHosts is the environment variable that gives --allow-hosts its
// default.
const envAllowHosts = "WEFT_ALLOW_HOSTS"

// Bounds on the waits of a run's ending, so that weft run always returns.
const (
	cancelTimeout = 5 * time.Second  // engine.Cancel after an interrupt
	finishTimeout = 10 * time.Second // waiting for the run's final state once its events ended
	closeTimeout  = 5 * time.Second  // engine.Close: attempts in flight to stop
)

// runFlags are the flags of weft run.
type runFlags struct {
	params      []string
	maxParallel int64
	asJSON      bool
	quiet       bool
	outputDir   string
	allowHosts  string
	ai          aiFlags
	limits      limitFlags
	store       string
	idemKey     string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a workflow, showing its progress, steps and result",
		Long: `Run validates a workflow, runs it in this process (in memory: nothing is
kept after weft exits) and reports it.

Views:
  on a terminal   the run id, a live status line (done/total, running,
                  retrying, failed, elapsed), failures and retries as they
                  happen, then a table of the steps in topological order,
                  a summary line and the result as JSON
  otherwise       the run id, one line per step event ("15:04:05.000 step
                  ID succeeded (attempt 1, 3ms)"), a summary line and the
                  result as JSON
  --quiet         only the result as JSON; errors on standard error
  --json          only this document: {"run_id", "workflow_id", "status",
                  "result", "error", "created_at", "started_at",
                  "finished_at", "completed" (step ids in the order they
                  ended), "active" (attempts in flight), "order" (step ids
                  in topological order), "steps": {ID: {"type", "status",
                  "reason", "attempts", "output", "error": {"code",
                  "message"}, "queue_wait_ms", "duration_ms",
                  "started_at", "finished_at", "ai_tokens" (steps that
                  used AI tokens)}}, "metrics": {"duration_ms",
                  "steps_total", "succeeded", "failed", "skipped",
                  "canceled", "retries", "peak_parallel", "utilization",
                  "ai_tokens": {"prompt_tokens", "completion_tokens",
                  "total_tokens"}}}: the document of the HTTP API's
                  GET /api/v1/runs/{id}. Durations are milliseconds with
                  3 decimals; "error" and "result" are null when there is
                  none; times not reached yet are left out; steps are in
                  topological order.

Output steps with destination "stdout" write between the lines of the
views, never inside one; with --json or --quiet they write to standard
error, so that standard output holds only the document.

A parameter is --param KEY=VALUE, repeatable (the last one of a key wins).
VALUE is read as JSON when it is valid JSON (3, true, null, {"a": 1},
"quoted"), else taken as a string. KEY is 1 to 128 letters, digits, '_' and
'-', starting with a letter or '_'. Parameters are merged over the
workflow's params.

--max-parallel N caps the steps running at once: it is both this process's
cap (10 by default) and the run's max_parallel, overriding the workflow's.

AI steps ask the provider named by their "provider" field, else the
default one, chosen by --ai-provider:
  echo     offline, for dry runs and demos: answers with the prompt and
           its context, and counts no tokens
  openai   any OpenAI-compatible Chat Completions server (OpenAI, Ollama,
           vLLM, llama.cpp server, LM Studio), configured by the
           environment: $WEFT_AI_BASE_URL (default https://api.openai.com/v1),
           $WEFT_AI_API_KEY (else $OPENAI_API_KEY), $WEFT_AI_MODEL (the
           model of steps that name none). It is the default provider
           when a base URL or a key is set. Its base URL is trusted:
           --allow-hosts does not apply to it.
--ai-rpm N limits the openai provider to N requests per minute; steps
waiting for a request slot hold no place among the running steps. With no
provider, ai steps fail with code invalid.

Interrupting weft (Ctrl-C) cancels the run: its running steps are stopped,
its other steps canceled, and its final state reported. Interrupt again to
quit at once.

Exit codes: 0 the run succeeded, 1 it failed or was canceled, 2 bad usage
or an invalid or unreadable workflow, 3 an internal error.`,
		Example: `  weft run examples/seed_basic.json
  weft run --ai-provider echo --json examples/seed_parallel.json | jq .metrics
  WEFT_AI_BASE_URL=http://localhost:11434/v1 WEFT_AI_MODEL=llama3.2 weft run examples/seed_parallel.json
  weft run --param name=weft --param n=3 workflow.json
  weft run --output-dir out --allow-hosts hooks.internal,10.0.0.0/8 workflow.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usagef("no FILE given: run needs one workflow file")
			case len(args) > 1:
				return usagef("too many arguments: run takes one FILE, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWorkflow(cmd, args[0], &f)
		},
	}
	cmd.Flags().StringArrayVarP(&f.params, "param", "p", nil, "set the run parameter `KEY=VALUE` (VALUE as JSON when valid JSON, else a string); repeatable")
	cmd.Flags().StringVar(&f.idemKey, "idempotency-key", "", "submit at most once per `KEY`: with a durable --store, a second weft run with the same key follows the first run instead of starting another")
	f.register(cmd, "the engine cap, and the run's max_parallel")
	storeFlag(cmd, &f.store, "memory", "where the run is kept: memory (nothing kept after weft exits) or sqlite:`PATH` (durable: resume it with weft runs resume)")
	return cmd
}

// register adds the flags weft run and weft runs resume share: the views,
// the cap, and what steps may reach.
func (f *runFlags) register(cmd *cobra.Command, maxParallel string) {
	flags := cmd.Flags()
	flags.Var((*positiveInt)(&f.maxParallel), "max-parallel", "run at most `N` steps at once ("+maxParallel+")")
	flags.BoolVar(&f.asJSON, "json", false, "print only the run as a JSON document")
	flags.BoolVarP(&f.quiet, "quiet", "q", false, "print only the result as JSON")
	flags.StringVar(&f.outputDir, "output-dir", "", "root `DIR` of output steps with destination \"file\"")
	flags.StringVar(&f.allowHosts, "allow-hosts", "", "comma-separated `LIST` of hostnames, IP addresses and CIDR blocks that webhooks may reach besides public addresses (default $"+envAllowHosts+")")
	f.ai.register(cmd)
	f.limits.register(cmd)
}

// runWorkflow is weft run.
func runWorkflow(cmd *cobra.Command, file string, f *runFlags) error {
	ctx := cmd.Context()
	params, err := parseParams(f.params)
	if err != nil {
		return err
	}
	v, err := newRunView(cmd, f)
	if err != nil {
		return err
	}
	stdout, stderr := v.stdout, v.stderr
	def, err := workflow.ParseFile(file, v.opts)
	if err != nil {
		printProblems(stderr, problemsOf(file, err))
		return &exitError{code: exitUsage}
	}
	if ctx.Err() != nil {
		return interrupted(stderr)
	}
	mode, con, reg, opts := v.mode, v.con, v.reg, v.opts

	store, closeStore, durable, err := openStore(f.store)
	if err != nil {
		return storeError(stderr, err)
	}
	defer closeStore()
	eng, err := engine.New(store, engineConfig(reg, int(f.maxParallel), opts.Limits, durable))
	if err != nil {
		return internalError(stderr, err)
	}
	defer closeEngine(eng, closeTimeout)

	// The run outlives an interrupt: it is canceled, then reported. Calls
	// made after ctx is done use bg, which keeps ctx's values only.
	bg := context.WithoutCancel(ctx)
	run, err := eng.Submit(bg, def, &engine.SubmitOptions{Params: params, MaxParallel: int(f.maxParallel), IdempotencyKey: f.idemKey})
	if err != nil {
		return internalError(stderr, fmt.Errorf("submit the run: %w", err))
	}
	return follow(ctx, eng, def, run.ID, mode, con, stdout, stderr)
}

// runView is what weft run and weft runs resume set up from their flags:
// the view, the step types, the document options.
type runView struct {
	stdout *errWriter
	stderr io.Writer
	mode   viewMode
	con    *console
	reg    *weft.Registry
	opts   *workflow.Options
}

// newRunView checks the flags shared by weft run and weft runs resume and
// sets up the view and the step types they ask for.
func newRunView(cmd *cobra.Command, f *runFlags) (*runView, error) {
	v := &runView{stdout: &errWriter{w: cmd.OutOrStdout()}, stderr: cmd.ErrOrStderr()}
	if f.asJSON && f.quiet {
		return nil, usagef("--json and --quiet cannot be used together: each prints one JSON document")
	}
	allow, err := allowHostsOf(cmd, f.allowHosts)
	if err != nil {
		return nil, err
	}
	providers, err := f.ai.providers()
	if err != nil {
		return nil, err
	}
	v.mode = viewEvents
	switch {
	case f.asJSON:
		v.mode = viewJSON
	case f.quiet:
		v.mode = viewQuiet
	case isTerminal(cmd.OutOrStdout()):
		v.mode = viewLive
	}
	v.con = &console{w: v.stdout, live: v.mode == viewLive}
	// Output steps that write to stdout share the console, so that their
	// lines and the view's never mix; with --json and --quiet, standard
	// output is the document's alone.
	var stepStdout io.Writer = v.con
	if v.mode == viewJSON || v.mode == viewQuiet {
		stepStdout = &lockedWriter{w: v.stderr}
	}
	v.reg, err = executor.NewRegistry(&executor.Config{OutputDir: f.outputDir, Stdout: stepStdout, AllowHosts: allow, AI: providers})
	if err != nil {
		return nil, usagef("--allow-hosts: %v", err)
	}
	v.opts, err = f.limits.options(v.reg)
	if err != nil {
		return nil, internalError(v.stderr, err)
	}
	return v, nil
}

// engineConfig is the engine configuration of the CLI's commands that run
// steps.
func engineConfig(reg *weft.Registry, maxParallel int, lim weft.Limits, durable bool) *engine.Config {
	c := &engine.Config{Registry: reg, MaxParallelSteps: maxParallel, Limits: lim} // 0: the engine's default
	if durable {
		c.LeaseDuration = durableLease
	}
	return c
}

// storeError reports a store that cannot be opened: a usage error for a
// malformed --store, else the reason, exit 2.
func storeError(stderr io.Writer, err error) error {
	var oe *storeOpenError
	if errors.As(err, &oe) {
		fmt.Fprintf(stderr, "weft: %s\n", singleLine(err.Error()))
		return &exitError{code: exitUsage}
	}
	return err
}

// follow reports a run of eng until it ends, in the view mode, and returns
// the command's outcome: nil when the run succeeded, exit 1 when it failed
// or was canceled. An interrupt (ctx done) cancels the run.
func follow(ctx context.Context, eng *engine.Engine, def *workflow.Definition, runID string, mode viewMode, con *console, stdout *errWriter, stderr io.Writer) error {
	return followAfter(ctx, eng, def, runID, 0, mode, con, stdout, stderr)
}

// followAfter is follow from the run's events after the after-th (those of
// a retry).
func followAfter(ctx context.Context, eng *engine.Engine, def *workflow.Definition, runID string, after int64, mode viewMode, con *console, stdout *errWriter, stderr io.Writer) error {
	bg := context.WithoutCancel(ctx)
	run := &weft.Run{ID: runID}
	subCtx, stopEvents := context.WithCancel(bg)
	defer stopEvents()
	events, err := eng.Subscribe(subCtx, run.ID, after)
	if err != nil {
		return internalError(stderr, fmt.Errorf("follow run %s: %w", run.ID, err))
	}

	rep := newReporter(mode, con, stderr, def, run.ID, time.Now())
	rep.begin()
	var tick <-chan time.Time
	if mode == viewLive {
		t := time.NewTicker(liveInterval)
		defer t.Stop()
		tick = t.C
	}
	done := ctx.Done()
	for events != nil {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				break
			}
			rep.event(&ev)
		case <-tick:
			rep.redraw()
		case <-done:
			done = nil
			rep.interrupted()
			cctx, cancel := context.WithTimeout(bg, cancelTimeout)
			_, err := eng.Cancel(cctx, run.ID)
			cancel()
			if err != nil {
				rep.note(fmt.Sprintf("weft: cannot cancel run %s: %s", run.ID, singleLine(err.Error())))
			}
		}
	}

	st, err := finalStatus(bg, eng, run.ID)
	if err != nil {
		rep.stop()
		return internalError(stderr, fmt.Errorf("run %s: %w", run.ID, err))
	}
	rep.finish(st)
	if err := con.writeError(stdout); err != nil {
		return writeFailed(stderr, err)
	}
	if st.State != weft.RunSucceeded {
		return &exitError{code: exitRunFailed}
	}
	return nil
}

// finalStatus returns the status of a run whose events ended: once it is
// over, or, if it is not over in time, as it is.
func finalStatus(ctx context.Context, eng *engine.Engine, runID string) (*engine.Status, error) {
	wctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	st, err := eng.Wait(wctx, runID)
	if st != nil {
		return st, nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return eng.Status(ctx, runID)
	}
	return nil, err
}

// closeEngine closes eng, waiting at most d for the attempts in flight to
// stop: an executor that ignores cancellation cannot hold weft forever.
func closeEngine(eng *engine.Engine, d time.Duration) {
	closed := make(chan struct{})
	go func() {
		eng.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(d):
	}
}

// parseParams turns --param KEY=VALUE flags into a JSON object, or nil when
// there are none. VALUE is JSON when it is valid JSON, else a string; a
// later KEY wins.
func parseParams(flags []string) (json.RawMessage, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	params := make(map[string]json.RawMessage, len(flags))
	for _, p := range flags {
		key, value, ok := cutParam(p)
		if !ok {
			return nil, usagef("--param %q: expected KEY=VALUE, such as --param name=weft", p)
		}
		if !validParamKey(key) {
			return nil, usagef("--param %q: %q is not a parameter name: expected 1 to %d letters, digits, '_' and '-', starting with a letter or '_'", p, key, weft.MaxIDBytes)
		}
		var raw json.RawMessage
		if trimmed := bytes.TrimSpace([]byte(value)); len(trimmed) > 0 && json.Valid(trimmed) {
			var buf bytes.Buffer
			_ = json.Compact(&buf, trimmed) // valid, so it compacts
			raw = buf.Bytes()
		} else {
			raw, _ = json.Marshal(value) // a string always marshals
		}
		params[key] = raw
	}
	out, err := json.Marshal(params)
	if err != nil {
		return nil, usagef("--param: %v", err)
	}
	return out, nil
}

// cutParam splits KEY=VALUE at the first '='.
func cutParam(p string) (key, value string, ok bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '=' {
			return p[:i], p[i+1:], true
		}
	}
	return "", "", false
}

// validParamKey reports whether k is a parameter name: 1 to 128 letters,
// digits, '_' and '-', starting with a letter or '_', so that templates can
// read it as params.k (or params["k-1"]).
func validParamKey(k string) bool {
	if len(k) == 0 || len(k) > weft.MaxIDBytes {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || (c < '0' || c > '9') && c != '-') {
			return false
		}
	}
	return true
}

// allowHostsOf parses --allow-hosts, or $WEFT_ALLOW_HOSTS when the flag is
// not given.
func allowHostsOf(cmd *cobra.Command, flag string) ([]string, error) {
	list, source := flag, "--allow-hosts"
	if !cmd.Flags().Changed("allow-hosts") {
		list, source = os.Getenv(envAllowHosts), "$"+envAllowHosts
	}
	hosts, err := executor.ParseAllowHosts(list)
	if err != nil {
		return nil, usagef("%s: %v", source, err)
	}
	return hosts, nil
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// rawOrNull returns raw, or nil (written as null) when it is empty.
func rawOrNull(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	return raw
}
