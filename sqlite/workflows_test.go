package sqlite_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/sqlite"
)

// wfVersion is a registration of workflow id with content n (its digest
// need not be a real SHA-256 here: the store only compares digests).
func wfVersion(id string, n int) *weft.WorkflowVersion {
	return &weft.WorkflowVersion{ID: id, Digest: fmt.Sprintf("digest-%d", n), Steps: 1,
		Definition: json.RawMessage(fmt.Sprintf(`{"id": %q, "n": %d}`, id, n)), CreatedAt: base}
}

// TestMigrateToWorkflows: a database of schema version 1 (before the
// workflow registry) is brought to the latest version when opened: its
// runs are kept, with WorkflowVersion 0, and the registry works. The old
// database is made from a new one by undoing migration 2.
func TestMigrateToWorkflows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	s := openAt(t, path, nil)
	create(t, s, "old", chain(2))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	for _, q := range []string{
		`DROP TABLE workflows`,
		`ALTER TABLE runs DROP COLUMN workflow_version`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = openAt(t, path, nil)
	if v := userVersion(t, path); v != sqlite.SchemaVersion() || v < 2 {
		t.Errorf("user_version after opening a version 1 database = %d; want the latest, %d", v, sqlite.SchemaVersion())
	}
	if run, err := s.Run(ctx, "old"); err != nil || run.WorkflowVersion != 0 || run.Status != weft.RunPending {
		t.Errorf("Run(old) after the migration = %+v, %v; want the pending run, WorkflowVersion 0", run, err)
	}
	if _, created, err := s.PutWorkflow(ctx, wfVersion("wf", 1)); err != nil || !created {
		t.Errorf("PutWorkflow after the migration = created %v, %v", created, err)
	}
	if _, _, err := s.CreateRun(ctx, &weft.NewRun{Run: weft.Run{ID: "new", WorkflowID: "wf", WorkflowVersion: 1},
		Steps: chain(1), Now: base}); err != nil {
		t.Fatal(err)
	}
	if run, err := s.Run(ctx, "new"); err != nil || run.WorkflowVersion != 1 {
		t.Errorf("Run(new) = %+v, %v; want WorkflowVersion 1", run, err)
	}
}

// TestWorkflowsTwoStores: two stores on one file (two processes) number
// the versions they register together, without a gap or a duplicate, and
// each reads what the other registered; the registry survives reopening.
func TestWorkflowsTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "weft.db")
	stores := []*sqlite.Store{openAt(t, path, nil), openAt(t, path, nil)}
	const each = 20
	versions := make([][]int, len(stores))
	var wg sync.WaitGroup
	for k, s := range stores {
		wg.Go(func() {
			for n := range each {
				v, created, err := s.PutWorkflow(ctx, wfVersion("shared", k*each+n))
				if err != nil || !created {
					t.Errorf("store %d: PutWorkflow(content %d) = created %v, %v", k, k*each+n, created, err)
					return
				}
				versions[k] = append(versions[k], v.Version)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(versions...)
	slices.Sort(all)
	for i, v := range all {
		if v != i+1 {
			t.Fatalf("versions registered by the two stores = %v; want 1 to %d, each once", all, 2*each)
		}
	}
	for k, s := range stores {
		if latest, err := s.Workflow(ctx, "shared", 0); err != nil || latest.Version != 2*each {
			t.Errorf("store %d: latest version = %+v, %v; want %d", k, latest, err, 2*each)
		}
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	s := openAt(t, path, nil)
	got, err := s.Workflow(ctx, "shared", 7)
	if err != nil || got.Version != 7 || len(got.Definition) == 0 {
		t.Errorf("Workflow(shared, 7) after reopening = %+v, %v", got, err)
	}
	if list, next, err := s.ListWorkflows(ctx, nil); err != nil || len(list) != 1 || list[0].Version != 2*each || next != "" {
		t.Errorf("ListWorkflows after reopening = %d workflows, next %q, %v; want shared at version %d", len(list), next, err, 2*each)
	}
}
