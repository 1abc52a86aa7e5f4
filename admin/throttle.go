package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle slows token guessing: each client may present a wrong admin
// token burst times, then once per every; meanwhile it is refused whatever
// token it sends (were a right token let through, guessing at full speed
// would show which guess differs). Only wrong tokens count — a request
// with none is no guess (Check) — and each client has its own allowance,
// so one client's guessing locks out no one else. A
// client is its address — an IPv6 client its /64, which one host can
// easily hold whole — or, for a request through a trusted proxy, the
// address the proxies name in X-Forwarded-For. One Throttle serves every
// place the token is checked, so the allowance is one.
type Throttle struct {
	every   time.Duration
	burst   int
	trusted []netip.Prefix

	mu        sync.Mutex
	clients   map[netip.Prefix]*attempts
	lastSweep time.Time
}

// attempts is one client's allowance and its attempts under way.
type attempts struct {
	lim     *rate.Limiter
	pending int
}

// maxThrottled bounds the clients remembered. When it is reached, those
// whose allowance has grown back whole are forgotten (at most once a
// second); a client held back is never forgotten, and while the map stays
// full, new clients share one allowance (the overflow key).
const maxThrottled = 100_000

// overflow is the key new clients share while the map is full.
var overflow = netip.Prefix{}

// NewThrottle allows burst wrong tokens per client, then one per every.
// Requests from an address in trusted (reverse proxies) are attributed to
// the client their X-Forwarded-For names.
func NewThrottle(every time.Duration, burst int, trusted ...netip.Prefix) *Throttle {
	return &Throttle{every: every, burst: burst, trusted: trusted, clients: map[netip.Prefix]*attempts{}}
}

// Begin starts checking r's token. When allowed is false the request must
// be refused (429) without looking at its token; otherwise done must be
// called with whether the token was right. Attempts under way count
// against the allowance, so a burst of concurrent guesses gets no more
// than burst through.
func (t *Throttle) Begin(r *http.Request) (done func(right bool), allowed bool) {
	key := t.client(r)
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.clients[key]
	if !ok && len(t.clients) >= maxThrottled {
		t.forgetWhole()
		if len(t.clients) >= maxThrottled {
			key = overflow
			a, ok = t.clients[key]
		}
	}
	if !ok {
		a = &attempts{lim: rate.NewLimiter(rate.Every(t.every), t.burst)}
		t.clients[key] = a
	}
	if a.lim.Tokens()-float64(a.pending) < 1 {
		return nil, false
	}
	a.pending++
	return func(right bool) {
		t.mu.Lock()
		defer t.mu.Unlock()
		a.pending--
		if !right {
			a.lim.Allow()
		}
	}, true
}

// Check compares the token got, presented by r, with want (TokenMatches)
// under the throttle: allowed is false when r's client is held back, and
// then the token was not looked at; otherwise right says whether it
// matched, and a wrong one is counted.
//
// No token at all (got == "": no Authorization bearer token, an empty
// sign-in form) is not a guess: it is wrong without being counted, and is
// answered so (401) even while the client is held back. An empty token
// never matches (TokenMatches; the configured one is never empty), so its
// answer tells a guesser nothing, while counting it let a browser or a
// monitor that calls without credentials lock its own operators out.
func (t *Throttle) Check(r *http.Request, got, want string) (right, allowed bool) {
	if got == "" {
		return false, true
	}
	done, allowed := t.Begin(r)
	if !allowed {
		return false, false
	}
	right = TokenMatches(got, want)
	done(right)
	return right, true
}

// forgetWhole drops the clients whose allowance has grown back whole and
// who have nothing under way — at most once a second, since it looks at
// every client.
func (t *Throttle) forgetWhole() {
	now := time.Now()
	if now.Sub(t.lastSweep) < time.Second {
		return
	}
	t.lastSweep = now
	for k, a := range t.clients {
		if a.pending == 0 && a.lim.TokensAt(now) >= float64(t.burst) {
			delete(t.clients, k)
		}
	}
}

// client is who sent r: its address, or through trusted proxies the
// rightmost X-Forwarded-For address that is not a trusted proxy; an IPv4
// address as itself, an IPv6 one as its /64.
func (t *Throttle) client(r *http.Request) netip.Prefix {
	addr := t.addr(r)
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // no address at all: one shared client
	}
	return p
}

// ClientAddr is the address of who sent r, as client reads it (through
// trusted proxies); "" if r has none. The audit log records it.
func (t *Throttle) ClientAddr(r *http.Request) string {
	if a := t.addr(r); a.IsValid() {
		return a.String()
	}
	return ""
}

// addr is the client's address: r's, or through trusted proxies the
// rightmost X-Forwarded-For address that is not a trusted proxy.
func (t *Throttle) addr(r *http.Request) netip.Addr {
	addr := parseAddr(r.RemoteAddr)
	if t.isTrusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop := parseAddr(strings.TrimSpace(hops[i]))
			if !hop.IsValid() {
				break
			}
			addr = hop
			if !t.isTrusted(hop) {
				break
			}
		}
	}
	return addr.Unmap()
}

func (t *Throttle) isTrusted(a netip.Addr) bool {
	for _, p := range t.trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// parseAddr reads "host:port", "[v6]" or a bare address; the zero Addr
// if none.
func parseAddr(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	} else {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a
}
