package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func from(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

// fail makes one attempt with a wrong token; false if it was refused.
func fail(th *Throttle, r *http.Request) bool {
	done, ok := th.Begin(r)
	if ok {
		done(false)
	}
	return ok
}

func TestThrottle_PerClientFailuresOnly(t *testing.T) {
	th := NewThrottle(time.Hour, 3)
	for range 50 {
		done, ok := th.Begin(from("192.0.2.1:1000"))
		if !ok {
			t.Fatal("right tokens were counted")
		}
		done(true)
	}
	for i := range 3 {
		if !fail(th, from("192.0.2.1:1000")) {
			t.Fatalf("refused after %d wrong tokens, allowance 3", i)
		}
	}
	if _, ok := th.Begin(from("192.0.2.1:2000")); ok { // another connection, same client
		t.Fatal("let through after 3 wrong tokens")
	}
	if _, ok := th.Begin(from("192.0.2.2:1000")); !ok {
		t.Fatal("one client's failures held back another")
	}
	// An IPv6 client is its /64: rotating addresses within it gains nothing.
	for i := range 3 {
		fail(th, from(fmt.Sprintf("[2001:db8:1:2::%x]:1", i+1)))
	}
	if _, ok := th.Begin(from("[2001:db8:1:2::ffff]:1")); ok {
		t.Fatal("a new address in the same /64 got a new allowance")
	}
	if _, ok := th.Begin(from("[2001:db8:1:3::1]:1")); !ok {
		t.Fatal("another /64 was held back")
	}
}

// A request without a token is no guess: however many come, they are
// answered as wrong (401) and the client's allowance stays whole — even
// while the client is held back for wrong tokens.
func TestThrottle_NoTokenIsNoGuess(t *testing.T) {
	th := NewThrottle(time.Hour, 3)
	r := from("192.0.2.1:1000")
	for range 50 {
		if right, allowed := th.Check(r, "", token); right || !allowed {
			t.Fatalf("no token: right %v, allowed %v; want wrong and answered", right, allowed)
		}
	}
	for i := range 3 {
		if _, allowed := th.Check(r, "guess", token); !allowed {
			t.Fatalf("refused after %d wrong tokens and 50 without one, allowance 3", i)
		}
	}
	if _, allowed := th.Check(r, token, token); allowed {
		t.Fatal("let through after 3 wrong tokens")
	}
	if right, allowed := th.Check(r, "", token); right || !allowed {
		t.Fatalf("no token from a held-back client: right %v, allowed %v; want 401, not 429", right, allowed)
	}
}

// Concurrent guesses get no more than the allowance through.
func TestThrottle_ConcurrentGuesses(t *testing.T) {
	th := NewThrottle(time.Hour, 10)
	var through atomic.Int64
	var wg sync.WaitGroup
	for range 500 {
		wg.Go(func() {
			done, ok := th.Begin(from("192.0.2.1:1"))
			if !ok {
				return
			}
			through.Add(1)
			time.Sleep(time.Millisecond) // checking the token
			done(false)
		})
	}
	wg.Wait()
	if n := through.Load(); n > 10 {
		t.Fatalf("%d wrong tokens checked, allowance 10", n)
	}
}

// Behind a trusted proxy the client is who X-Forwarded-For names: one
// guessing client does not lock out the others behind the same proxy.
func TestThrottle_TrustedProxy(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	th := NewThrottle(time.Hour, 3, proxy)
	for range 3 {
		fail(th, from("10.0.0.5:1", "198.51.100.7"))
	}
	if _, ok := th.Begin(from("10.0.0.5:2", "198.51.100.7")); ok {
		t.Fatal("the guessing client got through the proxy")
	}
	if _, ok := th.Begin(from("10.0.0.5:3", "198.51.100.8")); !ok {
		t.Fatal("another client behind the same proxy was held back")
	}
	// A client cannot pose as another by sending its own X-Forwarded-For:
	// only the hops the trusted proxies added count, from the right.
	if _, ok := th.Begin(from("10.0.0.5:4", "198.51.100.9, 198.51.100.7")); ok {
		t.Fatal("a forged X-Forwarded-For entry was believed")
	}
	// An IPv6 client the proxy writes in brackets without a port.
	for range 3 {
		fail(th, from("10.0.0.5:1", "[2001:db8:7::1]"))
	}
	if _, ok := th.Begin(from("10.0.0.5:2", "2001:db8:7::2")); ok {
		t.Fatal("a bracketed IPv6 client was not recognised")
	}
	// Without trust, the header is ignored.
	th = NewThrottle(time.Hour, 3)
	for range 3 {
		fail(th, from("10.0.0.5:1", "198.51.100.7"))
	}
	if _, ok := th.Begin(from("10.0.0.5:2", "198.51.100.8")); ok {
		t.Fatal("X-Forwarded-For from an untrusted address was believed")
	}
}

// Memory stays bounded when clients flood in, and a client held back is
// not forgotten to make room (it would get a fresh allowance).
func TestThrottle_BoundedMemory(t *testing.T) {
	th := NewThrottle(time.Hour, 3)
	for range 3 {
		fail(th, from("192.0.2.1:1"))
	}
	for i := range maxThrottled + 10 {
		fail(th, from(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)))
	}
	if n := len(th.clients); n > maxThrottled+1 { // +1: the shared overflow
		t.Fatalf("%d clients remembered, more than %d", n, maxThrottled+1)
	}
	if _, ok := th.Begin(from("192.0.2.1:2")); ok {
		t.Fatal("a client held back got a fresh allowance when the map filled up")
	}
}

