package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes (see the package comment).
const (
	exitOK          = 0
	exitRunFailed   = 1 // weft run: the run failed or was canceled
	exitUsage       = 2 // bad usage, or an invalid or unreadable workflow
	exitInternal    = 3 // a bug, or output that could not be written
	exitInterrupted = 130
)

// usagef returns a mistake in the command line. Like the errors of cobra
// and its flags, it is reported as "weft: MESSAGE" followed by a pointer to
// the command's help, exit 2.
func usagef(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// exitError ends a command with an exit code once the command has reported
// why, on its own terms (problems in a workflow, for example).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run runs the CLI with args (without the program name) and returns the
// exit code. It writes only to stdout and stderr, never panics and keeps no
// state between calls, so tests can call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer recoverInternal(stderr, &code)
	if args == nil {
		// cobra reads os.Args when given nil.
		args = []string{}
	}
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(""))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if cmd == nil || cmd.Name() == "help" {
		cmd = root
	}
	// Every other error is a mistake in the command line: unknown commands
	// and flags, bad flag values, wrong arguments (see usagef).
	fmt.Fprintf(stderr, "weft: %s\n", singleLine(err.Error()))
	fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return exitUsage
}

// newRootCmd builds the command tree. Commands are built anew for every run:
// there is no package state.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "weft",
		Short: "weft runs workflows: declarative DAGs of steps",
		Long: `weft validates, plans and runs workflows: declarative DAGs of steps,
written as JSON or YAML documents.

Exit codes: 0 success, 1 a run failed, 2 bad usage or an invalid workflow.`,
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		CompletionOptions:          cobra.CompletionOptions{DisableDefaultCmd: true},
		// The root runs only to report a missing or unknown command.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("missing command: expected one of %s", strings.Join(commandNames(cmd), ", "))
			}
			return unknownCommand(cmd, args[0])
		},
	}
	// The root runs only to report errors: do not offer "weft" alone as a
	// usage line.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable .HasParent}}", 1))
	root.AddCommand(newValidateCmd(), newPlanCmd(), newRunCmd(), newRunsCmd(), newServeCmd(), newSubmitCmd(), newVersionCmd(), newWorkerCmd())
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return unknownCommand(cmd.Root(), rest[0])
			}
			return target.Help()
		},
	})
	return root
}

// commandNames lists the commands of root, help excepted, sorted.
func commandNames(root *cobra.Command) []string {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() && c.Name() != "help" {
			names = append(names, c.Name())
		}
	}
	return names
}

// recoverInternal, deferred, turns a panic into "weft: internal error: …"
// and exit code 3: a bug, but never a stack trace.
func recoverInternal(stderr io.Writer, code *int) {
	if r := recover(); r != nil {
		fmt.Fprintf(stderr, "weft: internal error: %s\n", singleLine(fmt.Sprint(r)))
		*code = exitInternal
	}
}

func unknownCommand(root *cobra.Command, name string) error {
	if s := root.SuggestionsFor(name); len(s) > 0 {
		return usagef("unknown command %q (did you mean %q?)", name, s[0])
	}
	return usagef("unknown command %q: expected one of %s", name, strings.Join(commandNames(root), ", "))
}

// singleLine makes s fit on one line, so that every problem and error is
// one line of output whatever it quotes.
func singleLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// errWriter remembers the first write error, after which it writes nothing.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// writeFailed reports an output that could not be written.
func writeFailed(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "weft: cannot write output: %s\n", singleLine(err.Error()))
	return &exitError{code: exitInternal}
}

// internalError reports an error that is neither the user's nor the
// workflow's: a bug or a broken environment.
func internalError(stderr io.Writer, err error) error {
	fmt.Fprintf(stderr, "weft: internal error: %s\n", singleLine(err.Error()))
	return &exitError{code: exitInternal}
}

// interrupted reports a command stopped by a signal.
func interrupted(stderr io.Writer) error {
	fmt.Fprintln(stderr, "weft: interrupted")
	return &exitError{code: exitInterrupted}
}
