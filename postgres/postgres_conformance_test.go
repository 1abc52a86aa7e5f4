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
