package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/workflow"
)

// viewMode is how weft run reports a run.
type viewMode int

const (
	viewEvents viewMode = iota // one line per step event (not a terminal)
	viewLive                   // a live status line and a final table (a terminal)
	viewQuiet                  // the result only
	viewJSON                   // the run document only
)

// liveInterval is how often the live status line is redrawn, at most.
const liveInterval = 100 * time.Millisecond

// Widths of the live view and the final table.
const (
	tableErrorWidth = 60  // the error column of the final table
	eventErrorWidth = 500 // an error message in an event line
)

// isTerminal reports whether w is a terminal: a character device, or a
// writer that says it is one (tests).
func isTerminal(w io.Writer) bool {
	switch t := w.(type) {
	case interface{ IsTerminal() bool }:
		return t.IsTerminal()
	case *os.File:
		fi, err := t.Stat()
		return err == nil && fi.Mode()&os.ModeCharDevice != 0
	}
	return false
}

// console is standard output shared by the view and the output steps that
// write to stdout. Every write is whole lines under one mutex, so lines
// never mix; on a terminal, the status line is erased before a write and
// drawn again after it, so that it stays the last line.
type console struct {
	mu     sync.Mutex
	w      io.Writer
	live   bool
	status string // the status line on screen, "" when none
}

// Write writes the output of a step (executor.Config.Stdout).
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	status := c.status
	c.eraseLocked()
	n, err := c.w.Write(p)
	if err == nil && c.live && len(p) > 0 && p[len(p)-1] != '\n' {
		// Keep the status line on a line of its own.
		_, err = io.WriteString(c.w, "\n")
	}
	c.drawLocked(status)
	return n, err
}

// line writes one line of the view, above the status line.
func (c *console) line(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	status := c.status
	c.eraseLocked()
	io.WriteString(c.w, s+"\n")
	c.drawLocked(status)
}

// write writes p, whole lines, with the status line erased for good.
func (c *console) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eraseLocked()
	c.w.Write(p)
}

// writeError returns the first write error of w, the console's writer,
// reading it under the console's lock: steps may still be writing.
func (c *console) writeError(w *errWriter) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return w.err
}

// setStatus replaces the status line (a terminal only).
func (c *console) setStatus(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || s == c.status {
		return
	}
	c.drawLocked(s)
}

// clearStatus erases the status line for good.
func (c *console) clearStatus() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eraseLocked()
}

func (c *console) eraseLocked() {
	if c.status == "" {
		return
	}
	io.WriteString(c.w, "\r"+strings.Repeat(" ", utf8.RuneCountInString(c.status))+"\r")
	c.status = ""
}

// drawLocked draws s as the status line, over the one on screen.
func (c *console) drawLocked(s string) {
	if !c.live || s == "" {
		return
	}
	// Spaces cover what is left of a longer line on screen.
	pad := utf8.RuneCountInString(c.status) - utf8.RuneCountInString(s)
	io.WriteString(c.w, "\r"+s+strings.Repeat(" ", max(pad, 0)))
	c.status = s
}

// reporter shows a run as its events come and its final state.
type reporter struct {
	mode   viewMode
	con    *console
	stderr io.Writer
	def    *workflow.Definition
	order  []string // step ids in topological order
	runID  string
	start  time.Time

	// The steps' state as the events tell it, for the live view and the
	// durations of event lines.
	status   map[string]weft.StepStatus
	since    map[string]time.Time // when the step's current attempt started
	done     int
	running  int
	retrying int
	failed   int
}

func newReporter(mode viewMode, con *console, stderr io.Writer, def *workflow.Definition, runID string, start time.Time) *reporter {
	g := def.Graph
	order := make([]string, 0, g.Len())
	for _, u := range g.Order() {
		order = append(order, g.ID(u))
	}
	return &reporter{
		mode: mode, con: con, stderr: stderr, def: def, order: order, runID: runID, start: start,
		status: make(map[string]weft.StepStatus, len(order)),
		since:  make(map[string]time.Time),
	}
}

func (r *reporter) human() bool { return r.mode == viewEvents || r.mode == viewLive }

