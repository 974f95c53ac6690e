package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/weft-dev/weft/internal/migration"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema's versions: migrations/NNNN_name.sql brings a schema from
// version NNNN-1 to NNNN. The version a schema is at is the one row of its
// table schema_version.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

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

// migrate brings schema up to date in one transaction, under an advisory
// lock (so that processes opening the store at once take turns), creating
// the schema if missing. A schema at a version newer than this weft's is
// refused.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := len(ms)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(schema, "migrate")); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		q := quoteIdent(schema)
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+q); err != nil {
			return fmt.Errorf("create the schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+q+`.schema_version (
			one     boolean PRIMARY KEY DEFAULT true CHECK (one),
			version integer NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM `+q+`.schema_version`).Scan(&version)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read the schema version: %w", err)
		}
		if version > latest {
			return fmt.Errorf("the schema is at version %d, newer than this weft supports (%d): upgrade weft", version, latest)
		}
		if version == latest {
			return nil
		}
		// The migrations name no schema: they create their tables in the
		// search path's first schema, this one.
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+q); err != nil {
			return fmt.Errorf("set the search path: %w", err)
		}
		for _, m := range ms[version:] {
			if _, err := tx.Conn().PgConn().Exec(ctx, m.SQL).ReadAll(); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+q+`.schema_version (version) VALUES ($1)
			ON CONFLICT (one) DO UPDATE SET version = excluded.version`, latest); err != nil {
			return fmt.Errorf("record the schema version: %w", err)
		}
		return nil
	})
}
