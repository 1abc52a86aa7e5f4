package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jifen/points"
)

func TestOpen_Migrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jifen.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := LatestSchemaVersion(); v != want || want < 1 {
		t.Fatalf("SchemaVersion = %d, want %d (≥ 1)", v, want)
	}
	mustFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Re-opening applies nothing and keeps the data.
	s = MustOpenAt(t, path, Options{})
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
	}
	if _, err := s.Brand(ctx, "B1"); err != nil {
		t.Errorf("Brand after reopen: %v", err)
	}
}

func TestOpen_SchemaTooNew(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jifen.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', 0)",
		LatestSchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open: %v, want ErrSchemaTooNew", err)
	}
}

func TestOpen_Pragmas(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	mustFixture(t, s) // a committed write first: WAL must not lower synchronous

	pragma := func(q queryer, name string) string {
		t.Helper()
		rows, err := q.QueryContext(ctx, "PRAGMA "+name)
		if err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		defer rows.Close()
		var v string
		if !rows.Next() {
			t.Fatalf("PRAGMA %s: no row", name)
		}
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// The writer's connection is the one that commits: look on it, from
	// inside a write (the writer's goroutine owns it).
	MustWrite(t, s, func(tx points.Tx) error {
		w := tx.(*Tx).w
		for name, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1"} {
			if got := pragma(w, name); !strings.EqualFold(got, want) {
				t.Errorf("writer PRAGMA %s = %s, want %s", name, got, want)
			}
		}
		if got := pragma(w, "busy_timeout"); got == "0" {
			t.Errorf("writer busy_timeout = 0")
		}
		return nil
	})
	for name, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "query_only": "1"} {
		if got := pragma(s.rdb, name); !strings.EqualFold(got, want) {
			t.Errorf("reader PRAGMA %s = %s, want %s", name, got, want)
		}
	}
	// Reads cannot write.
	if _, err := s.rdb.ExecContext(ctx, "DELETE FROM brands"); err == nil {
		t.Error("a read connection wrote")
	}
}

func TestOpen_Memory(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustFixture(t, a)
	// The read pool sees the writer's database; another store does not.
	if _, err := a.Brand(ctx, "B1"); err != nil {
		t.Errorf("Brand: %v", err)
	}
	if _, err := b.Brand(ctx, "B1"); !errors.Is(err, points.ErrNotFound) {
		t.Errorf("Brand in another in-memory store: %v, want ErrNotFound", err)
	}
}

func TestClose(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "jifen.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	err = s.Write(context.Background(), func(points.Tx) error { return nil })
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}

// TestMigrate_AccountCounters opens a database written at schema version 1
// and checks that the upgrade gives each account counters that follow its
// rows, so the next lot and allocation get numbers not in use.
func TestMigrate_AccountCounters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{migrations[0].SQL,
		"CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
		"INSERT INTO schema_migrations VALUES (1, '0001_init', 0)",
		"INSERT INTO accounts VALUES ('B1', 'C1', 30, 0, 0, 30, 0, 0, 3, 'h', 3)",
		"INSERT INTO accounts VALUES ('B1', 'C2', 0, 0, 0, 0, 0, 0, 0, '', 1)",
	}
	for i := 1; i <= 3; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO lots VALUES ('L%d', 'B1', 'C1', 10, 10, 1, 0, 'F%d', 'O', %d)", i, i, i))
	}
	for i := 1; i <= 5; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO allocations VALUES ('F1', 'L1', 'B1', 'C1', 'O', 'spend', 1, %d)", i))
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		customer       string
		lotSeq, allocs int64
	}{{"C1", 3, 5}, {"C2", 0, 0}} {
		a, err := s.Account(ctx, "B1", c.customer)
		if err != nil {
			t.Fatal(err)
		}
		if a.LotSeq != c.lotSeq || a.AllocSeq != c.allocs {
			t.Errorf("%s after the upgrade: lot_seq %d, alloc_seq %d; want %d, %d", c.customer, a.LotSeq, a.AllocSeq, c.lotSeq, c.allocs)
		}
	}
}

// TestOpen_ThroughASymlink: the syncer syncs the WAL SQLite writes — the
// one beside the link's target — even when a stale file beside the link
// has the WAL's name.
func TestOpen_ThroughASymlink(t *testing.T) {
	real, links := t.TempDir(), t.TempDir()
	target := filepath.Join(real, "jifen.db")
	link := filepath.Join(links, "jifen.db")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link+"-wal", []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenWith(t.Context(), link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, ok := s.w.wal.(*os.File)
	if !ok {
		t.Fatalf("WAL is a %T", s.w.wal)
	}
	got, err1 := os.Stat(f.Name())
	want, err2 := os.Stat(target + "-wal")
	if err1 != nil || err2 != nil || !os.SameFile(got, want) {
		t.Fatalf("the syncer syncs %s, SQLite writes %s-wal (%v, %v)", f.Name(), target, err1, err2)
	}
}
