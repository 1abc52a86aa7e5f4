package main

import (
	"context"
	"fmt"
)

// sizer is a store that can tell the bytes its tables and indexes take.
type sizer interface {
	Size(ctx context.Context) (int64, error)
}

// dbSize is the bench database's size in bytes.
func (c *benchCmd) dbSize(ctx context.Context) (int64, error) {
	store, err := openStore(ctx, c.db)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	s, ok := store.(sizer)
	if !ok {
		return 0, fmt.Errorf("the store %T cannot tell its size", store)
	}
	return s.Size(ctx)
}

// growth is how much the database grew over the write mix.
type growth struct {
	BytesBefore   int64   `json:"bytes_before"`
	BytesAfter    int64   `json:"bytes_after"`
	Writes        int64   `json:"writes"`
	BytesPerWrite float64 `json:"bytes_per_write"`
}

func (g growth) String() string {
	return fmt.Sprintf("%.0f bytes per durable write (%.1f MB → %.1f MB over %d writes)",
		g.BytesPerWrite, float64(g.BytesBefore)/1e6, float64(g.BytesAfter)/1e6, g.Writes)
}
