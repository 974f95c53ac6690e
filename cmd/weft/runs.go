package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/workflow"
)

// defaultDurableStore is the store of weft runs when neither --store nor
// $WEFT_STORE names one.
const defaultDurableStore = "sqlite:weft.db"

func newRunsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List, show, cancel, resume and retry the runs of a durable store or a server",
		Long: `Runs works on the runs kept in a durable store (--store sqlite:PATH, default
sqlite:weft.db or $WEFT_STORE), such as those of weft run --store sqlite:PATH,
or, with --server URL (or $WEFT_SERVER), on the runs of a weft serve: list,
show, cancel and retry then go through its HTTP API, with the token of
$WEFT_API_TOKEN.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("missing command: expected one of list, show, cancel, resume, retry")
		},
	}
	cmd.AddCommand(newRunsListCmd(), newRunsShowCmd(), newRunsCancelCmd(), newRunsResumeCmd(), newRunsRetryCmd())
	return cmd
}

// withStore opens --store and an engine on it that runs no steps, calls
// fn, and closes both.
func withStore(cmd *cobra.Command, spec string, fn func(eng *engine.Engine, store weft.Store) error) error {
	store, closeStore, _, err := openStore(spec)
	if err != nil {
		return storeError(cmd.ErrOrStderr(), err)
	}
	defer closeStore()
	reg, err := executor.NewRegistry(nil)
	if err != nil {
		return internalError(cmd.ErrOrStderr(), err)
	}
	eng, err := engine.New(store, &engine.Config{Registry: reg, NoWorker: true})
	if err != nil {
		return internalError(cmd.ErrOrStderr(), err)
	}
	defer eng.Close()
	return fn(eng, store)
}

// runTable prints runs as a table: id, workflow, status, creation time,
// and the duration of those that ended.
func runTable(out io.Writer, runs []*httpapi.RunSummary) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tWORKFLOW\tSTATUS\tCREATED\tDURATION")
	for _, r := range runs {
		dur := "-"
		if r.FinishedAt != nil && r.StartedAt != nil {
			dur = r.FinishedAt.Sub(*r.StartedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.RunID, r.WorkflowID, r.Status, r.CreatedAt.Format(time.DateTime), dur)
	}
	tw.Flush()
}

// runError reports an unknown run (exit 2) or another failure.
func runError(stderr io.Writer, runID string, err error) error {
	var snf *weft.StepNotFoundError
	if errors.As(err, &snf) {
		fmt.Fprintf(stderr, "weft: %s\n", snf.Error())
		return &exitError{code: exitUsage}
	}
	if errors.Is(err, weft.ErrNotFound) {
		fmt.Fprintf(stderr, "weft: no run %s in this store\n", runID)
		return &exitError{code: exitUsage}
	}
	return internalError(stderr, err)
}

func newRunsListCmd() *cobra.Command {
	var store, status, wf, server string
	var limit int64 = 50
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if server != "" {
				return remoteList(cmd, server, &weft.RunFilter{WorkflowID: wf, Status: weft.RunStatus(status), Limit: int(limit)}, asJSON)
			}
			return withStore(cmd, store, func(_ *engine.Engine, s weft.Store) error {
				filter := &weft.RunFilter{WorkflowID: wf, Status: weft.RunStatus(status), Limit: int(limit)}
				runs, _, err := s.ListRuns(cmd.Context(), filter)
				if err != nil {
					return internalError(cmd.ErrOrStderr(), err)
				}
				out := &errWriter{w: cmd.OutOrStdout()}
				if asJSON {
					type item struct {
						RunID      string         `json:"run_id"`
						WorkflowID string         `json:"workflow_id"`
						Status     weft.RunStatus `json:"status"`
						CreatedAt  time.Time      `json:"created_at"`
						FinishedAt *time.Time     `json:"finished_at"`
					}
					items := make([]item, 0, len(runs))
					for _, r := range runs {
						it := item{RunID: r.ID, WorkflowID: r.WorkflowID, Status: r.Status, CreatedAt: r.CreatedAt}
						if !r.FinishedAt.IsZero() {
							it.FinishedAt = &r.FinishedAt
						}
						items = append(items, it)
					}
					writeJSON(out, items)
				} else {
					rows := make([]*httpapi.RunSummary, len(runs))
					for i, r := range runs {
						rows[i] = httpapi.NewRunSummary(r, time.Now())
					}
					runTable(out, rows)
				}
				if out.err != nil {
					return writeFailed(cmd.ErrOrStderr(), out.err)
				}
				return nil
			})
		},
	}
	storeFlag(cmd, &store, defaultDurableStore, "the store: sqlite:`PATH`")
	cmd.Flags().StringVar(&status, "status", "", "only runs with this `STATUS` (pending, running, succeeded, failed, canceled)")
	cmd.Flags().StringVar(&wf, "workflow", "", "only runs of this workflow `ID`")
	cmd.Flags().Int64Var(&limit, "limit", 50, "at most `N` runs (1 to 1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print [{"run_id", "workflow_id", "status", "created_at", "finished_at"}, ...]`)
	serverFlag(cmd, &server)
	return cmd
}

