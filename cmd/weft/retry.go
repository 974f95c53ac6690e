package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/workflow"
)

func newRunsRetryCmd() *cobra.Command {
	var f runFlags
	var sets []string
	var server string
	var wait bool
	cmd := &cobra.Command{
		Use:   "retry ID",
		Short: "Run a failed or canceled run again in the foreground and report it as weft run does",
		Long: `Retry runs a failed or canceled run kept in a durable store again: steps that
succeeded keep their outputs and never run again (AI outputs are replayed,
never asked for again); failed, skipped and canceled steps run again, with
their next attempt numbers. --set STEP.input.PATH=VALUE edits a step's input
first (PATH is a dotted path inside the input; VALUE is JSON when it is
valid JSON, else a string); the edited workflow must validate. It reports
the retry as weft run does, with the same views and exit codes.

With --server, the server runs the retry: weft prints the run and returns,
or, with --wait, reports it once it ends.`,
		Args: exactlyOneRun,
		RunE: func(cmd *cobra.Command, args []string) error {
			if server != "" {
				return remoteRetry(cmd, server, args[0], sets, wait, f.asJSON)
			}
			return retryRun(cmd, args[0], sets, &f)
		},
	}
	f.register(cmd, "in this process")
	storeFlag(cmd, &f.store, defaultDurableStore, "the store: sqlite:`PATH`")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "set a value in a step's input: `STEP.input.PATH=VALUE` (repeatable)")
	serverFlag(cmd, &server)
	cmd.Flags().BoolVar(&wait, "wait", false, "with --server: wait for the retried run to end and report it")
	return cmd
}

// retryRun is weft runs retry.
func retryRun(cmd *cobra.Command, runID string, sets []string, f *runFlags) error {
	ctx := cmd.Context()
	r, err := openRecorded(cmd, runID, f)
	if err != nil {
		return err
	}
	defer r.close()
	v, store, def, o := r.runView, r.store, r.def, r.jsonOpts
	inputs, err := parseSets(def, sets)
	if err != nil {
		return err
	}
	evs, err := store.Events(ctx, runID, 0, 0)
	if err != nil {
		return runError(v.stderr, runID, err)
	}
	var after int64
	if len(evs) > 0 {
		after = evs[len(evs)-1].Seq
	}
	eng, err := r.engine(f)
	if err != nil {
		return err
	}
	defer closeEngine(eng, closeTimeout)
	if _, err := eng.Retry(ctx, runID, &engine.RetryOptions{Inputs: inputs}); err != nil {
		var verrs weft.ValidationErrors
		switch {
		case errors.As(err, &verrs):
			printProblems(v.stderr, problemsOf("run "+runID, err))
			return &exitError{code: exitUsage}
		case weft.ErrorCode(err) == weft.CodeInvalid:
			fmt.Fprintf(v.stderr, "weft: %s\n", singleLine(err.Error()))
			return &exitError{code: exitUsage}
		}
		return runError(v.stderr, runID, err)
	}
	if inputs != nil {
		// Report the run as it now is.
		run, err := store.Run(ctx, runID)
		if err != nil {
			return runError(v.stderr, runID, err)
		}
		if def, err = workflow.Parse(run.Workflow, &o); err != nil {
			return internalError(v.stderr, err)
		}
	}
	return followAfter(ctx, eng, def, runID, after, v.mode, v.con, v.stdout, v.stderr)
}

// parseSets turns --set STEP.input.PATH=VALUE flags into the new inputs of
// the steps they name, or nil when there are none. VALUE is JSON when it is
// valid JSON, else a string.
func parseSets(def *workflow.Definition, sets []string) (map[string]json.RawMessage, error) {
	if len(sets) == 0 {
		return nil, nil
	}
	edited := make(map[string]map[string]any)
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		if !ok {
			return nil, usagef("--set %q: expected STEP.input.PATH=VALUE, such as --set check.input.data.n=9", s)
		}
		// The longest step id that key starts with (ids may hold '.').
		stepID := ""
		for id := range def.Workflow.Steps {
			if strings.HasPrefix(key, id+".input.") && len(id) > len(stepID) {
				stepID = id
			}
		}
		if stepID == "" {
			return nil, usagef("--set %q: expected STEP.input.PATH=VALUE where STEP is a step of the run", s)
		}
		path := strings.Split(strings.TrimPrefix(key, stepID+".input."), ".")
		if slices.Contains(path, "") {
			return nil, usagef("--set %q: the path inside the input has an empty key", s)
		}
		in, ok := edited[stepID]
		if !ok {
			in = map[string]any{}
			if raw := def.Workflow.Steps[stepID].Input; len(raw) > 0 && string(raw) != "null" {
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.UseNumber()
				if err := dec.Decode(&in); err != nil {
					return nil, usagef("--set %q: the input of step %s is not a JSON object", s, stepID)
				}
			}
			edited[stepID] = in
		}
		var val any
		if trimmed := bytes.TrimSpace([]byte(value)); len(trimmed) > 0 && json.Valid(trimmed) {
			dec := json.NewDecoder(bytes.NewReader(trimmed))
			dec.UseNumber()
			_ = dec.Decode(&val) // valid JSON
		} else {
			val = value
		}
		m := in
		for k, p := range path[:len(path)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				if _, exists := m[p]; exists {
					return nil, usagef("--set %q: %s is not an object in the input of step %s", s, strings.Join(path[:k+1], "."), stepID)
				}
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[path[len(path)-1]] = val
	}
	inputs := make(map[string]json.RawMessage, len(edited))
	for id, in := range edited {
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, usagef("--set: %v", err)
		}
		inputs[id] = raw
	}
	return inputs, nil
}
