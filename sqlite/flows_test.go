package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
)

func TestStore_Flows(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	base := ts(0)
	// Ten flows: C1 and C2 alternate, one second apart; F3 and F4 share an
	// instant (seq breaks the tie).
	var flows []ledger.Flow
	seq := map[string]int64{}
	for i := range 10 {
		cust := []string{"C1", "C2"}[i%2]
		seq[cust]++
		f := ledger.Flow{ID: fmt.Sprintf("F%d", i), BrandID: "B1", CustomerID: cust, Seq: seq[cust],
			Type: ledger.Charge, Amount: 1, DeltaAvailable: 1, OutBizID: fmt.Sprintf("order-%d", i),
			ShopID: "S1", Channel: "CS", CreatedAt: base.Add(time.Duration(i) * time.Second)}
		switch i {
		case 4:
			f.CreatedAt = flows[3].CreatedAt
		case 5:
			f.Type, f.ShopID, f.Channel, f.OutBizID = ledger.DeductFromConsume, "S2", "KRY", "50%_off"
		case 6:
			f.OutBizID = "5000_off"
		case 7:
			f.BrandID = "B2"
		}
		flows = append(flows, f)
	}
	MustWrite(t, s, func(tx points.Tx) error { return tx.(*Tx).ApplyChanges(ctx, ledger.Changes{Flows: flows}) })

	ids := func(fs []ledger.Flow) string {
		out := ""
		for _, f := range fs {
			out += f.ID + " "
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		q     points.FlowQuery
		want  string
		total int
	}{
		{"all, newest first", points.FlowQuery{}, "F9 F8 F7 F6 F5 F4 F3 F2 F1 F0 ", 10},
		{"brand", points.FlowQuery{BrandID: "B1"}, "F9 F8 F6 F5 F4 F3 F2 F1 F0 ", 9},
		{"customer", points.FlowQuery{BrandID: "B1", CustomerID: "C1"}, "F8 F6 F4 F2 F0 ", 5},
		{"same instant: higher seq first", points.FlowQuery{Start: flows[3].CreatedAt, End: flows[4].CreatedAt}, "F4 F3 ", 2},
		{"page", points.FlowQuery{BrandID: "B1", Offset: 2, Limit: 3}, "F6 F5 F4 ", 9},
		{"page past the end", points.FlowQuery{BrandID: "B1", Offset: 20, Limit: 3}, "", 9},
		{"type", points.FlowQuery{Type: ledger.DeductFromConsume}, "F5 ", 1},
		{"shop", points.FlowQuery{ShopID: "S2"}, "F5 ", 1},
		{"channel", points.FlowQuery{Channel: "KRY"}, "F5 ", 1},
		{"out_biz substring", points.FlowQuery{OutBizLike: "der-"}, "F9 F8 F7 F4 F3 F2 F1 F0 ", 8},
		{"percent is literal", points.FlowQuery{OutBizLike: "0%"}, "F5 ", 1},
		{"underscore is literal", points.FlowQuery{OutBizLike: "0_"}, "F6 ", 1},
		{"both", points.FlowQuery{OutBizLike: "%_"}, "F5 ", 1},
		{"underscore does not match any character", points.FlowQuery{OutBizLike: "r_1"}, "", 0},
		{"start and end inclusive", points.FlowQuery{Start: flows[1].CreatedAt, End: flows[3].CreatedAt}, "F4 F3 F2 F1 ", 4},
		{"start with nanoseconds", points.FlowQuery{Start: flows[1].CreatedAt.Add(time.Nanosecond), End: flows[2].CreatedAt}, "F2 ", 1},
		{"end with nanoseconds", points.FlowQuery{Start: flows[1].CreatedAt, End: flows[1].CreatedAt.Add(999 * time.Nanosecond)}, "F1 ", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := s.Flows(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tc.want || total != tc.total {
				t.Errorf("Flows = %q, total %d; want %q, total %d", ids(got), total, tc.want, tc.total)
			}
		})
	}
	got, _, err := s.Flows(ctx, points.FlowQuery{CustomerID: "C2", Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("Flows: %v", err)
	}
	if want := flows[9]; !got[0].CreatedAt.Equal(want.CreatedAt) || got[0].CreatedAt.UnixMicro() != want.CreatedAt.UnixMicro() {
		t.Errorf("CreatedAt = %v, want %v", got[0].CreatedAt, want.CreatedAt)
	}
}
