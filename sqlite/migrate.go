package sqlite

import (
	"database/sql/driver"
	"embed"
	"fmt"

	"github.com/weft-dev/weft/internal/migration"
)

// The schema's versions: migrations/NNNN_name.sql brings a database from
// version NNNN-1 to NNNN. The version a database is at is its PRAGMA
// user_version; its PRAGMA application_id marks it as weft's.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks weft databases ("weft" in ASCII).
const applicationID = 0x77656674

// migrations returns the embedded migrations in order.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFS, "migrations/*.sql")
}

// SchemaVersion is the schema version this weft writes: its latest
// migration.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err)
	}
	return len(ms)
}

// check returns the schema version of the database, or an error if it is
// not a weft database or one newer than latest.
func check(w *wconn, latest int) (int, error) {
	v, err := w.row(`SELECT (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id),
		(SELECT count(*) FROM sqlite_schema)`)
	if err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	version, app, objects := int(i64(v[0])), i64(v[1]), i64(v[2])
	switch {
	case version > latest && app == applicationID:
		return 0, fmt.Errorf("database schema version %d is newer than this weft supports (%d): upgrade weft", version, latest)
	case app != applicationID && (version != 0 || objects != 0 || app != 0):
		return 0, fmt.Errorf("not a weft database (application id %#x, schema version %d, %d schema objects)", app, version, objects)
	}
	return version, nil
}

// migrate brings the database's schema up to date in one transaction.
func migrate(w *wconn) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := len(ms)
	if _, err := w.exec("BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			w.exec("ROLLBACK")
		}
	}()
	version, err := check(w, latest)
	if err != nil {
		return err
	}
	for _, m := range ms[version:] {
		if _, err := w.c.(driver.ExecerContext).ExecContext(bg, m.SQL, nil); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	if version < latest {
		if _, err := w.c.(driver.ExecerContext).ExecContext(bg,
			fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", latest, applicationID), nil); err != nil {
			return fmt.Errorf("record the schema version: %w", err)
		}
	}
	if _, err := w.exec("COMMIT"); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
