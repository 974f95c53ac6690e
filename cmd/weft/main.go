// Command weft is the command-line interface of the weft workflow engine.
//
// Usage:
//
//	weft run FILE           run a workflow and report its progress and result
//	weft validate FILE...   check workflow documents, reporting every problem
//	weft plan FILE          show the plan of a workflow: levels, critical path,
//	                        as text, JSON, Graphviz DOT or Mermaid
//	weft runs list|show|cancel|resume|retry
//	                        the runs of a durable store, or of a server (--server)
//	weft serve              serve the HTTP API and metrics, and run workflows
//	weft submit FILE        register a workflow with a server and start a run
//	weft worker             run the steps of a shared (PostgreSQL) store
//	weft version            print the version of weft
//
// Workflow documents are JSON or YAML (by extension: .yaml and .yml are YAML,
// .json is JSON; otherwise by content). run, validate and plan take
// --max-steps and --max-bytes to set the limits a document must respect.
// run, validate and version take --json for machine-readable output.
//
// Exit codes:
//
//	0    success
//	1    a run failed or was canceled (weft run)
//	2    bad usage, or an invalid or unreadable workflow
//	3    internal error, or output that could not be written
//	130  interrupted (weft run instead cancels its run, reports it, exit 1)
//
// Errors are one line on standard error, "weft: ERROR", followed by a pointer
// to the command's help for usage errors; problems in a workflow are one line
// each, "FILE: PATH: MESSAGE (SUGGESTION)".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx, for a clean stop (weft run cancels its
	// run and reports it); the signals are then no longer caught, so that a
	// second one ends weft at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