// The API refuses a client that keeps presenting wrong tokens — even with
// the right one then, or guessing could go on and see which answer differs
// — and serves other clients.
func TestAPI_WrongTokensThrottled(t *testing.T) {
	e := newAPIEnv(t)
	api := New(e.Admin(), e.ops, nil, nil)
	call := func(addr, tok string) int {
		r := httptest.NewRequest(http.MethodGet, "/admin/v1/brands", nil)
		r.RemoteAddr = addr
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w.Code
	}
	for range 50 {
		if call("192.0.2.1:5000", token) != http.StatusOK {
			t.Fatal("the right token was refused: successes must not count")
		}
	}
	limited := false
	for range 30 {
		if call("192.0.2.1:5000", "guess") == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("30 wrong tokens in a row were all checked")
	}
	if got := call("192.0.2.1:5001", token); got != http.StatusTooManyRequests {
		t.Errorf("the guessing client with the right token: %d, want 429", got)
	}
	if got := call("192.0.2.9:5000", token); got != http.StatusOK {
		t.Errorf("another client: %d, want 200", got)
	}
}

// Requests without a token (no Authorization header, an empty bearer, or
// another scheme, whose credentials are never compared) are 401 and use
// up none of the client's allowance for wrong tokens.
func TestAPI_NoTokenNotCounted(t *testing.T) {
	e := newAPIEnv(t)
	api := New(e.Admin(), e.ops, nil, nil)
	call := func(auth string) int {
		r := httptest.NewRequest(http.MethodGet, "/admin/v1/brands", nil)
		r.RemoteAddr = "192.0.2.1:5000"
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w.Code
	}
	for range 20 {
		for _, auth := range []string{"", "Bearer ", "Basic dXNlcjpwYXNz"} {
			if got := call(auth); got != http.StatusUnauthorized {
				t.Fatalf("Authorization %q: %d, want 401", auth, got)
			}
		}
	}
	if got := call("Bearer " + token); got != http.StatusOK {
		t.Fatalf("the right token after 60 requests without one: %d, want 200", got)
	}
	for i := range 10 {
		if got := call("Bearer guess"); got != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401 (the allowance is 10)", i+1, got)
		}
	}
	if got := call("Bearer guess"); got != http.StatusTooManyRequests {
		t.Fatalf("the 11th wrong token: %d, want 429", got)
	}
}
