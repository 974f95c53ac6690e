package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

// The workflow registry's subtests (weft.WorkflowStore). Run runs them for
// every store that implements it; TestWorkflows runs them alone.

// TestWorkflows runs the workflow registry's subtests against registries
// made by newStore, which must return a fresh, empty one for each subtest
// (and may register its own cleanup with t.Cleanup). Run runs the same
// subtests for a weft.Store that is also a weft.WorkflowStore: a store
// needs TestWorkflows only when it holds workflows and not runs.
func TestWorkflows(t *testing.T, newStore func(t *testing.T) weft.WorkflowStore) {
	t.Helper()
	runWorkflowSuite(t, newStore)
}

// runWorkflowSuite runs the workflow subtests, each on a registry made by
// newStore, skipping those for which it returns nil.
func runWorkflowSuite(t *testing.T, newStore func(t *testing.T) weft.WorkflowStore) {
	t.Helper()
	for _, tc := range workflowSuite {
		t.Run(tc.name, func(t *testing.T) {
			ws := newStore(t)
			if ws == nil {
				t.Skip("the store is not a weft.WorkflowStore")
			}
			tc.fn(&wfHarness{harness: &harness{T: t, ctx: t.Context()}, ws: ws})
		})
	}
}

// workflowSuite lists the workflow subtests in the order they run.
var workflowSuite = []struct {
	name string
	fn   func(h *wfHarness)
}{
	{"WorkflowPut", testWorkflowPut},
	{"WorkflowPutInvalid", testWorkflowPutInvalid},
	{"WorkflowRead", testWorkflowRead},
	{"WorkflowList", testWorkflowList},
	{"WorkflowListDefaultLimit", testWorkflowListDefaultLimit},
	{"WorkflowConcurrentPuts", testWorkflowConcurrent},
}

// wfHarness is one workflow subtest's registry; its harness has no
// weft.Store, only the checks.
type wfHarness struct {
	*harness
	ws weft.WorkflowStore
}

// digest is the hex SHA-256 of def, as callers of PutWorkflow compute it.
func digest(def string) string {
	sum := sha256.Sum256([]byte(def))
	return hex.EncodeToString(sum[:])
}

// definition is a workflow document of id whose step a has input n,
// formatted as no encoder would (to see that it is kept byte for byte).
func definition(id string, n int) string {
	return fmt.Sprintf(`{ "id":"%s",  "name": "caf\u00e9 <%d>",
	"steps": {"a": {"type": "input", "input": {"data": %d}}} }`, id, n, n)
}

// registration is version content n of workflow id, registered at
// created.
func registration(id string, n int, created time.Time) *weft.WorkflowVersion {
	def := definition(id, n)
	return &weft.WorkflowVersion{
		ID: id, Digest: digest(def), Name: fmt.Sprintf("%s v%d", id, n), Description: fmt.Sprintf("content %d", n),
		Steps: n, Definition: json.RawMessage(def), CreatedAt: created,
	}
}

// stored is what the registry holds for v once it is version number.
func stored(v *weft.WorkflowVersion, number int) *weft.WorkflowVersion {
	c := *v
	c.Version = number
	return &c
}

// put registers v and checks the version it gets and whether it is new.
func (h *wfHarness) put(v *weft.WorkflowVersion, version int, created bool) *weft.WorkflowVersion {
	h.Helper()
	got, isNew, err := h.ws.PutWorkflow(h.ctx, v)
	if err != nil {
		h.Fatalf("PutWorkflow(%s, digest %.8s): %v", v.ID, v.Digest, err)
	}
	if got.ID != v.ID || got.Version != version || isNew != created {
		h.Fatalf("PutWorkflow(%s, digest %.8s) = %s version %d, created %v; want version %d, created %v",
			v.ID, v.Digest, got.ID, got.Version, isNew, version, created)
	}
	return got
}

