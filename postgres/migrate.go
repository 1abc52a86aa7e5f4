package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the embedded files, by version.
var migrations = sqlmigrate.MustLoad(migrationFS, "migrations")

// LatestSchemaVersion is the newest schema version this program knows.
func LatestSchemaVersion() int { return sqlmigrate.Latest(migrations) }

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	applied_at BIGINT  NOT NULL,
	CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
)`

// Migrate applies the migrations the database lacks, each in its own
// transaction that first records it in schema_migrations, so servers
// starting together apply each migration once, one after the other (see
// migrateOne). It refuses a database whose schema
// is newer than this program's.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, createMigrationsTable); err != nil {
		// Two sessions creating the table at once: one of them loses on
		// the catalog (a unique index, or its row type already made);
		// the table is there either way.
		if !isCode(err, codeUniqueViolation) && !isCode(err, codeDuplicateTable) && !isCode(err, codeDuplicateObject) {
			return failure(err, "create schema_migrations")
		}
	}
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next missing migration; done when there was none.
func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return false, failure(err, "begin migration")
	}
	defer func() {
		if err != nil {
			if rerr := tx.Rollback(context.WithoutCancel(ctx)); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
				err = errors.Join(err, fmt.Errorf("postgres: roll back migration: %w", rerr))
			}
		}
	}()
	// A migration may take longer than the statements of the ledger.
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
		return false, failure(err, "lift the statement timeout")
	}
	var applied []int
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err == nil {
		applied, err = pgx.CollectRows(rows, pgx.RowTo[int])
	}
	if err != nil {
		return false, failure(err, "read the schema versions")
	}
	if len(applied) > 0 && applied[len(applied)-1] > LatestSchemaVersion() {
		return false, fmt.Errorf("%w: the database is at version %d, this program knows up to %d",
			ErrSchemaTooNew, applied[len(applied)-1], LatestSchemaVersion())
	}
	// Every migration the database lacks, not only those above its
	// newest: versions may skip numbers (see sqlmigrate.MustLoad).
	pending := sqlmigrate.Pending(migrations, applied)
	if len(pending) == 0 {
		return true, failure(tx.Commit(ctx), "end migration")
	}
	m := pending[0]
	// The migration's row goes in before its statements run: a server
	// migrating at the same moment waits on that row's key until this
	// transaction ends, then finds the key taken and reads the version
	// again. No table lock is needed, so this runs unchanged on
	// distributed SQL databases, which have no LOCK TABLE.
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.Version, m.Name, time.Now().UnixMicro()); err != nil {
		if isCode(err, codeUniqueViolation) {
			return false, failure(tx.Rollback(ctx), "end migration")
		}
		return false, failure(err, "record migration "+m.Name)
	}
	// Without arguments Exec uses the simple protocol, which runs a file of
	// several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, failure(err, "apply migration "+m.Name)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, failure(err, "commit migration "+m.Name)
	}
	return false, nil
}

// SchemaVersion is the newest migration applied to the database; 0 for a
// database jifen has never migrated.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name = 'schema_migrations')`).Scan(&exists)
	if err != nil {
		return 0, failure(err, "look for schema_migrations")
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := s.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, failure(err, "read the schema version")
	}
	return v, nil
}
