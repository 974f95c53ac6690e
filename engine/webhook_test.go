package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/engine"
	"github.com/weft-dev/weft/executor"
	"github.com/weft-dev/weft/inmem"
	"github.com/weft-dev/weft/workflow"
)

// webhookRun runs a workflow whose output step posts to a test server that
// answers with the given statuses in turn (and headers on 429), and returns
// the status, the requests' arrival times and idempotency keys.
func webhookRun(t *testing.T, answers []int, retryAfter string) (*engine.Status, []time.Time, []string) {
	t.Helper()
	var mu sync.Mutex
	var times []time.Time
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := len(times)
		times = append(times, time.Now())
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		code := answers[min(n, len(answers)-1)]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	reg, err := executor.NewRegistry(&executor.Config{AllowHosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`{"id": "hook", "steps": {
		"data": {"type": "input", "input": {"data": {"n": 1}}},
		"notify": {"type": "output", "depends_on": ["data"], "max_retries": 3,
			"retry": {"initial_interval": "10ms", "jitter": "none"},
			"input": {"destination": "webhook", "url": %q}}}}`, srv.URL)
	def, err := workflow.Parse([]byte(doc), &workflow.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(inmem.New(), &engine.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, _ := e.Execute(ctx, def, nil)
	if st == nil {
		t.Fatal("no status")
	}
	mu.Lock()
	defer mu.Unlock()
	return st, times, keys
}

func TestWebhookRetriesThroughTheEngine(t *testing.T) {
	st, times, keys := webhookRun(t, []int{503, 503, 200}, "")
	s := st.Steps["notify"]
	if st.State != weft.RunSucceeded || s.Attempts != 3 || len(times) != 3 {
		t.Fatalf("run %s, notify %s after %d attempts, %d requests", st.State, s.Status, s.Attempts, len(times))
	}
	for _, k := range keys {
		if k != st.RunID+"/notify" {
			t.Errorf("Idempotency-Key %q, want %s/notify on every attempt", k, st.RunID)
		}
	}
}

func TestWebhookRetryAfterThroughTheEngine(t *testing.T) {
	st, times, _ := webhookRun(t, []int{429, 200}, "1")
	if st.State != weft.RunSucceeded || len(times) != 2 {
		t.Fatalf("run %s after %d requests", st.State, len(times))
	}
	if gap := times[1].Sub(times[0]); gap < time.Second {
		t.Errorf("second request %v after the 429, Retry-After asked 1s", gap)
	}
}

func TestWebhookClientErrorIsNotRetried(t *testing.T) {
	st, times, _ := webhookRun(t, []int{400}, "")
	s := st.Steps["notify"]
	if st.State != weft.RunFailed || s.Attempts != 1 || len(times) != 1 || s.Error == nil || s.Error.Code != weft.CodeInvalid {
		t.Fatalf("run %s, %d attempts, %d requests, error %+v", st.State, s.Attempts, len(times), s.Error)
	}
}