// wantWorkflow checks every field of a version; Definition is compared
// byte for byte, and must be absent when withDef is false.
func (h *wfHarness) wantWorkflow(what string, got, want *weft.WorkflowVersion, withDef bool) {
	h.Helper()
	if got == nil {
		h.Errorf("%s = nil; want %s version %d", what, want.ID, want.Version)
		return
	}
	if got.ID != want.ID || got.Version != want.Version || got.Digest != want.Digest || got.Name != want.Name ||
		got.Description != want.Description || got.Steps != want.Steps {
		h.Errorf("%s = %s v%d digest %.8s name %q description %q steps %d; want %s v%d digest %.8s name %q description %q steps %d",
			what, got.ID, got.Version, got.Digest, got.Name, got.Description, got.Steps,
			want.ID, want.Version, want.Digest, want.Name, want.Description, want.Steps)
	}
	h.wantTime(what+".CreatedAt", got.CreatedAt, want.CreatedAt)
	switch {
	case withDef && !bytes.Equal(got.Definition, want.Definition):
		h.Errorf("%s.Definition =\n%s\nwant, byte for byte,\n%s", what, got.Definition, want.Definition)
	case !withDef && got.Definition != nil:
		h.Errorf("%s.Definition = %s; want none in a listing", what, got.Definition)
	}
}

// workflow reads one version, which must exist.
func (h *wfHarness) workflow(id string, version int) *weft.WorkflowVersion {
	h.Helper()
	got, err := h.ws.Workflow(h.ctx, id, version)
	if err != nil {
		h.Fatalf("Workflow(%s, %d): %v", id, version, err)
	}
	return got
}

// testWorkflowPut: a new version only when the content differs from the
// latest version's (so going back to older content is a new version),
// numbered from 1 per id; a registration of the latest content returns
// that version as first stored.
func testWorkflowPut(h *wfHarness) {
	first := registration("orders", 1, at(sec))
	first.Version = 42 // ignored
	want1 := stored(first, 1)
	h.wantWorkflow("the first version", h.put(first, 1, true), want1, true)
	if first.Version != 42 || !first.CreatedAt.Equal(at(sec)) {
		h.Errorf("PutWorkflow changed its argument: version %d, created %s", first.Version, first.CreatedAt)
	}
	h.wantWorkflow("Workflow(orders, 1)", h.workflow("orders", 1), want1, true)

	// The same content again, later: the same version, as first stored.
	h.wantWorkflow("the same content again", h.put(registration("orders", 1, at(2*sec)), 1, false), want1, true)

	second := registration("orders", 2, at(3*sec))
	want2 := stored(second, 2)
	h.wantWorkflow("new content", h.put(second, 2, true), want2, true)
	h.wantWorkflow("the new content again", h.put(registration("orders", 2, at(4*sec)), 2, false), want2, true)

	// Back to the first content: only the latest version counts.
	third := registration("orders", 1, at(5*sec))
	want3 := stored(third, 3)
	h.wantWorkflow("the first content after the second", h.put(third, 3, true), want3, true)
	h.wantWorkflow("Workflow(orders, 1) at the end", h.workflow("orders", 1), want1, true)

	// Versions are numbered per id, and digests compared per id.
	other := registration("invoices", 1, at(6*sec))
	h.wantWorkflow("another workflow with the same content", h.put(other, 1, true), stored(other, 1), true)

	// A registration without a time is given one, kept as given.
	clock := registration("clock", 1, time.Time{})
	got := h.put(clock, 1, true)
	if got.CreatedAt.IsZero() {
		h.Errorf("PutWorkflow of a version without CreatedAt stored none")
	}
	h.wantTime("CreatedAt read back", h.workflow("clock", 0).CreatedAt, got.CreatedAt)
}

// testWorkflowPutInvalid: a registration without an id, a digest or a
// definition is refused with code invalid, and stores nothing.
func testWorkflowPutInvalid(h *wfHarness) {
	for _, tc := range []struct {
		name string
		edit func(v *weft.WorkflowVersion)
	}{
		{"no id", func(v *weft.WorkflowVersion) { v.ID = "" }},
		{"no digest", func(v *weft.WorkflowVersion) { v.Digest = "" }},
		{"no definition", func(v *weft.WorkflowVersion) { v.Definition = nil }},
	} {
		v := registration("wf", 1, at(sec))
		tc.edit(v)
		if got, _, err := h.ws.PutWorkflow(h.ctx, v); weft.ErrorCode(err) != weft.CodeInvalid {
			h.Errorf("PutWorkflow with %s = %v, %v; want an error with code invalid", tc.name, got, err)
		}
	}
	list, next, err := h.ws.ListWorkflows(h.ctx, nil)
	if err != nil || len(list) != 0 || next != "" {
		h.Errorf("ListWorkflows after refused registrations = %d workflows, next %q, %v; want none", len(list), next, err)
	}
}

