package admin

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle slows token guessing: each client address may fail to present
// the admin token burst times, then once per every. Only failures count,
// and each address has its own allowance, so one client's guessing does
// not lock anyone else out (behind a proxy that hides client addresses,
// every client shares one allowance — still failures only).
type Throttle struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// maxThrottled bounds the addresses remembered; past it, those whose
// allowance is whole again are forgotten.
const maxThrottled = 10_000

// NewThrottle allows burst failures per address, then one per every.
func NewThrottle(every time.Duration, burst int) *Throttle {
	return &Throttle{every: every, burst: burst, clients: map[string]*rate.Limiter{}}
}

// clientAddr is the host of r.RemoteAddr (the port changes per connection).
func clientAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// Blocked reports whether the client at remote (an http.Request's
// RemoteAddr) has used up its failures for now.
func (t *Throttle) Blocked(remote string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.clients[clientAddr(remote)]
	return ok && l.Tokens() < 1
}

// Failed records a failure of the client at remote.
func (t *Throttle) Failed(remote string) {
	addr := clientAddr(remote)
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.clients[addr]
	if !ok {
		if len(t.clients) >= maxThrottled {
			t.forgetWhole()
		}
		l = rate.NewLimiter(rate.Every(t.every), t.burst)
		t.clients[addr] = l
	}
	l.Allow()
}

// forgetWhole drops the addresses whose allowance has grown back whole;
// if none has, all of them (a flood of addresses must not grow the map
// without bound).
func (t *Throttle) forgetWhole() {
	for a, l := range t.clients {
		if l.Tokens() >= float64(t.burst) {
			delete(t.clients, a)
		}
	}
	if len(t.clients) >= maxThrottled {
		clear(t.clients)
	}
}
