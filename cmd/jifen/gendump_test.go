package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"jifen/postgres"
)

// TestGendump_Imports: a generated ledger imports into a new store and
// passes the import's invariant check (hash chains, balances, lots,
// allocations, orders, refunds, idempotency records), on both stores.
func TestGendump_Imports(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gen.jsonl")
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"gendump", "--accounts", "60", "-o", file}, &out, &errb); err != nil {
		t.Fatalf("gendump: %v\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "60 accounts (240 flows") {
		t.Fatalf("gendump said %q", errb.String())
	}
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return filepath.Join(dir, "jifen.db") },
		"postgres": func(t *testing.T) string { return postgres.TestDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			db := db(t)
			var out, errb strings.Builder
			if err := run(context.Background(), []string{"import", "--db", db, "-f", file}, &out, &errb); err != nil {
				t.Fatalf("import: %v\n%s%s", err, out.String(), errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), "all invariants hold") {
				t.Fatalf("import said %q %q", out.String(), errb.String())
			}
		})
	}
}
