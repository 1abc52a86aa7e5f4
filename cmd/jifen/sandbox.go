package main

import (
	"encoding/json"
	"net/http"
	"time"

	"jifen/admin"
	"jifen/points"
)

// sandboxHandler serves /sandbox/clock: GET reads the ledger's clock, POST
// {"advance":"720h"} moves it forward. Both need the admin bearer token.
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
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		reply(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		right, allowed := th.Check(r, admin.Bearer(r), token)
		if !allowed {
			w.Header().Set("Retry-After", "1")
			fail(w, http.StatusTooManyRequests, "too_many_failures", "too many wrong admin tokens from this client; retry later")
			return
		}
		if !right {
			fail(w, http.StatusUnauthorized, "unauthorized", "a valid admin bearer token is required")
			return
		}
		now := clock.Now()
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			var req struct {
				Advance string `json:"advance"`
			}
			// Strictly, as the admin API reads bodies: a second object or
			// a second "advance" is refused, not dropped.
			if err := admin.DecodeJSON(http.MaxBytesReader(w, r.Body, 4096), &req); err != nil {
				fail(w, http.StatusBadRequest, "invalid_body", "body must be one JSON object like {\"advance\":\"720h\"}: "+err.Error())
				return
			}
			d, err := time.ParseDuration(req.Advance)
			if err != nil || d <= 0 {
				fail(w, http.StatusBadRequest, "invalid_advance", "advance must be a positive duration such as 720h")
				return
			}
			now = clock.Advance(d)
		default:
			w.Header().Set("Allow", "GET, POST")
			fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or POST")
			return
		}
		reply(w, http.StatusOK, answer{Now: now.Format(time.RFC3339), Offset: clock.Offset().String()})
	})
}