// testWorkflowRead: Workflow by version or the latest, WorkflowVersions
// newest first without definitions, and ErrNotFound for what does not
// exist.
func testWorkflowRead(h *wfHarness) {
	var want []*weft.WorkflowVersion // version n at index n-1
	for n := 1; n <= 3; n++ {
		v := registration("orders", n, at(time.Duration(n)*time.Minute))
		h.put(v, n, true)
		want = append(want, stored(v, n))
	}
	h.wantWorkflow("Workflow(orders, 0)", h.workflow("orders", 0), want[2], true)
	for n := 1; n <= 3; n++ {
		h.wantWorkflow(fmt.Sprintf("Workflow(orders, %d)", n), h.workflow("orders", n), want[n-1], true)
	}

	versions, err := h.ws.WorkflowVersions(h.ctx, "orders")
	if err != nil {
		h.Fatalf("WorkflowVersions(orders): %v", err)
	}
	if len(versions) != 3 {
		h.Fatalf("WorkflowVersions(orders) = %d versions; want 3", len(versions))
	}
	for k, got := range versions {
		h.wantWorkflow(fmt.Sprintf("WorkflowVersions(orders)[%d]", k), got, want[2-k], false)
	}

	for _, tc := range []struct {
		id      string
		version int
	}{{"nope", 0}, {"nope", 1}, {"orders", 4}, {"orders", -1}, {"Orders", 0}} {
		_, err := h.ws.Workflow(h.ctx, tc.id, tc.version)
		h.wantIs(fmt.Sprintf("Workflow(%s, %d)", tc.id, tc.version), err, weft.ErrNotFound)
	}
	_, err = h.ws.WorkflowVersions(h.ctx, "nope")
	h.wantIs("WorkflowVersions(nope)", err, weft.ErrNotFound)
}

