package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_Pprof: --pprof-addr serves Go's profiler on its own listener,
// and the gateway's address does not.
func TestServe_Pprof(t *testing.T) {
	srv := startChild(t, filepath.Join(t.TempDir(), "jifen.db"), "--pprof-addr", "127.0.0.1:0")
	defer srv.stop()
	var addr string
	for _, line := range strings.Split(srv.logs.String(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "profiler serving" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no \"profiler serving\" line in the log:\n%s", srv.logs)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(addr + "cmdline"); code != http.StatusOK || !strings.Contains(body, "--pprof-addr") {
		t.Errorf("GET %scmdline: %d %q", addr, code, body)
	}
	if code, _ := get(srv.url + "/debug/pprof/cmdline"); code != http.StatusNotFound {
		t.Errorf("the gateway's address serves the profiler: %d", code)
	}
}
