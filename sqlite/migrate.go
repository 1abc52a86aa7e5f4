package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"jifen/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open for a database migrated by a newer
// version of this program: running older code over it could corrupt it.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this program")

// migrations are the embedded files, by version.
var migrations = sqlmigrate.MustLoad(migrationFS, "migrations")

// LatestSchemaVersion is the newest schema version this program knows.
func LatestSchemaVersion() int { return sqlmigrate.Latest(migrations) }

// migrate applies the migrations the database lacks, recording each in
// schema_migrations. It reads the version and migrates in one write
// transaction, so two processes opening a new file cannot both migrate it.
func migrate(ctx context.Context, conn *sql.Conn) (err error) {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
			}
		}
	}()
	applied, err := all(ctx, conn, scanVersion, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return fmt.Errorf("read schema versions: %w", err)
	}
	if len(applied) > 0 && applied[len(applied)-1] > LatestSchemaVersion() {
		return fmt.Errorf("%w: database is at version %d, this program knows up to %d",
			ErrSchemaTooNew, applied[len(applied)-1], LatestSchemaVersion())
	}
	for _, m := range sqlmigrate.Pending(migrations, applied) {
		if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record migration %s: %w", m.Name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

func scanVersion(sc scanner) (int, error) {
	var v int
	err := sc.Scan(&v)
	return v, err
}
