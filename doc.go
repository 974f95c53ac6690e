// Package weft holds the domain of the weft workflow engine: the workflow
// document ([Workflow], [Step], [RetryPolicy], [Duration]), the error model
// ([Error] with its codes, [ValidationErrors]), and the small interfaces the
// other packages implement ([Executor], and the [Registry] of step types).
//
// It imports only the standard library. Parsing and validation of documents
// live in package workflow, graph planning in package dag, and the execution
// engine in package engine; they import this package, never the reverse.
package weft
