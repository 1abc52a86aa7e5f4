package admin

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"jifen/points"
)

// TestAPI_RuleBoundsAndCappedLiability: a rule that values a point past
// the bound is refused naming the field; at the bound, a liability whose
// value leaves int64 fen is answered as the largest int64 with
// liability_fen_capped, in JSON and CSV.
func TestAPI_RuleBoundsAndCappedLiability(t *testing.T) {
	e := newAPIEnv(t)
	rule := func(yuan string) map[string]any {
		return map[string]any{"name": "贵", "point_clear_rule": map[string]any{"point_clear_rule_type": "NEVER"},
			"point_deduction_rule": map[string]any{"member_point_deduction_rules": []any{
				map[string]any{"level_id": "", "deducted_point": 1, "consume_money": yuan, "enable": true}}}}
	}
	p := e.do("PUT", "/admin/v1/brands/B1/rule", rule("100000")).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	if f, _ := p["field"].(string); !strings.HasSuffix(f, "rule.point_deduction_rule.member_point_deduction_rules[0].consume_money") {
		t.Fatalf("1 point = 100,000 yuan: %v, want the field consume_money named", p)
	}
	e.do("PUT", "/admin/v1/brands/B1/rule", rule("10000")).want(t, http.StatusOK)
	for i := range 10 {
		e.MustCharge("C1", fmt.Sprintf("g%d", i), points.MaxPoints)
	}
	a := e.do("GET", "/admin/v1/brands/B1/totals", nil).want(t, http.StatusOK)
	if a.get(t, "liability_fen_capped") != true || a.get(t, "days.29.liability_fen_capped") != true ||
		a.get(t, "liability_fen") != float64(math.MaxInt64) || a.get(t, "days.0.liability_fen_capped") != nil {
		t.Fatalf("totals: %s", a.body)
	}
	a = e.do("GET", "/admin/v1/brands/B1/totals?format=csv", nil).want(t, http.StatusOK)
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(a.body, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) < 31 || recs[0][13] != "liability_fen_capped" || recs[30][12] != "9223372036854775807" ||
		recs[30][13] != "true" || recs[1][13] != "" {
		t.Fatalf("totals csv %q %v", recs, err)
	}
}