// testWorkflowList: the latest version of each workflow, ordered by id
// (as bytes), in pages whose cursors cover every id exactly once, also
// when workflows are registered between pages; a bad cursor has code
// invalid.
func testWorkflowList(h *wfHarness) {
	if list, next, err := h.ws.ListWorkflows(h.ctx, &weft.WorkflowFilter{}); err != nil || len(list) != 0 || next != "" {
		h.Errorf("ListWorkflows of an empty registry = %d workflows, next %q, %v; want none", len(list), next, err)
	}

	// Registered out of order, some with several versions.
	latest := make(map[string]*weft.WorkflowVersion)
	ids := []string{"m", "b", "B", "a.1", "zz", "a-1", "a_1", "Z9", "m0"}
	for k, id := range ids {
		for n := 1; n <= 1+k%3; n++ {
			v := registration(id, n, at(time.Duration(10*k+n)*sec))
			h.put(v, n, true)
			latest[id] = stored(v, n)
		}
	}
	slices.Sort(ids)

	for _, limit := range []int{0, 1, 2, 3, 8, 9, 1000} {
		var got []string
		f := &weft.WorkflowFilter{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > len(ids) {
				h.Fatalf("ListWorkflows(limit %d): more than %d pages", limit, len(ids))
			}
			page, next, err := h.ws.ListWorkflows(h.ctx, f)
			if err != nil {
				h.Fatalf("ListWorkflows(limit %d, cursor %q): %v", limit, f.Cursor, err)
			}
			size := limit
			if size <= 0 {
				size = 100
			}
			if len(page) > size || (next != "" && len(page) != size) {
				h.Errorf("ListWorkflows(limit %d) returned a page of %d workflows with next %q", limit, len(page), next)
			}
			for _, v := range page {
				got = append(got, v.ID)
				if want := latest[v.ID]; want != nil {
					h.wantWorkflow(fmt.Sprintf("ListWorkflows(limit %d) entry %s", limit, v.ID), v, want, false)
				}
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if !slices.Equal(got, ids) {
			h.Errorf("ListWorkflows(limit %d), all pages = %q; want %q", limit, got, ids)
		}
	}

	// A cursor goes on after the last id it returned, whatever was
	// registered since: an id before it is not listed again, one after it
	// is.
	page, next, err := h.ws.ListWorkflows(h.ctx, &weft.WorkflowFilter{Limit: 3})
	if err != nil || len(page) != 3 || next == "" {
		h.Fatalf("ListWorkflows(limit 3) = %d workflows, next %q, %v; want a full first page", len(page), next, err)
	}
	h.put(registration("A", 1, at(time.Hour)), 1, true) // sorts first
	h.put(registration("zzz", 1, at(time.Hour)), 1, true)
	h.put(registration(ids[4], 9, at(time.Hour)), latest[ids[4]].Version+1, true)
	rest, _, err := h.ws.ListWorkflows(h.ctx, &weft.WorkflowFilter{Limit: 100, Cursor: next})
	if err != nil {
		h.Fatalf("ListWorkflows after new registrations: %v", err)
	}
	var restIDs []string
	for _, v := range rest {
		restIDs = append(restIDs, v.ID)
	}
	if want := append(slices.Clone(ids[3:]), "zzz"); !slices.Equal(restIDs, want) {
		h.Errorf("ListWorkflows from a cursor after registrations = %q; want %q", restIDs, want)
	}
	if len(rest) > 1 && rest[1].Version != latest[ids[4]].Version+1 {
		h.Errorf("ListWorkflows lists %s version %d; want its new latest, %d", ids[4], rest[1].Version, latest[ids[4]].Version+1)
	}

	for _, bad := range []string{"not a cursor!", "=", "%%%"} {
		if _, _, err := h.ws.ListWorkflows(h.ctx, &weft.WorkflowFilter{Cursor: bad}); weft.ErrorCode(err) != weft.CodeInvalid {
			h.Errorf("ListWorkflows with the cursor %q: %v; want an error with code invalid", bad, err)
		}
	}
}

// testWorkflowListDefaultLimit: without a Limit, pages hold 100
// workflows.
func testWorkflowListDefaultLimit(h *wfHarness) {
	const n = 101
	for k := range n {
		h.put(registration(fmt.Sprintf("wf%03d", k), 1, at(sec)), 1, true)
	}
	page, next, err := h.ws.ListWorkflows(h.ctx, nil)
	if err != nil || len(page) != 100 || next == "" {
		h.Fatalf("ListWorkflows(nil) = %d workflows, next %q, %v; want 100 and a next page", len(page), next, err)
	}
	if page[0].ID != "wf000" || page[99].ID != "wf099" {
		h.Errorf("ListWorkflows(nil) = %s to %s; want wf000 to wf099", page[0].ID, page[99].ID)
	}
	page, next, err = h.ws.ListWorkflows(h.ctx, &weft.WorkflowFilter{Cursor: next})
	if err != nil || len(page) != 1 || page[0].ID != "wf100" || next != "" {
		h.Errorf("ListWorkflows, second page = %d workflows, next %q, %v; want wf100 alone", len(page), next, err)
	}
	if page, _, err := h.ws.ListWorkflows(h.ctx, &weft.WorkflowFilter{Limit: 5000}); err != nil || len(page) != n {
		h.Errorf("ListWorkflows(limit 5000) = %d workflows, %v; want all %d", len(page), err, n)
	}
}

// testWorkflowConcurrent: 16 goroutines registering different content
// for one id at once get versions 1 to 16, each exactly once, each with
// its own content; 16 registering the same new content at once get one
// new version between them. Run it under -race.
func testWorkflowConcurrent(h *wfHarness) {
	const n = 16
	var wg sync.WaitGroup
	got := make([]*weft.WorkflowVersion, n)
	created := make([]bool, n)
	for k := range n {
		wg.Go(func() {
			v, isNew, err := h.ws.PutWorkflow(h.ctx, registration("busy", k, at(sec)))
			if err != nil {
				h.Errorf("PutWorkflow(busy, content %d): %v", k, err)
				return
			}
			got[k], created[k] = v, isNew
		})
	}
	wg.Wait()
	if h.Failed() {
		return
	}
	seen := make(map[int]int) // version → content
	for k, v := range got {
		if !created[k] {
			h.Errorf("PutWorkflow(busy, content %d) = version %d, created false; want a new version", k, v.Version)
		}
		if prev, dup := seen[v.Version]; dup {
			h.Errorf("contents %d and %d both got version %d", prev, k, v.Version)
		}
		seen[v.Version] = k
		h.wantWorkflow(fmt.Sprintf("Workflow(busy, %d)", v.Version), h.workflow("busy", v.Version),
			stored(registration("busy", k, at(sec)), v.Version), true)
	}
	for version := 1; version <= n; version++ {
		if _, ok := seen[version]; !ok {
			h.Errorf("no registration got version %d; versions: %v", version, seen)
		}
	}

	// The same new content, 16 times at once: one new version.
	var made atomic.Int32 // registrations that made a new version
	versions := make([]int, n)
	for k := range n {
		wg.Go(func() {
			v, isNew, err := h.ws.PutWorkflow(h.ctx, registration("busy", 100, at(2*sec)))
			if err != nil {
				h.Errorf("PutWorkflow(busy, content 100): %v", err)
				return
			}
			versions[k] = v.Version
			if isNew {
				made.Add(1)
			}
		})
	}
	wg.Wait()
	if m := made.Load(); m != 1 {
		h.Errorf("16 registrations of the same new content made %d new versions; want 1", m)
	}
	for k, v := range versions {
		if v != n+1 {
			h.Errorf("registration %d of the same new content = version %d; want %d", k, v, n+1)
		}
	}
	all, err := h.ws.WorkflowVersions(h.ctx, "busy")
	if err != nil || len(all) != n+1 || all[0].Version != n+1 || all[n].Version != 1 {
		h.Errorf("WorkflowVersions(busy) = %d versions, %v; want %d, newest first", len(all), err, n+1)
	}
}

// testRunWorkflowVersion: a run's WorkflowVersion round-trips through
// CreateRun, Run, ListRuns and the operations that return the run.
func testRunWorkflowVersion(h *harness) {
	nr := h.newRun("registered", node("a"), node("b", 0))
	nr.Run.WorkflowID, nr.Run.WorkflowVersion = h.id("wf"), 7
	run, _, err := h.s.CreateRun(h.ctx, nr)
	if err != nil {
		h.Fatalf("CreateRun: %v", err)
	}
	inline := h.newRun("inline", node("a"))
	inline.Run.WorkflowID = nr.Run.WorkflowID
	h.create(inline)

	want := map[string]int{nr.Run.ID: 7, inline.Run.ID: 0}
	check := func(what string, r *weft.Run) {
		h.Helper()
		if w, ok := want[r.ID]; !ok || r.WorkflowVersion != w {
			h.Errorf("%s: run %s has WorkflowVersion %d; want %d", what, r.ID, r.WorkflowVersion, w)
		}
	}
	check("CreateRun", run)
	check("Run", h.run(nr.Run.ID))
	check("Run", h.run(inline.Run.ID))
	list, _, err := h.s.ListRuns(h.ctx, &weft.RunFilter{WorkflowID: nr.Run.WorkflowID})
	if err != nil || len(list) != 2 {
		h.Fatalf("ListRuns(workflow %s) = %d runs, %v; want 2", nr.Run.WorkflowID, len(list), err)
	}
	for _, r := range list {
		check("ListRuns", r)
	}

	// Once the run has moved on, and when it ends.
	h.succeed(h.claimRun(nr.Run.ID, "w", at(sec)), at(2*sec), `1`)
	check("Run after a step", h.run(nr.Run.ID))
	check("CancelRun", h.cancel(nr.Run.ID, weft.RunCanceled, weft.CodeCanceled, weft.ReasonRunCanceled, at(3*sec)))
	check("RetryRun", h.retryRun(nr.Run.ID, 4*sec, ""))
	check("Run after RetryRun", h.run(nr.Run.ID))
}
