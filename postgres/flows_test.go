package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

func TestStore_Flows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := OpenTest(t)
	f := mustFixture(t, s)
	// Ten charges a minute apart, alternating shops and channels, with out
	// ids that contain LIKE's wildcards.
	outIDs := []string{"A%1", "A_1", "AB1", "X-1", "A%2", "A_2", "AB2", "X-2", "a%1", "Z"}
	for i, out := range outIDs {
		shop, ch := "S1", "KRY"
		if i%2 == 1 {
			shop, ch = "S2", "CS"
		}
		mustWrite(t, s, func(tx points.Tx) error {
			acct, err := tx.(*Tx).Account(ctx, "B1", "C1")
			if err != nil {
				return err
			}
			b := ledger.NewBook(ledger.State{Brand: f.brand, Account: acct}, ts(60*i), newID)
			b.Grant(ledger.Charge, 10, ledger.Info{OutBizID: out, ShopID: shop, Channel: ch})
			return tx.(*Tx).ApplyChanges(ctx, b.Changes())
		})
	}
	// Another customer's flow, in the same minute as the first.
	mustWrite(t, s, func(tx points.Tx) error { return chargeIn(ctx, tx, f.brand, "C2", 5, ts(0)) })

	ids := func(fs []ledger.Flow) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.OutBizID)
		}
		return fmt.Sprint(out)
	}
	cases := []struct {
		name  string
		q     points.FlowQuery
		want  string
		total int
	}{
		// C2's flow shares C1's first instant and seq; only the flow id
		// orders them, so this case checks the count alone.
		{"All", points.FlowQuery{}, "", 11},
		{"Customer", points.FlowQuery{BrandID: "B1", CustomerID: "C1"}, "[Z a%1 X-2 AB2 A_2 A%2 X-1 AB1 A_1 A%1]", 10},
		{"OtherBrand", points.FlowQuery{BrandID: "B2"}, "[]", 0},
		{"LikePercent", points.FlowQuery{CustomerID: "C1", OutBizLike: "%"}, "[a%1 A%2 A%1]", 3},
		{"LikeUnderscore", points.FlowQuery{CustomerID: "C1", OutBizLike: "A_"}, "[A_2 A_1]", 2},
		{"LikeSubstring", points.FlowQuery{CustomerID: "C1", OutBizLike: "B"}, "[AB2 AB1]", 2},
		{"LikeCaseSensitive", points.FlowQuery{CustomerID: "C1", OutBizLike: "a"}, "[a%1]", 1},
		{"Type", points.FlowQuery{CustomerID: "C1", Type: ledger.Charge}, "[Z a%1 X-2 AB2 A_2 A%2 X-1 AB1 A_1 A%1]", 10},
		{"OtherType", points.FlowQuery{CustomerID: "C1", Type: ledger.Expire}, "[]", 0},
		{"Shop", points.FlowQuery{CustomerID: "C1", ShopID: "S2"}, "[Z X-2 A_2 X-1 A_1]", 5},
		{"Channel", points.FlowQuery{CustomerID: "C1", Channel: "KRY"}, "[a%1 AB2 A%2 AB1 A%1]", 5},
		// Bounds are inclusive, to the microsecond.
		{"Range", points.FlowQuery{CustomerID: "C1", Start: ts(60), End: ts(180)}, "[X-1 AB1 A_1]", 3},
		{"RangeExclusiveByOneMicro", points.FlowQuery{CustomerID: "C1", Start: ts(60).Add(time.Microsecond),
			End: ts(180).Add(-time.Microsecond)}, "[AB1]", 1},
		{"RangeNanoseconds", points.FlowQuery{CustomerID: "C1", Start: ts(60).Add(time.Nanosecond), End: ts(60).Add(999 * time.Nanosecond)}, "[]", 0},
		{"StartOnly", points.FlowQuery{CustomerID: "C1", Start: ts(480)}, "[Z a%1]", 2},
		{"EndOnly", points.FlowQuery{CustomerID: "C1", End: ts(60)}, "[A_1 A%1]", 2},
		{"Page", points.FlowQuery{CustomerID: "C1", Offset: 2, Limit: 3}, "[X-2 AB2 A_2]", 10},
		{"LastPage", points.FlowQuery{CustomerID: "C1", Offset: 8, Limit: 3}, "[A_1 A%1]", 10},
		{"PastTheEnd", points.FlowQuery{CustomerID: "C1", Offset: 20, Limit: 3}, "[]", 10},
		{"OffsetOnly", points.FlowQuery{CustomerID: "C1", Offset: 9}, "[A%1]", 10},
		{"Combined", points.FlowQuery{BrandID: "B1", CustomerID: "C1", OutBizLike: "2", ShopID: "S2", Channel: "CS",
			Type: ledger.Charge, Start: ts(0), End: ts(600), Limit: 1}, "[X-2]", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, total, err := s.Flows(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(fs); c.want != "" && got != c.want {
				t.Errorf("flows %s, want %s", got, c.want)
			}
			if total != c.total {
				t.Errorf("total %d, want %d", total, c.total)
			}
		})
	}
}
