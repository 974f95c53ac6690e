package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/httpapi"
)

func TestRunRegisteredWorkflow(t *testing.T) {
	h := newHarness(t, nil)
	if a := h.do("POST", "/api/v1/workflows", "application/json", []byte(basicWorkflow)); a.status != 201 {
		t.Fatalf("register: %d %s", a.status, a.body)
	}
	a := h.do("POST", "/api/v1/runs", "application/json", []byte(`{"workflow_id": "basic", "idempotency_key": "k1"}`))
	if a.status != http.StatusCreated {
		t.Fatalf("start: %d %s", a.status, a.body)
	}
	var run httpapi.RunSummary
	a.json(t, &run)
	if run.RunID == "" || run.WorkflowID != "basic" || run.WorkflowVersion != 1 || a.header.Get("Location") != "/api/v1/runs/"+run.RunID {
		t.Fatalf("run %+v, Location %q", run, a.header.Get("Location"))
	}
	// The same idempotency key: the same run, 200.
	b := h.do("POST", "/api/v1/runs", "application/json", []byte(`{"workflow_id": "basic", "idempotency_key": "k1"}`))
	var same httpapi.RunSummary
	b.json(t, &same)
	if b.status != http.StatusOK || same.RunID != run.RunID {
		t.Fatalf("idempotent start: %d run %s, want 200 run %s", b.status, same.RunID, run.RunID)
	}
	doc := h.wait(run.RunID)
	if doc.Status != weft.RunSucceeded || string(doc.Result) == "" || !strings.Contains(string(doc.Result), `"HELLO"`) {
		t.Fatalf("run ended %s with result %s", doc.Status, doc.Result)
	}
	if doc.WorkflowVersion != 1 || len(doc.Order) != 2 || doc.Order[0] != "collect_data" || doc.Metrics.Succeeded != 2 {
		t.Fatalf("document: version %d order %v metrics %+v", doc.WorkflowVersion, doc.Order, doc.Metrics)
	}
	if st := doc.Steps.Steps["process_data"]; st == nil || st.Status != weft.StepSucceeded || st.Attempts != 1 || st.StartedAt == nil {
		t.Fatalf("process_data: %+v", st)
	}
	var wf map[string]any
	h.do("GET", "/api/v1/runs/"+run.RunID+"/workflow", "", nil).json(t, &wf)
	if wf["id"] != "basic" {
		t.Fatalf("recorded workflow: %v", wf)
	}
	// A version that does not exist.
	h.do("POST", "/api/v1/runs", "application/json", []byte(`{"workflow_id": "basic", "version": 7}`)).wantError(t, 404, httpapi.CodeNotFound)
	h.do("POST", "/api/v1/runs", "application/json", []byte(`{"workflow_id": "nope"}`)).wantError(t, 404, httpapi.CodeNotFound)
}

func TestRunInlineWorkflows(t *testing.T) {
	h := newHarness(t, nil)
	obj := h.startRun([]byte(`{"workflow": ` + basicWorkflow + `, "params": {"who": "me"}}`))
	yaml, _ := json.Marshal("id: inline-yaml\nsteps:\n  a: {type: input, input: {data: {n: 2}}}\n")
	str := h.startRun([]byte(`{"workflow": ` + string(yaml) + `}`))
	for _, id := range []string{obj.RunID, str.RunID} {
		if doc := h.wait(id); doc.Status != weft.RunSucceeded {
			t.Fatalf("run %s: %s %v", id, doc.Status, doc.Error)
		}
	}
	if str.WorkflowID != "inline-yaml" || str.WorkflowVersion != 0 {
		t.Fatalf("YAML run: %+v", str)
	}
	bad := h.do("POST", "/api/v1/runs", "application/json", inlineRun(`{"id": "x", "steps": {"a": {"type": "input", "depends_on": ["a"]}}}`))
	bad.wantError(t, 422, httpapi.CodeInvalidWorkflow)
}