func newRunsShowCmd() *cobra.Command {
	var store, server, step string
	var asJSON, events bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a run: its steps, result and error (with --events, its history; with --step, one step in detail)",
		Args:  exactlyOneRun,
		RunE: func(cmd *cobra.Command, args []string) error {
			if step != "" && events {
				return usagef("--step and --events go separately")
			}
			if server != "" {
				if step != "" {
					return remoteShowStep(cmd, server, args[0], step, asJSON)
				}
				return remoteShow(cmd, server, args[0], asJSON, events)
			}
			return withStore(cmd, store, func(eng *engine.Engine, s weft.Store) error {
				ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
				if step != "" {
					sd, err := eng.StepDetail(ctx, args[0], step, nil)
					if err != nil {
						return runError(stderr, args[0], err)
					}
					return showStep(cmd, httpapi.NewStepDetail(sd), asJSON)
				}
				st, err := eng.Status(ctx, args[0])
				if err != nil {
					return runError(stderr, args[0], err)
				}
				out := &errWriter{w: cmd.OutOrStdout()}
				if asJSON {
					writeJSON(out, httpapi.NewRunDocument(st))
				} else {
					if events {
						evs, err := s.Events(ctx, args[0], 0, 0)
						if err != nil {
							return runError(stderr, args[0], err)
						}
						for i := range evs {
							fmt.Fprintln(out, eventText(&evs[i]))
						}
					}
					printStatus(out, st)
				}
				if out.err != nil {
					return writeFailed(stderr, out.err)
				}
				return nil
			})
		},
	}
	storeFlag(cmd, &store, defaultDurableStore, "the store: sqlite:`PATH`")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run as weft run --json does")
	cmd.Flags().BoolVar(&events, "events", false, "also print the run's events, oldest first")
	cmd.Flags().StringVar(&step, "step", "", "show this `STEP` in detail: its attempts, input (templates evaluated), output and error (--json: as GET /api/v1/runs/ID/steps/STEP)")
	serverFlag(cmd, &server)
	return cmd
}

// showStep prints a step's detail, as JSON or for people.
func showStep(cmd *cobra.Command, d *httpapi.StepDetail, asJSON bool) error {
	out := &errWriter{w: cmd.OutOrStdout()}
	if asJSON {
		writeJSON(out, d)
	} else {
		printStep(out, d)
	}
	if out.err != nil {
		return writeFailed(cmd.ErrOrStderr(), out.err)
	}
	return nil
}

