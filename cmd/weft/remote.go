package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/workflow"
)

// envServer is the environment variable that gives --server its default.
const envServer = "WEFT_SERVER"

// serverFlag registers --server on cmd: the address of a weft serve to
// talk to instead of a store. Its default is $WEFT_SERVER.
func serverFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "server", os.Getenv(envServer), "talk to the weft serve at `URL` (such as http://127.0.0.1:8080; default $"+envServer+"); the token is $"+envAPIToken)
}

// newClient returns the client of --server, with the token of
// $WEFT_API_TOKEN.
func newClient(server string) (*httpapi.Client, error) {
	c, err := httpapi.NewClient(server, &httpapi.ClientOptions{Token: os.Getenv(envAPIToken)})
	if err != nil {
		return nil, usagef("--server: %v", err)
	}
	return c, nil
}

// remoteError reports an error of the server: a missing run (exit 2),
// refused credentials (exit 2), or another failure (exit 3), in one line.
func remoteError(stderr io.Writer, err error) error {
	var ae *httpapi.APIError
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "weft: the server says: %s\n", singleLine(ae.Error()))
		if ae.Status == 404 || ae.Status == 401 || ae.Status == 400 || ae.Status == 409 || ae.Status == 422 {
			return &exitError{code: exitUsage}
		}
		return &exitError{code: exitInternal}
	}
	fmt.Fprintf(stderr, "weft: %s\n", singleLine(err.Error()))
	return &exitError{code: exitInternal}
}

// remoteList is weft runs list --server.
func remoteList(cmd *cobra.Command, server string, f *weft.RunFilter, asJSON bool) error {
	c, err := newClient(server)
	if err != nil {
		return err
	}
	list, err := c.ListRuns(cmd.Context(), f)
	if err != nil {
		return remoteError(cmd.ErrOrStderr(), err)
	}
	out := &errWriter{w: cmd.OutOrStdout()}
	if asJSON {
		writeJSON(out, list.Runs)
	} else {
		runTable(out, list.Runs)
	}
	if out.err != nil {
		return writeFailed(cmd.ErrOrStderr(), out.err)
	}
	return nil
}

// remoteShow is weft runs show --server: the run as weft runs show prints
// it, with its events when asked.
func remoteShow(cmd *cobra.Command, server, runID string, asJSON, events bool) error {
	c, err := newClient(server)
	if err != nil {
		return err
	}
	ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
	doc, err := c.Run(ctx, runID)
	if err != nil {
		return remoteError(stderr, err)
	}
	out := &errWriter{w: cmd.OutOrStdout()}
	if asJSON {
		writeJSON(out, doc)
	} else {
		if events {
			// The history so far: the stream of a finished run ends by
			// itself; that of a running one is read up to now.
			hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := c.Events(hctx, runID, 0, func(ev weft.Event) error {
				fmt.Fprintln(out, eventText(&ev))
				return nil
			})
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return remoteError(stderr, err)
			}
		}
		printStatus(out, statusOf(doc))
	}
	if out.err != nil {
		return writeFailed(stderr, out.err)
	}
	return nil
}

// printStatus prints a run's step table, summary, error and result.
func printStatus(out *errWriter, st *engine.Status) {
	var table bytes.Buffer
	stepTable(&table, st, st.Order)
	out.Write(table.Bytes())
	fmt.Fprintln(out, summary(st))
	if st.Error != nil {
		fmt.Fprintf(out, "error: %s\n", errorText(st.Error, eventErrorWidth))
	}
	writeJSON(out, rawOrNull(st.Result))
}

// remoteShowStep is weft runs show --step --server.
func remoteShowStep(cmd *cobra.Command, server, runID, step string, asJSON bool) error {
	c, err := newClient(server)
	if err != nil {
		return err
	}
	d, err := c.RunStep(cmd.Context(), runID, step)
	if err != nil {
		return remoteError(cmd.ErrOrStderr(), err)
	}
	return showStep(cmd, d, asJSON)
}

