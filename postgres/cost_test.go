package postgres

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"jifen/points"
	"jifen/storetest"
)

// trips records what a store's connections send: one entry per round
// trip (a batch, or a statement sent alone), with its statements.
type trips struct {
	mu   sync.Mutex
	sent [][]string
}

func (c *trips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, []string{d.SQL})
	return ctx
}

func (c *trips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *trips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sqls []string
	for _, q := range d.Batch.QueuedQueries {
		sqls = append(sqls, q.SQL)
	}
	c.sent = append(c.sent, sqls)
	return ctx
}

func (c *trips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *trips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// during returns the round trips fn made.
func (c *trips) during(fn func()) [][]string {
	c.mu.Lock()
	c.sent = nil
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// TestWriteCost counts the round trips of a payment, a partial refund, a
// refund of the rest and a replay (docs/benchmarks.md gives the counts):
// a write is at most three round trips including COMMIT, the account's
// lock is taken in the second and held only for the third; a replay is
// one round trip and takes no lock. A change that adds a round trip fails here.
func TestWriteCost(t *testing.T) {
	c := &trips{}
	e := storetest.NewEnv(t, func(tb testing.TB) storetest.Store {
		// One connection, so that its statement cache is warm after the
		// first life cycle (pgx prepares a statement the first time a
		// connection sends it: a round trip the steady state does not pay).
		return openTestWith(tb, Options{MaxConns: 1, Migrate: true, Tracer: c})
	})
	e.MustCharge("C1", "g1", 1000)
	lifeCycle := func(order string) (pay, part, rest, again [][]string) {
		pay = c.during(func() { e.MustConsume("C1", order, 100) })
		part = c.during(func() {
			if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse(order, order+"-r1", storetest.P(40))); err != nil {
				t.Fatal(err)
			}
		})
		r := e.Reverse(order, order+"-r2", nil)
		rest = c.during(func() {
			if _, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil {
				t.Fatal(err)
			}
		})
		again = c.during(func() {
			out, err := e.Svc.Reverse(e.Ctx, e.Caller, r)
			if err != nil || !out.Replayed {
				t.Fatalf("replay: %+v, %v", out, err)
			}
		})
		return
	}
	lifeCycle("warm-up")
	pay, part, rest, again := lifeCycle("o1")
	for _, w := range []struct {
		name string
		sent [][]string
	}{{"payment", pay}, {"partial refund", part}, {"refund of the rest", rest}} {
		t.Logf("%s: %d round trips, %d statements", w.name, len(w.sent), statements(w.sent))
		if len(w.sent) != 3 {
			t.Errorf("%s: %d round trips, want 3:\n%s", w.name, len(w.sent), show(w.sent))
			continue
		}
		if lock := tripOf(w.sent, "FOR UPDATE"); lock != 1 {
			t.Errorf("%s: the account is locked in round trip %d, want 2:\n%s", w.name, lock+1, show(w.sent))
		}
		last := w.sent[2]
		if last[len(last)-1] != "COMMIT" {
			t.Errorf("%s: the last round trip does not end with COMMIT:\n%s", w.name, show(w.sent))
		}
	}
	t.Logf("replay: %d round trips, %d statements", len(again), statements(again))
	if len(again) != 1 || tripOf(again, "FOR UPDATE") >= 0 || tripOf(again, "BEGIN") >= 0 {
		t.Errorf("replay: want one round trip, no transaction, no lock:\n%s", show(again))
	}
}

var _ points.Store = (*Store)(nil)

// tripOf is the index of the first round trip with a statement containing
// s, or -1.
func tripOf(sent [][]string, s string) int {
	for i, trip := range sent {
		for _, q := range trip {
			if strings.Contains(q, s) {
				return i
			}
		}
	}
	return -1
}

func statements(sent [][]string) int {
	n := 0
	for _, trip := range sent {
		n += len(trip)
	}
	return n
}

func show(sent [][]string) string {
	var b strings.Builder
	for i, trip := range sent {
		for _, q := range trip {
			b.WriteString("  ")
			b.WriteString(string(rune('1' + i)))
			b.WriteString(": ")
			b.WriteString(strings.Join(strings.Fields(q), " "))
			b.WriteString("\n")
		}
	}
	return b.String()
}
