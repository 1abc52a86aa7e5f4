package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"jifen/top"
)

// A connection a client opened but has not used yet must live as long as
// a used one left idle: clients keep both in one pool, and a request sent
// on a connection the server has just closed meets a reset.
func TestHTTPServer_UnusedConnectionsLiveAsLongAsIdleOnes(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler())
	if srv.IdleTimeout < 90*time.Second {
		t.Errorf("IdleTimeout %v: shorter than Go clients keep idle connections (90 s)", srv.IdleTimeout)
	}
	if srv.ReadHeaderTimeout < srv.IdleTimeout {
		t.Errorf("ReadHeaderTimeout %v < IdleTimeout %v: a connection not used yet is closed before an idle one",
			srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
}

// TestServe_TimestampWindow: --timestamp-window widens the skew a
// request's timestamp may have; the default refuses it (code 31).
func TestServe_TimestampWindow(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jifen.db")
	app, secret := provision(t, db, 1, 100)
	skewed := func(srv *child) *top.Response {
		c := srv.client(app, secret)
		c.Now = func() time.Time { return time.Now().Add(-25 * time.Minute) }
		resp, err := c.Call(context.Background(), top.MethodCal, map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	srv := startChild(t, db)
	if resp := skewed(srv); resp.Err == nil || resp.Err.Code != top.CodeInvalidTimestamp {
		t.Errorf("25 minutes behind, default window: %s", resp.Body)
	}
	srv.stop()
	srv = startChild(t, db, "--timestamp-window", "30m")
	defer srv.stop()
	if resp := skewed(srv); resp.Err != nil && resp.Err.Code == top.CodeInvalidTimestamp {
		t.Errorf("25 minutes behind, 30-minute window: %s", resp.Body)
	}
}
