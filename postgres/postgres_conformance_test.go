package postgres

import (
	"testing"

	"jifen/storetest"
)

// TestConformance runs the ledger conformance suite, the one every store
// passes, against PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) storetest.Store { return OpenTest(t) })
}

// TestWebhooks runs the webhooks' conformance tests against PostgreSQL.
func TestWebhooks(t *testing.T) {
	storetest.RunWebhooks(t, func(t testing.TB) storetest.WebhookStore { return OpenTest(t) })
}

// TestOperators runs the operators' conformance tests against PostgreSQL.
func TestOperators(t *testing.T) {
	storetest.RunOperators(t, func(t testing.TB) storetest.OperatorStore { return OpenTest(t) })
}

// TestApprovals runs the four-eyes conformance tests against PostgreSQL.
func TestApprovals(t *testing.T) {
	storetest.RunApprovals(t, func(t testing.TB) storetest.OperatorStore { return OpenTest(t) })
}

// TestAudit runs the audit log's conformance tests against PostgreSQL;
// the second server is a second Store (its own pool) on the same schema.
func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t testing.TB) storetest.AuditDB {
		dsn := TestDSN(t)
		open := func(t testing.TB) storetest.AuditStore {
			s, err := Open(t.Context(), dsn, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		s := open(t).(*Store)
		return storetest.AuditDB{Store: s, Another: open, Exec: func(t testing.TB, query string) { mustExec(t, s, query) }}
	})
}
