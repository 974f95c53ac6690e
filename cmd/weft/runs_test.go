package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/httpapi"
	"github.com/weft-dev/weft/sqlite"
	"github.com/weft-dev/weft/workflow"
)

const seedBasicPath = "../../examples/seed_basic.json"

// resumeDoc is the part of the --json document these tests read.
type resumeDoc struct {
	RunID  string          `json:"run_id"`
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
	Steps  map[string]struct {
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
	} `json:"steps"`
}

func decodeDoc(t *testing.T, r result) resumeDoc {
	t.Helper()
	var d resumeDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("not a JSON document (%v):\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return d
}

func TestDurableRunListShow(t *testing.T) {
	store := "sqlite:" + filepath.Join(t.TempDir(), "weft.db")
	r := cli(t, "run", "--store", store, "--json", seedBasicPath)
	if r.code != exitOK {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	id := decodeDoc(t, r).RunID

	r = cli(t, "runs", "list", "--store", store, "--json")
	var list []struct {
		RunID      string     `json:"run_id"`
		WorkflowID string     `json:"workflow_id"`
		Status     string     `json:"status"`
		FinishedAt *time.Time `json:"finished_at"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != exitOK {
		t.Fatalf("runs list: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if len(list) != 1 || list[0].RunID != id || list[0].WorkflowID != "simple_workflow" || list[0].Status != "succeeded" || list[0].FinishedAt == nil {
		t.Errorf("runs list = %+v", list)
	}

	d := decodeDoc(t, cli(t, "runs", "show", id, "--store", store, "--json"))
	if d.Status != "succeeded" || compact(d.Result) != `{"message":"HELLO"}` {
		t.Errorf("runs show: %s %s", d.Status, d.Result)
	}
	r = cli(t, "runs", "show", id, "--store", store, "--events")
	if r.code != exitOK || !strings.Contains(r.stdout, "step_succeeded process_data attempt 1") || !strings.Contains(r.stdout, `"message": "HELLO"`) {
		t.Errorf("runs show --events: exit %d\n%s", r.code, r.stdout)
	}
	r = cli(t, "runs", "show", "nope", "--store", store)
	if r.code != exitUsage || r.stderr != "weft: no run nope in this store\n" {
		t.Errorf("unknown run: exit %d, %q", r.code, r.stderr)
	}

	// One step in detail: for people, and as the API's JSON.
	r = cli(t, "runs", "show", id, "--store", store, "--step", "process_data")
	for _, want := range []string{"step process_data (process): succeeded, 1 attempt\n", "depends on: collect_data\n",
		"ATTEMPT  STATUS     WORKER", "\n1        succeeded  ", `"operation": "uppercase"`, "output:\n{\n  \"message\": \"HELLO\"\n}\n"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("runs show --step: exit %d, want %q in\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	r = cli(t, "runs", "show", id, "--store", store, "--step", "process_data", "--json")
	var sd httpapi.StepDetail
	if err := json.Unmarshal([]byte(r.stdout), &sd); err != nil || r.code != exitOK {
		t.Fatalf("runs show --step --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if sd.ID != "process_data" || sd.AttemptCount != 1 || len(sd.History) != 1 || sd.History[0].Status != weft.StepSucceeded || compact(sd.Output) != `{"message":"HELLO"}` {
		t.Errorf("runs show --step --json: %+v", sd)
	}
	r = cli(t, "runs", "show", id, "--store", store, "--step", "process_dat")
	if r.code != exitUsage || r.stderr != "weft: no step \"process_dat\" in run "+id+"; did you mean \"process_data\"?\n" {
		t.Errorf("unknown step: exit %d, %q", r.code, r.stderr)
	}
	if r = cli(t, "runs", "show", id, "--store", store, "--step", "x", "--events"); r.code != exitUsage {
		t.Errorf("--step with --events: exit %d, want %d", r.code, exitUsage)
	}
}

// TestResume plays a crash: a run is submitted by a process that dies
// with one step claimed (its lease long expired); weft runs resume
// finishes it, running the claimed step again with its next attempt.
func TestResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	s, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := executor.NewRegistry(nil)
	def, err := workflow.ParseFile(seedBasicPath, &workflow.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(s, &engine.Config{Registry: reg, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	run, err := eng.Submit(t.Context(), def, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng.Close()
	now := time.Now()
	res, err := s.Claim(t.Context(), &weft.ClaimRequest{Worker: "dead-process", Max: 1, Now: now, LeaseUntil: now.Add(-time.Second)})
	if err != nil || len(res.Claims) != 1 {
		t.Fatalf("claim: %v %v", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r := cli(t, "runs", "resume", run.ID, "--store", "sqlite:"+path, "--json")
	if r.code != exitOK {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	d := decodeDoc(t, r)
	if d.Status != "succeeded" || compact(d.Result) != `{"message":"HELLO"}` {
		t.Errorf("resumed run: %s %s", d.Status, d.Result)
	}
	if a := d.Steps["collect_data"].Attempts; a != 2 {
		t.Errorf("collect_data ran %d attempts; want 2 (the dead process's, then the resume's)", a)
	}

	r = cli(t, "runs", "cancel", run.ID, "--store", "sqlite:"+path)
	if r.code != exitOK || r.stdout != "run "+run.ID+" succeeded\n" {
		t.Errorf("cancel of a finished run: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func TestRunIdempotencyKey(t *testing.T) {
	store := "sqlite:" + filepath.Join(t.TempDir(), "weft.db")
	first := decodeDoc(t, cli(t, "run", "--store", store, "--idempotency-key", "nightly-2026-11-26", "--json", seedBasicPath))
	again := decodeDoc(t, cli(t, "run", "--store", store, "--idempotency-key", "nightly-2026-11-26", "--json", seedBasicPath))
	other := decodeDoc(t, cli(t, "run", "--store", store, "--idempotency-key", "nightly-2026-11-27", "--json", seedBasicPath))
	if first.RunID == "" || again.RunID != first.RunID || again.Status != "succeeded" {
		t.Errorf("same key: runs %q and %q (%s)", first.RunID, again.RunID, again.Status)
	}
	if other.RunID == first.RunID {
		t.Errorf("another key gave the same run %s", other.RunID)
	}
	var list []json.RawMessage
	r := cli(t, "runs", "list", "--store", store, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 {
		t.Errorf("runs list: %d runs (%v), want 2", len(list), err)
	}
}

func TestRunsRetryEditedInput(t *testing.T) {
	dir := t.TempDir()
	store := "sqlite:" + filepath.Join(dir, "weft.db")
	wf := filepath.Join(dir, "check.json")
	doc := `{"id": "check_n", "steps": {
		"src": {"type": "process", "input": {"data": {"x": 1}}},
		"check": {"type": "process", "depends_on": ["src"], "input": {"data": {"n": 1},
			"rules": [{"type": "validate", "condition": "n > 5", "message": "n is too small"}]}}
	}}`
	if err := os.WriteFile(wf, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "run", "--store", store, "--json", wf)
	if r.code != exitRunFailed {
		t.Fatalf("run: exit %d; want %d\n%s%s", r.code, exitRunFailed, r.stdout, r.stderr)
	}
	d := decodeDoc(t, r)
	if d.Status != "failed" {
		t.Fatalf("run status %s; want failed", d.Status)
	}

	r = cli(t, "runs", "retry", d.RunID, "--set", "nope.input.n=1", "--store", store, "--json")
	if r.code != exitUsage {
		t.Errorf("retry --set of an unknown step: exit %d; want %d\n%s", r.code, exitUsage, r.stderr)
	}
	r = cli(t, "runs", "retry", d.RunID, "--set", "check.input.data.n=9", "--store", store, "--json")
	if r.code != exitOK {
		t.Fatalf("retry: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d = decodeDoc(t, r)
	if d.Status != "succeeded" || d.Steps["check"].Attempts != 2 || d.Steps["src"].Attempts != 1 {
		t.Errorf("retried run = %+v; want succeeded, check after 2 attempts, src after 1", d)
	}
	r = cli(t, "runs", "retry", d.RunID, "--store", store, "--json")
	if r.code != exitUsage {
		t.Errorf("retry of a succeeded run: exit %d; want %d\n%s", r.code, exitUsage, r.stderr)
	}
}
