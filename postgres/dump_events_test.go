package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
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

// TestPlaceAll_UnderWrites: placing what is committed ends while writes
// go on (an export or a removal of old events starts with it).
func TestPlaceAll_UnderWrites(t *testing.T) {
	s := OpenTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				// A hundred events a write: more than placing keeps up with.
				evs := make([]points.Event, 100)
				for j := range evs {
					id := fmt.Sprintf("w%d-%d-%d", w, i, j)
					evs[j] = points.Event{ID: id, BrandID: "B1", Type: points.EventCustomerCreated, Subject: id,
						Time: time.Now().UTC().Truncate(time.Microsecond), Data: json.RawMessage(`{}`)}
				}
				err := s.Write(ctx, func(tx points.Tx) error { return tx.Emit(ctx, evs...) })
				if err == nil {
					n.Add(1)
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	for n.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- s.placeAll(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("placing did not end within 5 s of writes (%d events written)", n.Load())
	}
}
