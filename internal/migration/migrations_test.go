package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  string // the versions in order, or the error's text
	}{
		{"in order", []string{"0002_b.sql", "0001_a.sql", "0003_c.sql"}, "0001_a.sql 0002_b.sql 0003_c.sql"},
		{"none", nil, ""},
		{"a gap", []string{"0001_a.sql", "0003_c.sql"}, "migration 0003_c.sql: version 3; want 2"},
		{"a repeat", []string{"0001_a.sql", "0001_b.sql"}, "version 1; want 2"},
		{"not numbered", []string{"init.sql"}, "migration init.sql: the name must be NNNN_name.sql"},
		{"version 0", []string{"0000_a.sql"}, "the name must be NNNN_name.sql"},
	} {
		fsys := fstest.MapFS{}
		for _, f := range tc.files {
			fsys["m/"+f] = &fstest.MapFile{Data: []byte("-- " + f)}
		}
		ms, err := Load(fsys, "m/*.sql")
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			var names []string
			for _, m := range ms {
				if m.SQL != "-- "+m.Name {
					t.Errorf("%s: %s has SQL %q", tc.name, m.Name, m.SQL)
				}
				names = append(names, m.Name)
			}
			got = strings.Join(names, " ")
		}
		if !strings.Contains(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
