package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"jifen/storetest"
)

// TestUpgrade_FromSchema5: a database the release before the lean layout
// wrote (testdata/upgrade/sqlite-v5.sql, that database as sqlite3's .dump
// gave it, made by make-fixtures there) migrates on open without losing a
// row: its export is that release's own export of it, every invariant
// holds, old answers replay, new writes work.
func TestUpgrade_FromSchema5(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v5.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(storetest.UpgradeFixture(t, "sqlite-v5.sql"))); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("schema version %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	storetest.CheckUpgraded(t, s, storetest.UpgradeFixture(t, "sqlite-v1.jsonl"))
}

// TestImport_Version1: a version-1 dump (no brand on idempotency records)
// still imports, each record keyed under the brand of its flow or
// customer.
func TestImport_Version1(t *testing.T) {
	s := MustOpen(t)
	storetest.CheckV1Import(t, s, storetest.UpgradeFixture(t, "sqlite-v1.jsonl"))
}
