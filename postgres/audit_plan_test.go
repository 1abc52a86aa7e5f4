package postgres

import (
	"context"
	"strings"
	"testing"
)

// TestAudit_PagePlanReadsByKey: the Auditor reads a page of accounts' rows
// by their keys whatever plan PostgreSQL picks. A prepared statement is
// planned generically after a few runs, blind to its parameters; for the
// page as a key range that plan read the whole brand's flows by time and
// sorted them, so `jifen verify` (and the check after `jifen import`) of a
// brand with five million flows ran every page past the statement timeout.
func TestAudit_PagePlanReadsByKey(t *testing.T) {
	ctx := context.Background()
	s := OpenTest(t)
	// One brand, 20,000 accounts of 4 flows each, as an import leaves them.
	if _, err := s.pool.Exec(ctx, `INSERT INTO flows (flow_id, brand_id, customer_id, seq, type, amount, delta_available,
		delta_frozen, delta_debt, remain_point, out_biz_id, reverse_order_id, shop_id, shop_name, channel, app_key, request_id,
		operator_id, operator_name, reason, rule_version, policy, created_at, prev_hash, hash)
		SELECT 'f' || i, 'big', 'c' || lpad((i / 4)::text, 6, '0'), i % 4 + 1, 'CHARGE', 1, 1, 0, 0, 1, 'o' || i, '', 's', 's',
			'KRY', 'pos', 'r' || i, 'op', 'op', '', 1, '', 1700000000000000 + i, '', ''
		FROM generate_series(0, 79999) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE flows"); err != nil {
		t.Fatal(err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "RESET plan_cache_mode")
	if _, err := conn.Exec(ctx, "PREPARE page_flows(text[], text[]) AS SELECT "+flowCols+" FROM flows"+pageJoin+
		" ORDER BY brand_id, customer_id, seq"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "DEALLOCATE page_flows")
	rows, err := conn.Query(ctx, "EXPLAIN EXECUTE page_flows('{big,big}', '{c000001,c000002}')")
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
	p := strings.Join(plan, "\n")
	if !strings.Contains(p, "flows_pkey") || strings.Contains(p, "Seq Scan on flows") || strings.Contains(p, "flows_brand_time") {
		t.Fatalf("the generic plan of a page's flows does not read them by key:\n%s", p)
	}
}
