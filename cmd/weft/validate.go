package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/workflow"
)

func newValidateCmd() *cobra.Command {
	var (
		asJSON bool
		limits limitFlags
	)
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check workflow documents and report every problem",
		Long: `Validate checks each workflow document and reports every problem it
finds, not just the first: syntax, unknown fields, wrong types, unknown or
cyclic dependencies, unknown step types, malformed durations, limits.

A valid file prints "FILE: ok (N steps)" on standard output. Each problem is
one line on standard error: "FILE: PATH: MESSAGE (SUGGESTION)".
With --json, standard output is only a JSON array of problems, each
{"file", "path", "code", "message", "suggestion"}: [] when all are valid.

The exit code is 0 when every file is valid, 2 otherwise.`,
		Example: `  weft validate examples/*.json
  weft validate --json workflow.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("no FILE given: validate needs at least one workflow file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			opts, err := limits.options(nil)
			if err != nil {
				return internalError(cmd.ErrOrStderr(), err)
			}
			return validate(cmd, files, asJSON, opts)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the problems as a JSON array, and nothing else")
	limits.register(cmd)
	return cmd
}

func validate(cmd *cobra.Command, files []string, asJSON bool, opts *workflow.Options) error {
	ctx := cmd.Context()
	stdout := &errWriter{w: cmd.OutOrStdout()}
	stderr := cmd.ErrOrStderr()
	all := []problem{} // with --json; [] rather than null when all are valid
	failed := false
	for _, file := range files {
		if ctx.Err() != nil {
			return interrupted(stderr)
		}
		def, err := workflow.ParseFile(file, opts)
		if err != nil {
			failed = true
			probs := problemsOf(file, err)
			if asJSON {
				all = append(all, probs...)
			} else {
				printProblems(stderr, probs)
			}
			continue
		}
		if !asJSON {
			fmt.Fprintf(stdout, "%s: ok (%s)\n", file, plural(len(def.Workflow.Steps), "step"))
		}
	}
	if asJSON {
		writeJSON(stdout, all)
	}
	if stdout.err != nil {
		return writeFailed(stderr, stdout.err)
	}
	if failed {
		return &exitError{code: exitUsage}
	}
	return nil
}

// problem is one problem in one file, as validate --json prints it.
type problem struct {
	File       string `json:"file"`
	Path       string `json:"path"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion"`
}

// codeUnreadable is the code of a file that could not be read.
const codeUnreadable = "unreadable"

// problemsOf turns the error of workflow.ParseFile into problems: the
// document's validation problems, or one problem saying why the file cannot
// be read.
func problemsOf(file string, err error) []problem {
	var verrs weft.ValidationErrors
	if errors.As(err, &verrs) && len(verrs) > 0 {
		probs := make([]problem, len(verrs))
		for i, e := range verrs {
			probs[i] = problem{File: file, Path: e.Path, Code: e.Code, Message: e.Message, Suggestion: e.Suggestion}
		}
		return probs
	}
	// The path is already in the line: keep only the reason, such as
	// "no such file or directory".
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error()
	}
	return []problem{{File: file, Path: "$", Code: codeUnreadable, Message: "cannot read: " + reason}}
}

// printProblems writes one line per problem: "FILE: PATH: MESSAGE
// (SUGGESTION)", or "FILE: cannot read: REASON".
func printProblems(w io.Writer, probs []problem) {
	for _, p := range probs {
		var line string
		if p.Code == codeUnreadable {
			line = p.File + ": " + p.Message
		} else {
			line = p.File + ": " + weft.ValidationError{Path: p.Path, Message: p.Message, Suggestion: p.Suggestion}.Error()
		}
		fmt.Fprintln(w, singleLine(line))
	}
}

// writeJSON writes v as JSON indented by two spaces, with a trailing
// newline, leaving <, > and & as they are.
func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // write errors are seen by the errWriter
}

// plural returns "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// limitFlags are the document limits a command accepts as flags.
type limitFlags struct {
	maxSteps int64
	maxBytes int64
}

func (l *limitFlags) register(cmd *cobra.Command) {
	flags := cmd.Flags()
	l.maxSteps = weft.DefaultMaxSteps
	l.maxBytes = weft.DefaultMaxDocumentBytes
	flags.Var((*positiveInt)(&l.maxSteps), "max-steps", "refuse workflows of more than `N` steps")
	flags.Var((*positiveInt)(&l.maxBytes), "max-bytes", "refuse documents of more than `N` bytes")
}

// options returns the parse options of the limits, checking step types and
// their inputs against reg, or against the built-in executors
// (executor.NewRegistry) when reg is nil, so that the input checks of each
// type apply (ValidateInput) as they do when the workflow runs.
func (l *limitFlags) options(reg *weft.Registry) (*workflow.Options, error) {
	if reg == nil {
		var err error
		if reg, err = executor.NewRegistry(nil); err != nil {
			return nil, err
		}
	}
	return &workflow.Options{
		Registry: reg,
		Limits:   weft.Limits{MaxSteps: int(l.maxSteps), MaxDocumentBytes: l.maxBytes},
	}, nil
}

// positiveInt is a flag value that must be a whole number of 1 or more.
type positiveInt int64

func (p *positiveInt) String() string { return strconv.FormatInt(int64(*p), 10) }
func (p *positiveInt) Type() string   { return "int" }

func (p *positiveInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > int64(maxInt) {
		return errors.New("expected a whole number of 1 or more")
	}
	*p = positiveInt(n)
	return nil
}

const maxInt = int(^uint(0) >> 1)
