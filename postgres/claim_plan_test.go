package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/storetest"
	"jifen/webhook"
)

// TestClaim_ReadsOnlyActiveEndpointsDueDeliveries: a claim reads the due
// deliveries of the active endpoints through their keys, whatever their
// backlog. An endpoint disabled after days of failing has a due delivery
// for every member with events; the claim that picked due deliveries of
// every endpoint in due order and dropped the disabled one's read all of
// them at every claim, and its check that each is the oldest of its
// member's queue ran on all due deliveries rather than on the few taken
// (328 ms a claim with 2,000 due and 23,000 waiting, where this plan takes
// under a millisecond: docs/benchmarks.md).
func TestClaim_ReadsOnlyActiveEndpointsDueDeliveries(t *testing.T) {
	ctx := context.Background()
	s := OpenTest(t)
	for _, q := range []string{
		`INSERT INTO webhooks (webhook_id, url, secret, brands, events, disabled_at, disabled_reason, failing_since,
			scheduled_pos, created_at, updated_at)
		VALUES ('dead', 'https://a.example/h', 's', '[]', '[]', 5, 'failing', 1, 0, 1, 1),
			('live', 'https://b.example/h', 's', '[]', '[]', 0, '', 0, 0, 1, 1)`,
		// The disabled endpoint: 20,000 members' heads due long ago.
		`INSERT INTO webhook_deliveries (webhook_id, pos, brand_id, subject, state, attempts, since, next_at,
			lease_owner, lease_until, last_status, last_latency, last_error, done_at)
		SELECT 'dead', i, 'B', 'c' || i, 'pending', 3, 1, i, '', 0, 500, 1, 'x', 0 FROM generate_series(1, 20000) AS i`,
		// The active one: 100 members' heads due, each with 20 waiting.
		`INSERT INTO webhook_deliveries (webhook_id, pos, brand_id, subject, state, attempts, since, next_at,
			lease_owner, lease_until, last_status, last_latency, last_error, done_at)
		SELECT 'live', i, 'B', 'c' || (i % 100), 'pending', 0, 0,
			CASE WHEN i <= 100 THEN 100000 + i ELSE ` + strconv.FormatInt(blocked, 10) + ` END, '', 0, 0, 0, '', 0
		FROM generate_series(1, 2100) AS i`,
		"ANALYZE webhooks",
		"ANALYZE webhook_deliveries",
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "PREPARE claim(bigint, int, text, bigint) AS "+sqlClaim); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE claim(200000, 16, 'me', 300000)")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		tx.Rollback(ctx)
		conn.Exec(ctx, "DEALLOCATE claim")
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, "webhook_deliveries_due") {
			t.Errorf("%s: the claim does not read through webhook_deliveries_due:\n%s", mode, p)
		}
		// No node reads (or filters out) more rows than a few claims' worth.
		for _, m := range regexp.MustCompile(`(?:rows=|Removed by [A-Za-z ]+: )(\d+)`).FindAllStringSubmatch(p, -1) {
			if n, _ := strconv.Atoi(m[1]); n > 200 {
				t.Errorf("%s: a node of the claim handles %d rows:\n%s", mode, n, p)
				break
			}
		}
	}
	conn.Exec(ctx, "RESET plan_cache_mode")
}

// TestSchedule_AnalyzesAsDeliveriesGrow: a server that queues a
// thousand deliveries into a table never analyzed gathers its statistics,
// rather than waiting for autovacuum (a minute or more away), so that the
// plans of a young backlog are made for its size (see analyzer).
func TestSchedule_AnalyzesAsDeliveriesGrow(t *testing.T) {
	ctx := context.Background()
	s := OpenTest(t)
	if _, err := s.pool.Exec(ctx, `INSERT INTO webhooks (webhook_id, url, secret, brands, events, disabled_at,
		disabled_reason, failing_since, scheduled_pos, created_at, updated_at)
		VALUES ('h', 'https://a.example/h', 's', '[]', '[]', 0, '', 0, 0, 1, 1)`); err != nil {
		t.Fatal(err)
	}
	analyzed := func() bool {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables
			WHERE relname = 'webhook_deliveries' AND schemaname = current_schema()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	var pos int64
	schedule := func(n int) {
		ds := make([]webhook.Queued, n)
		for i := range ds {
			ds[i] = webhook.Queued{Pos: pos + int64(i) + 1, BrandID: "B", Subject: fmt.Sprint("c", i%50)}
		}
		if ok, err := storetest.Schedule(ctx, s, "h", pos, pos+int64(n), ds, time.Now()); err != nil || !ok {
			t.Fatal(ok, err)
		}
		pos += int64(n)
	}
	schedule(analyzeFirst - 1)
	s.analyze.wg.Wait()
	if analyzed() {
		t.Skip("autovacuum analyzed the table first")
	}
	schedule(1)
	s.analyze.wg.Wait()
	// The statistics collector reports with a delay.
	for deadline := time.Now().Add(5 * time.Second); !analyzed(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deliveries were not analyzed after 1,000 were scheduled")
		}
	}
}
