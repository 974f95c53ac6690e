package prom_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/prom"
)

// dashboardFile is the Grafana dashboard of these metrics.
const dashboardFile = "../deploy/grafana/weft.json"

// panel is what the test reads of a Grafana panel.
type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string          `json:"expr"`
		RefID      string          `json:"refId"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a row
}

// registered returns the families the package registers, by name, after
// one observation of each kind.
func registered(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := prom.New(reg, &prom.Options{Unfinished: func() float64 { return 1 }})
	if err != nil {
		t.Fatal(err)
	}
	s := &weft.StepObservation{WorkflowID: "w", Type: "ai", Attempt: 1, QueueWait: time.Millisecond}
	m.StepStarted(s)
	s.Status, s.Code, s.Duration = weft.StepRetrying, weft.CodeUnavailable, time.Second
	s.Provider, s.Model, s.Usage = "p", "m", weft.Usage{PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2}
	m.StepFinished(s)
	m.RunFinished(&weft.RunObservation{WorkflowID: "w", Status: weft.RunSucceeded, Duration: time.Second})
	h, err := prom.NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	h.ObserveRequest("GET /api/v1/runs", 200, time.Millisecond, false)
	h.ObserveStream(+1)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range families {
		out[f.GetName()] = f
	}
	return out
}

var (
	metricRef = regexp.MustCompile(`\bweft_[a-z0-9_]+`)
	matchers  = regexp.MustCompile(`\b(weft_[a-z0-9_]+)\{([^}]*)\}`)
	matcher   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	grouping  = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// family returns the family a series name of an expression belongs to
// (a histogram's _bucket, _sum and _count belong to the histogram) and
// whether it is a histogram's _bucket series.
func family(families map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	if f, ok := families[name]; ok {
		return f, false
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if f := families[base]; ok && f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
			return f, suffix == "_bucket"
		}
	}
	return nil, false
}

// labels returns the label names of a family's series.
func labels(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(out, l.GetName()) {
				out = append(out, l.GetName())
			}
		}
	}
	return out
}

// TestGrafanaDashboard checks deploy/grafana/weft.json against the
// metrics: every series an expression reads is one the package
// registers, with the labels it matches and groups by, and every metric
// is shown by some panel; the data source is the dashboard's variable.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title         string  `json:"title"`
		UID           string  `json:"uid"`
		SchemaVersion int     `json:"schemaVersion"`
		Panels        []panel `json:"panels"`
		Templating    struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage
			}
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion < 36 {
		t.Errorf("title %q, uid %q, schemaVersion %d", dash.Title, dash.UID, dash.SchemaVersion)
	}
	hasDatasource := slices.ContainsFunc(dash.Templating.List, func(v struct {
		Name, Type string
		Query      json.RawMessage
	}) bool {
		return v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"`
	})
	if !hasDatasource {
		t.Error("no datasource variable of type prometheus")
	}
	const ds = `{"type":"prometheus","uid":"${datasource}"}`

	families := registered(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	var all []panel
	for _, p := range dash.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	for _, p := range all {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: grid position %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if compact(t, p.Datasource) != ds {
			t.Errorf("panel %q: data source %s, want %s", p.Title, p.Datasource, ds)
		}
		for _, q := range p.Targets {
			if compact(t, q.Datasource) != ds {
				t.Errorf("panel %q, query %s: data source %s, want %s", p.Title, q.RefID, q.Datasource, ds)
			}
			checkExpr(t, p.Title, q.Expr, families, used)
		}
	}
	for _, v := range dash.Templating.List { // label_values(weft_..., label)
		for _, name := range metricRef.FindAllString(string(v.Query), -1) {
			if f, _ := family(families, name); f == nil {
				t.Errorf("variable %s reads %s, which the package does not register", v.Name, name)
			}
		}
	}
	for name := range families {
		if !used[name] {
			t.Errorf("metric %s is in no panel", name)
		}
	}
}

// checkExpr checks one PromQL expression of a panel against the families,
// marking those it reads in used.
func checkExpr(t *testing.T, title, expr string, families map[string]*dto.MetricFamily, used map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	if len(refs) == 0 {
		t.Errorf("panel %q: %q reads no weft metric", title, expr)
	}
	// Labels that the expression's series all have (le for buckets).
	var common []string
	for i, name := range refs {
		f, bucket := family(families, name)
		if f == nil {
			t.Errorf("panel %q: %q reads %s, which the package does not register", title, expr, name)
			continue
		}
		used[f.GetName()] = true
		have := labels(f)
		if bucket {
			have = append(have, "le")
		}
		if i == 0 {
			common = have
		} else {
			common = slices.DeleteFunc(common, func(l string) bool { return !slices.Contains(have, l) })
		}
	}
	for _, m := range matchers.FindAllStringSubmatch(expr, -1) {
		f, _ := family(families, m[1])
		if f == nil {
			continue
		}
		for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(labels(f), l[1]) {
				t.Errorf("panel %q: %q matches label %s, which %s does not have", title, expr, l[1], m[1])
			}
		}
	}
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(common, l) {
				t.Errorf("panel %q: %q groups by %s, which its series do not all have", title, expr, l)
			}
		}
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
