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