// remoteCancel is weft runs cancel --server.
func remoteCancel(cmd *cobra.Command, server, runID string) error {
	c, err := newClient(server)
	if err != nil {
		return err
	}
	run, err := c.CancelRun(cmd.Context(), runID)
	if err != nil {
		return remoteError(cmd.ErrOrStderr(), err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "run %s %s\n", run.RunID, run.Status)
	return nil
}

// remoteRetry is weft runs retry --server: the server runs the retry; with
// --wait, weft waits for it and reports it.
func remoteRetry(cmd *cobra.Command, server, runID string, sets []string, wait, asJSON bool) error {
	c, err := newClient(server)
	if err != nil {
		return err
	}
	ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
	var req *httpapi.RetryRequest
	if len(sets) > 0 {
		raw, err := c.RunWorkflow(ctx, runID)
		if err != nil {
			return remoteError(stderr, err)
		}
		def, err := workflow.Parse(raw, &workflow.Options{Format: workflow.FormatJSON})
		if err != nil {
			return internalError(stderr, fmt.Errorf("the recorded workflow of run %s: %w", runID, err))
		}
		inputs, err := parseSets(def, sets)
		if err != nil {
			return err
		}
		req = &httpapi.RetryRequest{Inputs: inputs}
	}
	run, err := c.RetryRun(ctx, runID, req)
	if err != nil {
		return remoteProblems(stderr, "run "+runID, err)
	}
	return remoteOutcome(cmd, c, run, wait, asJSON)
}

// remoteOutcome reports a run the server started (submit, retry): at once,
// or, with wait, once it ended, with the exit code of weft run.
func remoteOutcome(cmd *cobra.Command, c *httpapi.Client, run *httpapi.RunSummary, wait, asJSON bool) error {
	ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
	out := &errWriter{w: cmd.OutOrStdout()}
	if !wait {
		if asJSON {
			writeJSON(out, run)
		} else {
			fmt.Fprintf(out, "run %s %s\n", run.RunID, run.Status)
		}
		if out.err != nil {
			return writeFailed(stderr, out.err)
		}
		return nil
	}
	if !asJSON {
		fmt.Fprintf(out, "run %s\n", run.RunID)
	}
	err := c.Events(ctx, run.RunID, 0, func(ev weft.Event) error {
		if !asJSON && ev.Seq > 0 {
			fmt.Fprintln(out, eventText(&ev))
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "weft: stopped waiting; run %s goes on in the server\n", run.RunID)
			return &exitError{code: 130}
		}
		return remoteError(stderr, err)
	}
	doc, err := c.Run(context.WithoutCancel(ctx), run.RunID)
	if err != nil {
		return remoteError(stderr, err)
	}
	if asJSON {
		writeJSON(out, doc)
	} else {
		printStatus(out, statusOf(doc))
	}
	if out.err != nil {
		return writeFailed(stderr, out.err)
	}
	if doc.Status != weft.RunSucceeded {
		return &exitError{code: exitRunFailed}
	}
	return nil
}

// remoteProblems reports the error of a request that carried a workflow:
// its validation problems, one line each, exit 2; or the error.
func remoteProblems(stderr io.Writer, what string, err error) error {
	var ae *httpapi.APIError
	if errors.As(err, &ae) {
		if probs := ae.Problems(); len(probs) > 0 {
			printProblems(stderr, problemsOf(what, probs))
			return &exitError{code: exitUsage}
		}
	}
	return remoteError(stderr, err)
}

// statusOf turns a run document back into the engine's status, for the
// views that print one.
func statusOf(doc *httpapi.RunDocument) *engine.Status {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	deref := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	st := &engine.Status{
		RunID: doc.RunID, WorkflowID: doc.WorkflowID, WorkflowVersion: doc.WorkflowVersion, State: doc.Status,
		Result: doc.Result, Error: doc.Error, CreatedAt: doc.CreatedAt,
		StartedAt: deref(doc.StartedAt), FinishedAt: deref(doc.FinishedAt),
		Completed: doc.Completed, Active: doc.Active, Order: doc.Steps.IDs,
		Steps: make(map[string]engine.StepState, len(doc.Steps.IDs)),
		Usage: doc.Metrics.AITokens,
		Metrics: engine.Metrics{
			Duration: ms(doc.Metrics.DurationMS), StepsTotal: doc.Metrics.StepsTotal,
			Succeeded: doc.Metrics.Succeeded, Failed: doc.Metrics.Failed, Skipped: doc.Metrics.Skipped,
			Canceled: doc.Metrics.Canceled, Retries: doc.Metrics.Retries,
			PeakParallel: doc.Metrics.PeakParallel, Utilization: doc.Metrics.Utilization,
		},
	}
	for id, s := range doc.Steps.Steps {
		st.Steps[id] = engine.StepState{
			Type: s.Type, Status: s.Status, Reason: s.Reason, Attempts: s.Attempts, Output: s.Output, Error: s.Error,
			Usage: s.AITokens, QueueWait: ms(s.QueueWaitMS), RunTime: ms(s.DurationMS),
			StartedAt: deref(s.StartedAt), FinishedAt: deref(s.FinishedAt),
		}
	}
	return st
}

func newSubmitCmd() *cobra.Command {
	var server, idemKey string
	var params []string
	var wait, asJSON bool
	var maxParallel int64
	cmd := &cobra.Command{
		Use:   "submit FILE",
		Short: "Register a workflow with a weft server and start a run of it",
		Long: `Submit sends a workflow (JSON or YAML) to the weft serve at --server: it is
registered (a new version when its content changed) and a run of it starts
in the server. Without --wait, submit prints the run id and returns; with
--wait, it follows the run's events to its end and reports it as weft runs
show does, with the exit codes of weft run (0 succeeded, 1 failed or
canceled). Interrupting a --wait stops waiting, not the run.

Parameters are --param KEY=VALUE as for weft run. The token is
$WEFT_API_TOKEN.`,
		Example: `  weft submit --server http://127.0.0.1:8080 examples/seed_basic.json --wait
  WEFT_SERVER=http://weft:8080 weft submit pipeline.yaml --param day=2026-11-26 --idempotency-key nightly-2026-11-26`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("submit takes one FILE, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if server == "" {
				return usagef("submit needs a server: --server URL or $%s", envServer)
			}
			p, err := parseParams(params)
			if err != nil {
				return err
			}
			c, err := newClient(server)
			if err != nil {
				return err
			}
			file, stderr := args[0], cmd.ErrOrStderr()
			doc, err := os.ReadFile(file)
			if err != nil {
				printProblems(stderr, problemsOf(file, err))
				return &exitError{code: exitUsage}
			}
			ext := strings.ToLower(filepath.Ext(file))
			yaml := ext == ".yaml" || ext == ".yml" || (ext != ".json" && !bytes.HasPrefix(bytes.TrimSpace(doc), []byte("{")))
			wf, err := c.RegisterWorkflow(cmd.Context(), doc, yaml)
			if err != nil {
				return remoteProblems(stderr, file, err)
			}
			run, _, err := c.StartRun(cmd.Context(), &httpapi.RunRequest{
				WorkflowID: wf.ID, Version: wf.Version, Params: p, IdempotencyKey: idemKey, MaxParallel: int(maxParallel),
			})
			if err != nil {
				return remoteError(stderr, err)
			}
			return remoteOutcome(cmd, c, run, wait, asJSON)
		},
	}
	serverFlag(cmd, &server)
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "set the run parameter `KEY=VALUE` (VALUE as JSON when valid JSON, else a string); repeatable")
	cmd.Flags().StringVar(&idemKey, "idempotency-key", "", "start at most one run per `KEY`: submitting again returns the first run")
	cmd.Flags().Var((*positiveInt)(&maxParallel), "max-parallel", "the run's max_parallel, overriding the workflow's")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the run to end and report it")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run as JSON (with --wait, the document of weft run --json)")
	return cmd
}
