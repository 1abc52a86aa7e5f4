package sqlite

import (
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
