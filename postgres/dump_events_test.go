package postgres

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/points"
)

// TestDumpView_UnplacedEvents: events committed but not yet placed (no
// reader has numbered them) are dumped after the placed ones, numbered as
// placing then numbers them.
func TestDumpView_UnplacedEvents(t *testing.T) {
	s := OpenTest(t)
	ctx := t.Context()
	emit := func(ids ...string) {
		t.Helper()
		mustWrite(t, s, func(tx points.Tx) error {
			var evs []points.Event
			for _, id := range ids {
				evs = append(evs, points.Event{ID: id, BrandID: "B1", Type: points.EventCustomerCreated, Subject: id,
					Time: time.UnixMicro(1_700_000_000_000_000).UTC(), Data: json.RawMessage(`{"customer_id":"` + id + `"}`)})
			}
			return tx.Emit(ctx, evs...)
		})
	}
	emit("c1", "c2")
	emit("c3")
	if evs, err := s.Events(ctx, points.EventQuery{Limit: 10}); err != nil || len(evs) != 3 {
		t.Fatalf("placed: %d, %v", len(evs), err)
	}
	emit("c4", "c5")
	emit("c6")
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var dumped []string
	if err := (&dumpView{tx: tx}).EachEvent(ctx, func(e points.Event) error {
		dumped = append(dumped, fmt.Sprintf("%d:%s", e.Pos, e.ID))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	placed, err := s.Events(ctx, points.EventQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range placed {
		want = append(want, fmt.Sprintf("%d:%s", e.Pos, e.ID))
	}
	if fmt.Sprint(dumped) != fmt.Sprint(want) || len(want) != 6 {
		t.Fatalf("dumped %v; placed %v", dumped, want)
	}
}
