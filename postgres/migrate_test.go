package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"jifen/ledger"
)

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != LatestSchemaVersion() || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables
		WHERE table_schema = current_schema()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// 15 tables of the ledger, the events and their last position, the
	// console's ended sessions, the webhooks' four, the operators' two
	// and the console's key, the approvals, the audit log and its head,
	// the events' horizon and outputs, and schema_migrations.
	if n != 31 {
		t.Errorf("%d tables in the schema, want 31", n)
	}
	var recorded int
	if err := s.pool.QueryRow(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&recorded); err != nil || recorded != LatestSchemaVersion() {
		t.Errorf("schema_migrations holds %d rows (%v), want %d", recorded, err, LatestSchemaVersion())
	}
}

func TestOpen_Reopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testDSN(t)
	schema := newTestSchema(t, dsn)
	// Servers starting together on a new database: each migration is
	// applied once.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, dsn, Options{Schema: schema, Migrate: true, MaxConns: 2})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open %d: %v", i, err)
		}
	}
	// Opening again, with or without Migrate, changes nothing.
	for _, migrate := range []bool{true, false} {
		s, err := Open(ctx, dsn, Options{Schema: schema, Migrate: migrate})
		if err != nil {
			t.Fatalf("Open(Migrate: %v): %v", migrate, err)
		}
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != LatestSchemaVersion() {
			t.Errorf("schema_migrations holds %d rows (%v), want %d", n, err, LatestSchemaVersion())
		}
		s.Close()
	}
}

func TestOpen_ErrSchemaTooNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testDSN(t)
	schema := newTestSchema(t, dsn)
	s, err := Open(ctx, dsn, Options{Schema: schema, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from the future', 0)",
		LatestSchemaVersion()+1)
	s.Close()
	for _, migrate := range []bool{true, false} {
		_, err := Open(ctx, dsn, Options{Schema: schema, Migrate: migrate})
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("Open(Migrate: %v) = %v, want ErrSchemaTooNew", migrate, err)
		}
	}
}

func TestOpen_ErrSchemaTooOld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testDSN(t)
	schema := newTestSchema(t, dsn)
	_, err := Open(ctx, dsn, Options{Schema: schema})
	if !errors.Is(err, ErrSchemaTooOld) || !strings.Contains(err.Error(), "run jifen migrate") {
		t.Fatalf("Open of an empty schema without Migrate = %v, want ErrSchemaTooOld saying to run jifen migrate", err)
	}
	// Half-way: a database that lacks the newest migration.
	s, err := Open(ctx, dsn, Options{Schema: schema, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, "DELETE FROM schema_migrations WHERE version = $1", LatestSchemaVersion())
	s.Close()
	if _, err := Open(ctx, dsn, Options{Schema: schema}); !errors.Is(err, ErrSchemaTooOld) {
		t.Errorf("Open without Migrate = %v, want ErrSchemaTooOld", err)
	}
}

func TestOpen_Unreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Port 1 on the loopback: nothing listens there.
	_, err := Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", Options{})
	if e, ok := ledger.AsError(err); !ok || e.Kind != ledger.KindUnavailable {
		t.Fatalf("Open of an unreachable database = %v, want a KindUnavailable error", err)
	}
	if _, err := Open(ctx, "postgres://user:hunter2@%zz", Options{}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open of a bad DSN = %v, want an error that does not show the password", err)
	}
}
