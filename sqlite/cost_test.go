package sqlite

import (
	"path/filepath"
	"testing"

	"jifen/storetest"
)

// TestWriteCost counts the statements the writer runs for a payment, a
// partial refund, a refund of the rest and a replay, each alone in its
// batch, BEGIN and COMMIT included (docs/benchmarks.md gives the counts
// and what each statement is). A change that adds a
// statement to the write path fails here; one that removes some lowers
// the bounds.
func TestWriteCost(t *testing.T) {
	var s *Store
	e := storetest.NewEnv(t, func(tb testing.TB) storetest.Store {
		var err error
		if s, err = Open(tb.Context(), filepath.Join(tb.TempDir(), "jifen.db")); err != nil {
			tb.Fatal(err)
		}
		return s
	})
	e.MustCharge("C1", "g1", 1000)
	count := func(fn func()) uint64 {
		before := s.Stats().Statements
		fn()
		return s.Stats().Statements - before
	}
	pay := count(func() { e.MustConsume("C1", "o1", 100) })
	part := count(func() {
		if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "o1-r1", storetest.P(40))); err != nil {
			t.Fatal(err)
		}
	})
	r := e.Reverse("o1", "o1-r2", nil)
	rest := count(func() {
		if _, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil {
			t.Fatal(err)
		}
	})
	again := count(func() {
		if out, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil || !out.Replayed {
			t.Fatalf("replay: %+v, %v", out, err)
		}
	})
	for _, c := range []struct {
		name     string
		got, max uint64
	}{{"payment", pay, 16}, {"partial refund", part, 19}, {"refund of the rest", rest, 19}, {"replay", again, 3}} { // each write's event is one statement
		t.Logf("%s: %d statements", c.name, c.got)
		if c.got > c.max {
			t.Errorf("%s: %d statements, want at most %d", c.name, c.got, c.max)
		}
	}
}
