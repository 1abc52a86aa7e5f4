package points

import (
	"testing"
	"time"

	"jifen/ledger"
)

// steppedWall is a wall clock a test sets, as NTP might step it.
type steppedWall struct{ now time.Time }

func (w *steppedWall) read() time.Time { return w.now }

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := ledger.AsError(err)
	if !ok || e.Kind != ledger.KindInvalid || e.Field != field {
		t.Fatalf("got %v, want invalid parameter %s", err, field)
	}
}

// TestSandboxClock_WallSteppedBack: the sandbox clock never answers an
// earlier time than it has, even when the wall clock is set back.
func TestSandboxClock_WallSteppedBack(t *testing.T) {
	w := &steppedWall{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	c := &SandboxClock{wall: w.read}
	t1, err := c.Advance(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(-time.Hour)
	if t2 := c.Now(); t2.Before(t1) {
		t.Fatalf("wall clock set back an hour: the sandbox went from %v to %v", t1, t2)
	}
	w.now = w.now.Add(2 * time.Hour)
	if t3 := c.Now(); !t3.Equal(t1.Add(time.Hour)) {
		t.Fatalf("once the wall clock is past where it was: %v, want %v", t3, t1.Add(time.Hour))
	}
}

// TestSandboxClock_Bounds: Advance refuses what is not positive, what
// would overflow the offset and what would pass year 9999, naming advance
// and leaving the clock where it was.
func TestSandboxClock_Bounds(t *testing.T) {
	w := &steppedWall{now: time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC)}
	c := &SandboxClock{wall: w.read}
	for _, d := range []time.Duration{0, -time.Hour, 48 * time.Hour} {
		_, err := c.Advance(d)
		wantInvalid(t, err, "advance")
	}
	if _, err := c.Advance(47 * time.Hour); err != nil {
		t.Fatalf("to the last hour of 9999: %v", err)
	}
	w.now = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c = &SandboxClock{wall: w.read}
	if _, err := c.Advance(maxSandboxOffset - time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err := c.Advance(2 * time.Hour)
	wantInvalid(t, err, "advance")
	if c.Offset() != maxSandboxOffset-time.Hour {
		t.Fatalf("offset %v after a refused advance, want %v", c.Offset(), maxSandboxOffset-time.Hour)
	}
	if _, err := c.Advance(time.Hour); err != nil {
		t.Fatalf("up to the largest offset: %v", err)
	}
}
