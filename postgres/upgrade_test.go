package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"jifen/storetest"
)

// TestUpgrade_FromSchema5: a database the release before the lean layout
// wrote (testdata/upgrade/postgres-v5.sql, its tables as pg_dump gave
// them, made by make-fixtures there) migrates on open without losing a
// row: its export is that release's own export of it, every invariant
// holds, old answers replay, new writes work.
func TestUpgrade_FromSchema5(t *testing.T) {
	dsn := testDSN(t)
	schema := newTestSchema(t, dsn)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sql := strings.ReplaceAll(string(storetest.UpgradeFixture(t, "postgres-v5.sql")), "jifen_fixture.",
		pgx.Identifier{schema}.Sanitize()+".")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(sql, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("fixture: %v\n%s", err, stmt)
		}
	}
	s, err := Open(ctx, dsn, Options{Schema: schema, Migrate: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	storetest.CheckUpgraded(t, s, storetest.UpgradeFixture(t, "postgres-v1.jsonl"))
}

// TestImport_Version1: a version-1 dump (no brand on idempotency records)
// still imports, each record keyed under the brand of its flow or
// customer.
func TestImport_Version1(t *testing.T) {
	storetest.CheckV1Import(t, OpenTest(t), storetest.UpgradeFixture(t, "postgres-v1.jsonl"))
}
