// Package migration reads the versioned schema migrations that the SQL
// stores (sqlite, postgres) embed: files NNNN_name.sql, each bringing a
// schema from version NNNN-1 to NNNN.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one migration file.
type Migration struct {
	// Version is the schema version the migration brings a schema to.
	Version int
	// Name is the file's name, for messages.
	Name string
	// SQL is the file's content.
	SQL string
}

// Load returns the migrations matching pattern (such as
// "migrations/*.sql") in fsys, in order of version. It returns an error
// when a file is not named NNNN_name.sql or the versions do not run from 1
// without gaps or repeats.
func Load(fsys fs.FS, pattern string) ([]Migration, error) {
	files, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: the name must be NNNN_name.sql", base)
		}
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d; want %d", m.Name, m.Version, i+1)
		}
	}
	return ms, nil
}
