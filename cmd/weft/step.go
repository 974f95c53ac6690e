package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weft-dev/weft/httpapi"
)

// printStep prints one step of a run in detail (weft runs show --step): its
// state, dependencies, timings, attempts, input (as written and, when its
// templates made it differ, as its attempt got it), output and error.
func printStep(out *errWriter, d *httpapi.StepDetail) {
	attempts := "attempts"
	if d.AttemptCount == 1 {
		attempts = "attempt"
	}
	status := string(d.Status)
	if d.Reason != "" {
		status += " (" + d.Reason + ")"
	}
	fmt.Fprintf(out, "step %s (%s): %s, %d %s\n", d.ID, d.Type, status, d.AttemptCount, attempts)
	if len(d.DependsOn) > 0 {
		fmt.Fprintf(out, "depends on: %s\n", strings.Join(d.DependsOn, ", "))
	}
	fmt.Fprintf(out, "queue wait %s, run time %s\n", formatDuration(ms(d.QueueWaitMS)), formatDuration(ms(d.DurationMS)))
	if len(d.History) > 0 {
		var b bytes.Buffer
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ATTEMPT\tSTATUS\tWORKER\tSTARTED\tTOOK\tTHEN WAITED\tERROR")
		for _, a := range d.History {
			waited := "-"
			if a.DelayMS > 0 {
				waited = formatDuration(ms(a.DelayMS))
			}
			errText := "-"
			if a.Error != nil {
				errText = errorText(a.Error, eventErrorWidth)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Attempt, a.Status, a.Worker,
				a.StartedAt.Local().Format("15:04:05.000"), formatDuration(ms(a.DurationMS)), waited, errText)
		}
		tw.Flush()
		if d.AttemptsTruncated {
			fmt.Fprintf(&b, "(the newest %d attempts)\n", len(d.History))
		}
		out.Write(b.Bytes())
	}
	fmt.Fprintln(out, "input:")
	writeJSON(out, rawOrNull(d.Input))
	if d.ResolvedInput != nil && !sameJSON(d.ResolvedInput, d.Input) {
		fmt.Fprintln(out, "input with its templates evaluated:")
		writeJSON(out, d.ResolvedInput)
	}
	fmt.Fprintln(out, "output:")
	writeJSON(out, rawOrNull(d.Output))
	if d.Error != nil {
		fmt.Fprintf(out, "error: %s\n", errorText(d.Error, eventErrorWidth))
	}
}

// ms is a duration in milliseconds as a time.Duration.
func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
