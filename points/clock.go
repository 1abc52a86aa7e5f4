package points

import (
	"sync"
	"time"
)

// SandboxClock is the wall clock moved forward by an offset that operators
// and integrators control, so they can watch expiry and hold timeouts
// happen. It never moves backward.
type SandboxClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the wall clock plus the offset.
func (c *SandboxClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d (d must not be negative) and
// returns the new time.
func (c *SandboxClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	if d > 0 {
		c.offset += d
	}
	off := c.offset
	c.mu.Unlock()
	return time.Now().Add(off)
}

// Offset is how far ahead of the wall clock the sandbox is.
func (c *SandboxClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}