// eventText is one line of a run's history.
func eventText(e *weft.Event) string {
	s := fmt.Sprintf("%4d %s %s", e.Seq, e.Time.Format("15:04:05.000"), e.Type)
	if e.StepID != "" {
		s += " " + e.StepID
	}
	if e.Attempt > 0 {
		s += fmt.Sprintf(" attempt %d", e.Attempt)
	}
	if e.Delay > 0 {
		s += " retry in " + e.Delay.String()
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	if e.Error != nil {
		s += ": " + errorText(e.Error, eventErrorWidth)
	}
	return s
}

func newRunsCancelCmd() *cobra.Command {
	var store, server string
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an unfinished run",
		Args:  exactlyOneRun,
		RunE: func(cmd *cobra.Command, args []string) error {
			if server != "" {
				return remoteCancel(cmd, server, args[0])
			}
			return withStore(cmd, store, func(eng *engine.Engine, _ weft.Store) error {
				run, err := eng.Cancel(cmd.Context(), args[0])
				if err != nil {
					return runError(cmd.ErrOrStderr(), args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "run %s %s\n", run.ID, run.Status)
				return nil
			})
		},
	}
	storeFlag(cmd, &store, defaultDurableStore, "the store: sqlite:`PATH`")
	serverFlag(cmd, &server)
	return cmd
}

func newRunsResumeCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "resume ID",
		Short: "Continue an unfinished run in the foreground and report it as weft run does",
		Long: `Resume continues a run kept in a durable store, such as one whose weft run was
killed: steps that succeeded keep their outputs and never run again; steps
that were running in a dead process run again with their next attempt once
their lease (4s for weft run) has expired. It reports the whole run as weft
run does, with the same views and exit codes.`,
		Args: exactlyOneRun,
		RunE: func(cmd *cobra.Command, args []string) error {
			return resumeRun(cmd, args[0], &f)
		},
	}
	f.register(cmd, "in this process")
	storeFlag(cmd, &f.store, defaultDurableStore, "the store: sqlite:`PATH`")
	return cmd
}

// recorded is a run of a durable store opened to be executed again (weft
// runs resume and retry): the view, the store, and the run's definition as
// recorded.
type recorded struct {
	*runView
	store    weft.Store
	close    func() error
	durable  bool
	run      *weft.Run
	jsonOpts workflow.Options // the view's, reading JSON
	def      *workflow.Definition
}

// openRecorded sets up the view of f, opens its store and rebuilds run
// runID's definition from its recorded workflow. The caller closes it.
func openRecorded(cmd *cobra.Command, runID string, f *runFlags) (*recorded, error) {
	v, err := newRunView(cmd, f)
	if err != nil {
		return nil, err
	}
	store, closeStore, durable, err := openStore(f.store)
	if err != nil {
		return nil, storeError(v.stderr, err)
	}
	r := &recorded{runView: v, store: store, close: closeStore, durable: durable}
	if r.run, err = store.Run(cmd.Context(), runID); err != nil {
		closeStore()
		return nil, runError(v.stderr, runID, err)
	}
	r.jsonOpts = *v.opts
	r.jsonOpts.Format = workflow.FormatJSON
	if r.def, err = workflow.Parse(r.run.Workflow, &r.jsonOpts); err != nil {
		closeStore()
		printProblems(v.stderr, problemsOf("run "+runID, err))
		return nil, &exitError{code: exitUsage}
	}
	return r, nil
}

// engine starts an engine running the recorded run's steps.
func (r *recorded) engine(f *runFlags) (*engine.Engine, error) {
	eng, err := engine.New(r.store, engineConfig(r.reg, int(f.maxParallel), r.jsonOpts.Limits, r.durable))
	if err != nil {
		return nil, internalError(r.stderr, err)
	}
	return eng, nil
}

// resumeRun is weft runs resume.
func resumeRun(cmd *cobra.Command, runID string, f *runFlags) error {
	r, err := openRecorded(cmd, runID, f)
	if err != nil {
		return err
	}
	defer r.close()
	eng, err := r.engine(f)
	if err != nil {
		return err
	}
	defer closeEngine(eng, closeTimeout)
	return follow(cmd.Context(), eng, r.def, runID, r.mode, r.con, r.stdout, r.stderr)
}

// exactlyOneRun checks that a command got one run id.
func exactlyOneRun(cmd *cobra.Command, args []string) error {
	switch len(args) {
	case 0:
		return usagef("no run ID given: %s needs one", cmd.Name())
	case 1:
		return nil
	}
	return usagef("too many arguments: %s takes one run ID, got %d", cmd.Name(), len(args))
}