// begin prints the run id, first, so that the run can be found later.
func (r *reporter) begin() {
	if !r.human() {
		return
	}
	r.con.line(fmt.Sprintf("run %s started: workflow %s, %s", r.runID, r.def.Workflow.ID, plural(len(r.order), "step")))
	r.redraw()
}

// event takes in one event of the run.
func (r *reporter) event(ev *weft.Event) {
	if ev.StepID == "" {
		return // the run's own events: begin and finish stand for them
	}
	var took time.Duration
	if t, ok := r.since[ev.StepID]; ok {
		took = ev.Time.Sub(t)
	}
	switch ev.Type {
	case weft.EventStepStarted:
		r.since[ev.StepID] = ev.Time
		r.move(ev.StepID, weft.StepRunning)
	case weft.EventStepRetrying:
		r.move(ev.StepID, weft.StepRetrying)
	case weft.EventStepSucceeded:
		r.move(ev.StepID, weft.StepSucceeded)
	case weft.EventStepFailed:
		r.move(ev.StepID, weft.StepFailed)
	case weft.EventStepSkipped:
		r.move(ev.StepID, weft.StepSkipped)
	case weft.EventStepCanceled:
		r.move(ev.StepID, weft.StepCanceled)
	}
	switch r.mode {
	case viewEvents:
		r.con.line(ev.Time.Local().Format("15:04:05.000") + " " + eventLine(ev, took))
	case viewLive:
		// Only what needs attention stays on screen; the status line
		// counts the rest.
		// The status line is redrawn by the ticker, at most every
		// liveInterval, however fast the events come.
		if ev.Type == weft.EventStepRetrying || ev.Type == weft.EventStepFailed {
			r.con.line(eventLine(ev, took))
			r.redraw()
		}
	}
}

// move records a step's new status and keeps the counts.
func (r *reporter) move(id string, to weft.StepStatus) {
	from := r.status[id]
	if from == to || from.Terminal() {
		return
	}
	r.count(from, -1)
	r.count(to, +1)
	r.status[id] = to
}

func (r *reporter) count(s weft.StepStatus, n int) {
	switch s {
	case weft.StepRunning:
		r.running += n
	case weft.StepRetrying:
		r.retrying += n
	case weft.StepFailed:
		r.failed += n
	}
	if s.Terminal() {
		r.done += n
	}
}

// redraw updates the live status line.
func (r *reporter) redraw() {
	if r.mode != viewLive {
		return
	}
	r.con.setStatus(fmt.Sprintf("%d/%d done, %d running, %d retrying, %d failed, %s",
		r.done, len(r.order), r.running, r.retrying, r.failed, formatElapsed(time.Since(r.start))))
}

// interrupted tells that the run is being canceled.
func (r *reporter) interrupted() {
	r.note(fmt.Sprintf("weft: interrupted: canceling run %s", r.runID))
}

// note writes a message for people: above the view, or on standard error
// when standard output is for machines.
func (r *reporter) note(msg string) {
	if r.human() {
		r.con.line(msg)
		return
	}
	fmt.Fprintln(r.stderr, msg)
}

// stop ends the live view.
func (r *reporter) stop() { r.con.clearStatus() }

// finish prints the run's final state.
func (r *reporter) finish(st *engine.Status) {
	var out bytes.Buffer
	defer func() { r.con.write(out.Bytes()) }()
	switch r.mode {
	case viewJSON:
		writeJSON(&out, httpapi.NewRunDocument(st))
		return
	case viewQuiet:
		if st.State != weft.RunSucceeded {
			fmt.Fprintf(r.stderr, "weft: %s\n", summary(st))
			if st.Error != nil {
				fmt.Fprintf(r.stderr, "weft: error: %s\n", errorText(st.Error, eventErrorWidth))
			}
		}
	case viewLive:
		stepTable(&out, st, r.order)
		fallthrough
	case viewEvents:
		fmt.Fprintln(&out, summary(st))
		if st.Error != nil {
			fmt.Fprintf(&out, "error: %s\n", errorText(st.Error, eventErrorWidth))
		}
	}
	writeJSON(&out, rawOrNull(st.Result))
}

