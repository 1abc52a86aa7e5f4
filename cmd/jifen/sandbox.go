package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"jifen/admin"
	"jifen/ledger"
	"jifen/points"
)

// sandboxHandler serves /sandbox/clock: GET reads the ledger's clock, POST
// {"advance":"720h"} moves it forward. Both need the admin bearer token.
// Errors have the admin API's shape and codes ({"error": {"code": …}},
// bad input 400 INVALID_PARAMETER naming the field), so a client of one
// reads the other.
func sandboxHandler(clock *points.SandboxClock, token string, th *admin.Throttle) http.Handler {
	type answer struct {
		Now    string `json:"now"`
		Offset string `json:"offset"`
	}
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, p admin.Problem) {
		reply(w, p.Status, map[string]admin.Problem{"error": p})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		right, allowed := th.Check(r, admin.Bearer(r), token)
		if !allowed {
			w.Header().Set("Retry-After", "1")
			fail(w, admin.Problem{Status: http.StatusTooManyRequests, Code: "TOO_MANY_FAILURES",
				Message: "too many requests with a wrong admin token from this client; retry later"})
			return
		}
		if !right {
			w.Header().Set("WWW-Authenticate", `Bearer realm="jifen admin"`)
			fail(w, admin.Problem{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED",
				Message: "a valid admin bearer token is required (Authorization: Bearer …)"})
			return
		}
		var now time.Time
		switch r.Method {
		case http.MethodGet:
			now = clock.Now()
		case http.MethodPost:
			var err error
			if now, err = advance(w, r, clock); err != nil {
				// Every error of advance is bad input; the request id only
				// matters for internal errors, which it cannot return.
				fail(w, admin.ProblemOf(err, ""))
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			fail(w, admin.Problem{Status: http.StatusMethodNotAllowed, Code: "METHOD_NOT_ALLOWED", Message: "use GET or POST"})
			return
		}
		reply(w, http.StatusOK, answer{Now: now.Format(time.RFC3339), Offset: clock.Offset().String()})
	})
}

// advance reads {"advance":"720h"} and moves the clock by it.
func advance(w http.ResponseWriter, r *http.Request, clock *points.SandboxClock) (time.Time, error) {
	var req struct {
		Advance *string `json:"advance"`
	}
	// Strictly, as the admin API reads bodies: a second object or a
	// second "advance" is refused, not dropped.
	if err := admin.DecodeJSON(http.MaxBytesReader(w, r.Body, 4096), &req); err != nil {
		return time.Time{}, err
	}
	if req.Advance == nil || strings.TrimSpace(*req.Advance) == "" {
		return time.Time{}, ledger.Invalid("advance", "is required: a positive duration such as 720h")
	}
	d, err := time.ParseDuration(strings.TrimSpace(*req.Advance))
	if err != nil {
		return time.Time{}, ledger.Invalidf("advance", "%q is not a duration such as 720h or 90m (at most 2562047h)", *req.Advance)
	}
	return clock.Advance(d)
}
