package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultTestDSN is the database tests use when JIFEN_TEST_POSTGRES is not
// set and it is reachable.
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var probe struct {
	once sync.Once
	err  error
}

// testDSN is the database for tests: $JIFEN_TEST_POSTGRES, else
// defaultTestDSN if it answers within 2 seconds. Without one the test is
// skipped, or fails when JIFEN_REQUIRE_POSTGRES=1 (as in CI).
func testDSN(tb testing.TB) string {
	tb.Helper()
	if dsn := os.Getenv("JIFEN_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	probe.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, defaultTestDSN)
		if err != nil {
			probe.err = err
			return
		}
		probe.err = conn.Close(ctx)
	})
	if probe.err != nil {
		msg := "PostgreSQL not reachable at " + defaultTestDSN + ": set JIFEN_TEST_POSTGRES (" + probe.err.Error() + ")"
		if os.Getenv("JIFEN_REQUIRE_POSTGRES") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return defaultTestDSN
}

// OpenTest opens a migrated store on the test database (see testDSN) in a
// schema of its own, so tests may run in parallel, and drops the schema
// when the test ends. It skips the test where no PostgreSQL is reachable.
func OpenTest(tb testing.TB) *Store {
	tb.Helper()
	return openTestWith(tb, Options{MaxConns: 8, Migrate: true})
}

// openTestWith is OpenTest with options; o.Schema is replaced by a fresh one.
func openTestWith(tb testing.TB, o Options) *Store {
	tb.Helper()
	dsn := testDSN(tb)
	o.Schema = newTestSchema(tb, dsn)
	s, err := Open(context.Background(), dsn, o)
	if err != nil {
		tb.Fatalf("postgres.Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

// newTestSchema names a fresh schema for one test and drops it, with
// everything in it, when the test ends. The schema itself is created by
// Open.
func newTestSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema := "jifen_test_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// TestDSN is a connection string for a fresh, migrated schema of the test
// database (see testDSN), for tests that run jifen in other processes. The
// schema is dropped when the test ends.
func TestDSN(tb testing.TB) string {
	tb.Helper()
	dsn := testDSN(tb)
	schema := newTestSchema(tb, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, dsn, Options{Schema: schema, Migrate: true, MaxConns: 2})
	if err != nil {
		tb.Fatalf("postgres.Open: %v", err)
	}
	if err := s.Close(); err != nil {
		tb.Fatalf("close: %v", err)
	}
	if !strings.Contains(dsn, "://") { // key=value form
		return dsn + " search_path=" + schema
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + url.QueryEscape(schema)
}