func TestListRuns(t *testing.T) {
	h := newHarness(t, nil)
	var ids []string
	for range 5 {
		ids = append(ids, h.startRun(inlineRun(basicWorkflow)).RunID)
	}
	failed := h.startRun(inlineRun(failWorkflow)).RunID
	for _, id := range append(ids, failed) {
		h.wait(id)
	}
	var list httpapi.RunList
	h.do("GET", "/api/v1/runs?status=failed", "", nil).json(t, &list)
	if len(list.Runs) != 1 || list.Runs[0].RunID != failed || list.Runs[0].Error == nil {
		t.Fatalf("failed runs: %+v", list.Runs)
	}
	h.do("GET", "/api/v1/runs?workflow=basic&status=succeeded", "", nil).json(t, &list)
	if len(list.Runs) != 5 {
		t.Fatalf("succeeded runs of basic: %d, want 5", len(list.Runs))
	}
	// Pages of 2 cover every run once.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		h.do("GET", "/api/v1/runs?limit=2&cursor="+cursor, "", nil).json(t, &list)
		for _, r := range list.Runs {
			if seen[r.RunID] {
				t.Fatalf("run %s on two pages", r.RunID)
			}
			seen[r.RunID] = true
		}
		if cursor = list.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 6 {
		t.Fatalf("pages hold %d runs, want 6", len(seen))
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	h.do("GET", "/api/v1/runs?since="+future, "", nil).json(t, &list)
	if len(list.Runs) != 0 {
		t.Fatalf("runs since an hour from now: %d", len(list.Runs))
	}
}

func TestCancelAndRetry(t *testing.T) {
	h := newHarness(t, nil)
	run := h.startRun(inlineRun(blockWorkflow))
	h.waitStep(run.RunID, "wait")
	var canceled httpapi.RunSummary
	a := h.do("POST", "/api/v1/runs/"+run.RunID+"/cancel", "", nil)
	a.json(t, &canceled)
	if a.status != 200 || canceled.Status != weft.RunCanceled {
		t.Fatalf("cancel: %d %+v", a.status, canceled)
	}
	if doc := h.wait(run.RunID); doc.Status != weft.RunCanceled || doc.Steps.Steps["wait"].Status != weft.StepCanceled {
		t.Fatalf("after cancel: %s, step %s", doc.Status, doc.Steps.Steps["wait"].Status)
	}

	failed := h.startRun(inlineRun(failWorkflow))
	if doc := h.wait(failed.RunID); doc.Status != weft.RunFailed {
		t.Fatalf("the failing workflow ended %s", doc.Status)
	}
	// Retrying as it was fails again; with the input edited, it succeeds.
	h.do("POST", "/api/v1/runs/"+failed.RunID+"/retry", "application/json", []byte(`{"inputs": {"nope": {}}}`)).wantError(t, 400, string(weft.CodeInvalid))
	a = h.do("POST", "/api/v1/runs/"+failed.RunID+"/retry", "application/json", []byte(`{"inputs": {"second": {"fail": false}}}`))
	if a.status != 200 {
		t.Fatalf("retry: %d %s", a.status, a.body)
	}
	doc := h.wait(failed.RunID)
	if doc.Status != weft.RunSucceeded || doc.Steps.Steps["first"].Attempts != 1 || doc.Steps.Steps["second"].Attempts != 2 {
		t.Fatalf("retried run: %s, attempts first %d second %d", doc.Status, doc.Steps.Steps["first"].Attempts, doc.Steps.Steps["second"].Attempts)
	}
	// A succeeded run cannot be retried.
	h.do("POST", "/api/v1/runs/"+failed.RunID+"/retry", "", nil).wantError(t, 400, string(weft.CodeInvalid))
}

// sseEvent is an event read off a raw stream.
type sseEvent struct {
	id, name string
	data     string
}

// readStream reads a raw event stream until its end event or n events.
func readStream(t *testing.T, h *harness, path string, header ...string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
				if cur.name == "end" {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	t.Fatalf("stream ended without an end event after %d events", len(out))
	return nil
}

func TestEventStream(t *testing.T) {
	h := newHarness(t, nil)
	run := h.startRun(inlineRun(basicWorkflow))
	all := readStream(t, h, "/api/v1/runs/"+run.RunID+"/events")
	if len(all) < 6 || all[len(all)-1].name != "end" || all[len(all)-2].name != string(weft.EventRunSucceeded) {
		t.Fatalf("events: %+v", all)
	}
	for i, ev := range all[:len(all)-1] {
		var e weft.Event
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if strconv.FormatInt(e.Seq, 10) != ev.id || string(e.Type) != ev.name || e.RunID != run.RunID {
			t.Fatalf("event %d: id %s name %s, data %+v", i, ev.id, ev.name, e)
		}
		if i > 0 && all[i-1].id >= ev.id && len(all[i-1].id) == len(ev.id) {
			t.Fatalf("events out of order: %s then %s", all[i-1].id, ev.id)
		}
	}
	// Resuming after the third event gives the rest, no repeat.
	rest := readStream(t, h, "/api/v1/runs/"+run.RunID+"/events", "Last-Event-ID", all[2].id)
	if len(rest) != len(all)-3 || rest[0].id != all[3].id {
		t.Fatalf("resumed after %s: %d events from %s, want %d from %s", all[2].id, len(rest), rest[0].id, len(all)-3, all[3].id)
	}
	if q := readStream(t, h, "/api/v1/runs/"+run.RunID+"/events?after="+all[2].id); len(q) != len(rest) {
		t.Fatalf("?after: %d events, want %d", len(q), len(rest))
	}
	h.do("GET", "/api/v1/runs/nope/events", "", nil).wantError(t, 404, httpapi.CodeNotFound)
}

func TestEventStreamKeepAliveAndClientResume(t *testing.T) {
	// The stream outlives the server's read timeout.
	h := newHarness(t, &options{readTimeout: 100 * time.Millisecond})
	run := h.startRun(inlineRun(blockWorkflow))
	h.waitStep(run.RunID, "wait")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan []weft.Event, 1)
	go func() {
		var evs []weft.Event
		err := h.client.Events(ctx, run.RunID, 0, func(e weft.Event) error { evs = append(evs, e); return nil })
		if err != nil {
			t.Error(err)
		}
		got <- evs
	}()
	time.Sleep(400 * time.Millisecond) // several keep-alives and read timeouts
	h.releaseAll()
	evs := <-got
	if len(evs) == 0 || evs[len(evs)-1].Type != weft.EventRunSucceeded {
		t.Fatalf("client events: %v", evs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq {
			t.Fatalf("events repeated or out of order: %d then %d", evs[i-1].Seq, evs[i].Seq)
		}
	}
}

func TestStreamsPerClient(t *testing.T) {
	h := newHarness(t, &options{api: func(c *httpapi.Config) { c.MaxStreamsPerClient = 2 }})
	run := h.startRun(inlineRun(blockWorkflow))
	h.waitStep(run.RunID, "wait")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 2 {
		req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/api/v1/runs/"+run.RunID+"/events", nil)
		resp, err := h.srv.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream %d: %v %v", i, err, resp)
		}
		defer resp.Body.Close()
	}
	h.do("GET", "/api/v1/runs/"+run.RunID+"/events", "", nil).wantError(t, 429, httpapi.CodeTooMany)
	cancel()
	// Once the streams close, a new one is allowed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx2, "GET", h.srv.URL+"/api/v1/runs/"+run.RunID+"/events", nil)
		resp, err := h.srv.Client().Do(req)
		ok := err == nil && resp.StatusCode == 200
		if resp != nil {
			resp.Body.Close()
		}
		cancel2()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprint("streams are not released: ", err))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunWithoutOutputs(t *testing.T) {
	h := newHarness(t, nil)
	run := h.startRun(inlineRun(basicWorkflow))
	full := h.wait(run.RunID)
	light, err := h.client.RunWithoutOutputs(context.Background(), run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(light.Steps.IDs) != 2 || !bytes.Equal(light.Result, full.Result) || len(light.Result) == 0 {
		t.Fatalf("result %s, want %s", light.Result, full.Result)
	}
	for _, id := range light.Steps.IDs {
		if st := light.Steps.Steps[id]; string(st.Output) != "null" || st.Status != full.Steps.Steps[id].Status || string(full.Steps.Steps[id].Output) == "null" {
			t.Errorf("step %s: output %s, status %s", id, st.Output, st.Status)
		}
	}
	a := h.do("GET", "/api/v1/runs/"+run.RunID+"?outputs=false", "", nil)
	if !bytes.Contains(a.body, []byte(`"output":null`)) || bytes.Contains(a.body, []byte(`"output":{`)) {
		t.Errorf("outputs=false: %s", a.body)
	}
	if a := h.do("GET", "/api/v1/runs/"+run.RunID+"?outputs=true", "", nil); !bytes.Contains(a.body, []byte(`"output":{`)) {
		t.Errorf("outputs=true: %s", a.body)
	}
	e := h.do("GET", "/api/v1/runs/"+run.RunID+"?outputs=no", "", nil).wantError(t, 400, httpapi.CodeBadRequest)
	if !strings.Contains(e.Error.Message, "outputs") {
		t.Errorf("message %q does not name the parameter", e.Error.Message)
	}
}
