package points

import (
	"math"
	"sync"
	"time"

	"jifen/ledger"
)

// sandboxEnd is the first instant the sandbox clock may not reach: the
// start of year 10000. Later times have no four-digit year, which the
// answers' time formats (RFC 3339, TOP's 2006-01-02 15:04:05) need.
var sandboxEnd = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

// maxSandboxOffset is the furthest the sandbox clock may run ahead of the
// wall clock: the longest time.Duration (about 292 years). A larger
// offset would wrap around to a negative one and date new flows before
// older ones.
const maxSandboxOffset = time.Duration(math.MaxInt64)

// SandboxClock is the wall clock moved forward by an offset that operators
// and integrators control, so they can watch expiry and hold timeouts
// happen. It never moves backward: Advance refuses what would overflow the
// offset or pass sandboxEnd, and Now never answers earlier than it has
// before, even when the wall clock is stepped back.
type SandboxClock struct {
	mu     sync.Mutex
	offset time.Duration
	last   time.Time        // the latest time answered
	wall   func() time.Time // nil: time.Now (tests step it back)
}

// now is the clock's time, no earlier than any answered before; c.mu is
// held.
func (c *SandboxClock) now() time.Time {
	wall := time.Now
	if c.wall != nil {
		wall = c.wall
	}
	t := wall().Add(c.offset)
	if t.Before(c.last) {
		return c.last
	}
	c.last = t
	return t
}

// Now is the wall clock plus the offset, or the latest time it answered
// if the wall clock has been stepped back since.
func (c *SandboxClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

// Advance moves the clock forward by d and returns the new time. d must be
// positive, the offset may not exceed maxSandboxOffset and the clock may
// not reach sandboxEnd; otherwise the clock does not move and the error
// names the field advance.
func (c *SandboxClock) Advance(d time.Duration) (time.Time, error) {
	if d <= 0 {
		return time.Time{}, ledger.Invalidf("advance", "must be a positive duration such as 720h, got %s", d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > maxSandboxOffset-c.offset {
		return time.Time{}, ledger.Invalidf("advance",
			"%s would put the clock more than %s ahead of the wall clock (it is %s ahead now)", d, maxSandboxOffset, c.offset)
	}
	cur := c.now()
	if !cur.Add(d).Before(sandboxEnd) {
		return time.Time{}, ledger.Invalidf("advance", "%s would move the clock past year 9999 (it shows %s)",
			d, cur.UTC().Format(time.RFC3339))
	}
	c.offset += d
	return c.now(), nil
}

// Offset is how far ahead of the wall clock the sandbox is.
func (c *SandboxClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}
