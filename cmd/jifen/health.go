package main

import (
	"context"
	"io"
	"net/http"
	"time"

	"jifen/points"
)

// readyTimeout bounds /readyz's question to the database: a load balancer
// wants a quick no rather than a hung probe.
const readyTimeout = 2 * time.Second

// readyz answers 200 when the store can serve (the database answers and
// its migrations are current) and 503 with the reason otherwise. /healthz
// says only that the process is up.
func readyz(store points.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		s, ok := store.(interface{ Ready(context.Context) error })
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: the store cannot report readiness\n")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: "+err.Error()+"\n")
			return
		}
		io.WriteString(w, "ok\n")
	}
}
