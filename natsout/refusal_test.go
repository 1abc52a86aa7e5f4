package natsout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"jifen/points"
)

// noEvents is a source with no events: what failed reads of it.
type noEvents struct{}

func (noEvents) Events(context.Context, points.EventQuery) ([]points.Event, error) { return nil, nil }
func (noEvents) EventsChanged() <-chan struct{}                                    { return nil }
func (noEvents) EventHorizon(context.Context) (int64, error)                       { return 0, nil }

// TestFailed_RefusalIsAnError: a stream of another database is logged as
// an error once per outage, even when the outage began with another
// failure (logged once, as a warning); the next outage's refusal is
// logged again.
func TestFailed_RefusalIsAnError(t *testing.T) {
	var logs bytes.Buffer
	p, err := New(noEvents{}, Config{URL: "nats://127.0.0.1:4222", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	refusal := fmt.Errorf("natsout: stream S: %w: …", ErrOtherDatabase)
	errorLines := func() int { return strings.Count(logs.String(), "level=ERROR") }
	p.failed(ctx, errors.New("nats: no servers available for connection"))
	p.failed(ctx, refusal)
	p.failed(ctx, refusal)
	if n := errorLines(); n != 1 || strings.Count(logs.String(), "level=WARN") != 1 {
		t.Fatalf("an outage, then two refusals: %d errors logged, want 1 (and the outage's warning)\n%s", n, &logs)
	}
	p.resumed(0)
	p.failed(ctx, refusal)
	if n := errorLines(); n != 2 {
		t.Fatalf("a refusal in the next outage: %d errors logged in all, want 2\n%s", n, &logs)
	}
}
