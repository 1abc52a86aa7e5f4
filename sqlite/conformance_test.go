package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"jifen/storetest"
)

// TestConformance runs the ledger conformance suite, the one every store
// passes, against SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) storetest.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "jifen.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestWebhooks runs the webhooks' conformance tests against SQLite.
func TestWebhooks(t *testing.T) {
	storetest.RunWebhooks(t, func(t testing.TB) storetest.WebhookStore {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "jifen.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestOperators runs the operators' conformance tests against SQLite.
func TestOperators(t *testing.T) {
	storetest.RunOperators(t, func(t testing.TB) storetest.OperatorStore {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "jifen.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestApprovals runs the four-eyes conformance tests against SQLite.
func TestApprovals(t *testing.T) {
	storetest.RunApprovals(t, func(t testing.TB) storetest.OperatorStore {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "jifen.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestAudit runs the audit log's conformance tests against SQLite; the
// second server is a second Store on the same file.
func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t testing.TB) storetest.AuditDB {
		path := filepath.Join(t.TempDir(), "jifen.db")
		open := func(t testing.TB) storetest.AuditStore {
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return storetest.AuditDB{Store: open(t), Another: open, Exec: func(t testing.TB, query string) {
			db, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(query); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}}
	})
}
