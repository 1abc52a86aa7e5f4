package main

import (
	"net/http"
	"testing"
	"time"
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
