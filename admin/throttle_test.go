package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestThrottle_PerClientFailuresOnly(t *testing.T) {
	th := NewThrottle(time.Hour, 3)
	for range 3 {
		if th.Blocked("192.0.2.1:1000") {
			t.Fatal("blocked before its failures were used up")
		}
		th.Failed("192.0.2.1:1000")
	}
	if !th.Blocked("192.0.2.1:2000") { // another connection, same client
		t.Fatal("not blocked after 3 failures")
	}
	if th.Blocked("192.0.2.2:1000") {
		t.Fatal("one client's failures blocked another")
	}
}

func TestThrottle_BoundedMemory(t *testing.T) {
	th := NewThrottle(time.Hour, 3)
	for i := range maxThrottled + 10 {
		th.Failed(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
	}
	if n := len(th.clients); n > maxThrottled {
		t.Fatalf("%d addresses remembered, more than %d", n, maxThrottled)
	}
}

// The API refuses a client that keeps presenting wrong tokens — even with
// the right one then, or guessing could go on and see which answer differs
// — and serves other clients.
func TestAPI_WrongTokensThrottled(t *testing.T) {
	e := newAPIEnv(t)
	api := New(e.Admin(), token, nil)
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