// eventLine describes a step event, without its time:
//
//	step fetch started (attempt 1)
//	step fetch succeeded (attempt 1, 3ms)
//	step fetch retrying in 1.2s (attempt 1, 30ms): unavailable: 503 Service Unavailable
//	step fetch failed (attempt 4, 31ms): unavailable: 503 Service Unavailable
//	step report skipped (upstream_failed)
//	step fetch canceled (run_canceled)
func eventLine(ev *weft.Event, took time.Duration) string {
	var b strings.Builder
	b.WriteString("step " + ev.StepID + " ")
	attempt := func() {
		fmt.Fprintf(&b, " (attempt %d, %s)", ev.Attempt, formatDuration(took))
	}
	switch ev.Type {
	case weft.EventStepStarted:
		fmt.Fprintf(&b, "started (attempt %d)", ev.Attempt)
	case weft.EventStepSucceeded:
		b.WriteString("succeeded")
		attempt()
	case weft.EventStepRetrying:
		b.WriteString("retrying in " + formatDuration(ev.Delay))
		attempt()
	case weft.EventStepFailed:
		b.WriteString("failed")
		attempt()
	case weft.EventStepSkipped:
		b.WriteString("skipped")
	case weft.EventStepCanceled:
		b.WriteString("canceled")
	default:
		b.WriteString(string(ev.Type))
	}
	if ev.Reason != "" {
		b.WriteString(" (" + ev.Reason + ")")
	}
	if ev.Error != nil {
		b.WriteString(": " + errorText(ev.Error, eventErrorWidth))
	}
	return singleLine(b.String())
}

// summary sums up a finished run in one line:
//
//	run 3f9a0c1d2e3f4a5b succeeded in 2.1ms: 2 steps, 2 succeeded
//	run 3f9a0c1d2e3f4a5b failed in 5ms: 6 steps, 4 succeeded, 1 failed, 1 skipped, 3 retries
func summary(st *engine.Status) string {
	m := &st.Metrics
	s := fmt.Sprintf("run %s %s in %s: %s, %d succeeded", st.RunID, st.State, formatDuration(m.Duration), plural(m.StepsTotal, "step"), m.Succeeded)
	for _, c := range []struct {
		n    int
		what string
	}{{m.Failed, "failed"}, {m.Skipped, "skipped"}, {m.Canceled, "canceled"}} {
		if c.n > 0 {
			s += fmt.Sprintf(", %d %s", c.n, c.what)
		}
	}
	switch {
	case m.Retries == 1:
		s += ", 1 retry"
	case m.Retries > 1:
		s += fmt.Sprintf(", %d retries", m.Retries)
	}
	return s
}

// stepTable writes the steps in order: step, type, status, attempts,
// duration (time spent running, over all attempts) and error (truncated),
// or the reason a step was skipped or canceled.
func stepTable(b *bytes.Buffer, st *engine.Status, order []string) {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTYPE\tSTATUS\tATTEMPTS\tDURATION\tERROR")
	for _, id := range order {
		s, ok := st.Steps[id]
		if !ok {
			continue
		}
		dur := "-"
		if s.Attempts > 0 {
			dur = formatDuration(s.RunTime)
		}
		detail := ""
		switch {
		case s.Error != nil:
			detail = errorText(s.Error, tableErrorWidth)
		case s.Reason != "":
			detail = "(" + s.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", id, s.Type, s.Status, s.Attempts, dur, detail)
	}
	tw.Flush()
	// The last column is often empty: drop the padding before it.
	lines := bytes.SplitAfter(table.Bytes(), []byte("\n"))
	for _, l := range lines {
		b.Write(bytes.TrimRight(l[:len(bytes.TrimSuffix(l, []byte("\n")))], " "))
		if bytes.HasSuffix(l, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
}

// errorText writes an error as "CODE: MESSAGE" on one line, cut to width
// runes.
func errorText(e *weft.ErrorInfo, width int) string {
	return truncate(singleLine(string(e.Code)+": "+e.Message), width)
}

// truncate cuts s to at most n runes, ending with "…" when it was cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// formatDuration writes d for people, with about 2 significant digits:
// 412µs, 3.4ms, 120ms, 1.2s, 2m3s.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(float64(d)/float64(time.Second), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// formatElapsed writes the elapsed time of the live view: 0.3s, 12.0s,
// 2m3s.
func formatElapsed(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}
