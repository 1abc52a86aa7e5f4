package sqlite

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"jifen/points"
)

// TestEvents_AnotherProcessWrites: a store that has written nothing (jifen
// events tail --db beside a running server) reads the events another
// store of the same file commits, not only those on disk when it opened.
func TestEvents_AnotherProcessWrites(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "jifen.db")
	writer, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for _, id := range []string{"c1", "c2"} {
		if err := writer.Write(ctx, func(tx points.Tx) error {
			return tx.Emit(ctx, points.Event{ID: id, BrandID: "B1", Type: points.EventCustomerCreated, Subject: id,
				Time: time.Now().UTC().Truncate(time.Microsecond), Data: json.RawMessage(`{}`)})
		}); err != nil {
			t.Fatal(err)
		}
		evs, err := reader.Events(ctx, points.EventQuery{Limit: 10})
		if err != nil || len(evs) == 0 || evs[len(evs)-1].ID != id {
			t.Fatalf("after %s was written by another store: %+v, %v", id, evs, err)
		}
		if n, err := reader.NewestEvent(ctx); err != nil || n != evs[len(evs)-1].Pos {
			t.Fatalf("newest %d, %v; want %d", n, err, evs[len(evs)-1].Pos)
		}
	}
}
