package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServe_ReadReplica: `jifen serve --read-db` over a real primary and
// streaming replica (the failover test's cluster helpers). The admin
// API's reads are served by the replica: with its replay paused, a write
// through the API succeeds (on the primary: the replica is read-only)
// and a read does not show it while the replica's lag is within
// --max-replica-lag, then does once the lag passes the bound and reads
// fall back to the primary. Replay resumed, the replica is used again;
// stopped, reads go to the primary at once. The metrics show each.
func TestServe_ReadReplica(t *testing.T) {
	c := newPGCluster(t)
	p, r := c.node("primary"), c.node("replica")
	p.initPrimary()
	c.exec(p, "CREATE DATABASE jifen")
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/jifen?sslmode=disable", p.port)
	provision(t, dsn, 2, 1000)
	r.cloneStandbyOf(p)
	replica := fmt.Sprintf("127.0.0.1:%d", r.port)
	const token = "read-replica-test-admin-token"
	const maxLag = 3 * time.Second
	srv := startChild(t, dsn, "--admin-token", token, "--max-replica-lag", maxLag.String(),
		"--read-db", fmt.Sprintf("postgres://postgres:secret@%s/jifen?sslmode=disable", replica))
	if strings.Contains(srv.logs.String(), "secret") {
		t.Errorf("the replica's password is in the log:\n%s", srv.logs)
	}

	api := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.url+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	// flows is how many flows of customer c0 the admin API lists.
	flows := func() int {
		t.Helper()
		code, out := api("GET", "/admin/v1/flows?brand_id=b1&customer_id=c0", nil)
		if code != http.StatusOK {
			t.Fatalf("GET flows: %d %v", code, out)
		}
		return int(out["total"].(float64))
	}
	// exported is how many flows of c0 the API's CSV export has (a
	// streamed read); liability is the brand's from the dashboard's totals.
	exported := func() int {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.url+"/admin/v1/flows?brand_id=b1&customer_id=c0&format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		recs, err := csv.NewReader(res.Body).ReadAll()
		if res.StatusCode != http.StatusOK || err != nil || len(recs) < 1 {
			t.Fatalf("GET flows as CSV: %d %v %q", res.StatusCode, err, recs)
		}
		return len(recs) - 1
	}
	liability := func() float64 {
		t.Helper()
		code, out := api("GET", "/admin/v1/brands/b1/totals", nil)
		if code != http.StatusOK {
			t.Fatalf("GET totals: %d %v", code, out)
		}
		return out["liability"].(float64)
	}
	adjusts := 0
	adjust := func() {
		t.Helper()
		adjusts++
		code, out := api("POST", "/admin/v1/customers/c0/adjustments",
			map[string]any{"points": 5, "reason": "测试", "request_id": fmt.Sprintf("adj-%d", adjusts)})
		if code != http.StatusCreated {
			t.Fatalf("adjustment %d: %d %v", adjusts, code, out)
		}
	}
	sel := map[string]string{"replica": replica}
	state := func() (lag, inUse float64) {
		fams := scrapeMetrics(t, srv.url)
		lag, ok := metricValue(fams, "jifen_replica_lag_seconds", sel)
		inUse, ok2 := metricValue(fams, "jifen_replica_in_use", sel)
		if !ok || !ok2 {
			t.Fatalf("no replica series for %s", replica)
		}
		return lag, inUse
	}
	waitFor := func(what string, within time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > within {
				t.Fatalf("%s: not within %s\n%s", what, within, srv.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("the replica in use", 10*time.Second, func() bool { _, in := state(); return in == 1 })

	// A write through the API while reads go to the replica: it is on
	// the primary (the replica accepts none), and the replica follows.
	adjust()
	waitFor("the replica to show the adjustment", 5*time.Second, func() bool { return flows() == 2 })

	// Replay paused, the next write is on the primary only: the API's read
	// does not show it while the replica is within the bound.
	conn := r.connect()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	owed := liability()
	adjust()
	if n := flows(); n != 2 {
		t.Fatalf("with replay paused and within the bound, the read shows %d flows, want 2 (the replica's)", n)
	}
	// The export and the dashboard's totals are the replica's too.
	if n, l := exported(), liability(); n != 2 || l != owed {
		t.Fatalf("with replay paused and within the bound, the export has %d flows and the totals a liability of %v; want 2 and %v (the replica's)", n, l, owed)
	}
	// Once the lag passes the bound, reads fall back to the primary.
	took := waitFor("the read to fall back to the primary", maxLag+5*time.Second, func() bool { return flows() == 3 })
	if n, l := exported(), liability(); n != 3 || l != owed+5 {
		t.Errorf("fallen back to the primary, the export has %d flows and the totals a liability of %v; want 3 and %v", n, l, owed+5)
	}
	t.Logf("the read fell back to the primary %s after the write", took.Round(time.Millisecond))
	if lag, in := state(); in != 0 || !(lag > maxLag.Seconds()) {
		t.Errorf("after the fallback: lag %v s, in use %v; want beyond %s, 0", lag, in, maxLag)
	}

	// Resumed, it catches up and is used again: a write with replay paused
	// again is not shown.
	if _, err := conn.Exec(context.Background(), "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	waitFor("the replica in use again", 10*time.Second, func() bool { lag, in := state(); return in == 1 && lag == 0 })
	adjust()
	waitFor("the replica to show the adjustment", 5*time.Second, func() bool { return flows() == 4 })
	if _, err := conn.Exec(context.Background(), "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	adjust()
	if n := flows(); n != 4 {
		t.Fatalf("with replay paused again, the read shows %d flows, want 4 (the replica's)", n)
	}

	// Stopped, the replica is skipped at once: the read runs on the primary.
	conn.Close(context.Background())
	r.stopImmediately()
	if n := flows(); n != 5 {
		t.Errorf("with the replica down, the read shows %d flows, want 5 (the primary's)", n)
	}
	waitFor("the metrics to show the replica down", 10*time.Second, func() bool {
		lag, in := state()
		return in == 0 && math.IsNaN(lag)
	})
	srv.stop()
}

// TestServe_ReadDBFlags: --read-db is PostgreSQL's, and refused by name
// otherwise, before anything is opened.
func TestServe_ReadDBFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", t.TempDir() + "/j.db", "--read-db", "postgres://nobody@127.0.0.1:1/none"}, "--read-db needs a PostgreSQL --db"},
		{[]string{"--db", "postgres://nobody@127.0.0.1:1/none", "--read-db", "/tmp/replica.db"}, "read-db"},
		{[]string{"--db", "postgres://nobody@127.0.0.1:1/none", "--read-db", "postgres://nobody@127.0.0.1:1/r",
			"--max-replica-lag", "0s"}, "--max-replica-lag must be positive"},
	} {
		var out, errb strings.Builder
		err := run(context.Background(), append([]string{"serve"}, tt.args...), &out, &errb)
		if err == nil || !strings.Contains(err.Error()+errb.String(), tt.want) {
			t.Errorf("serve %v: %v %s, want %q", tt.args, err, errb.String(), tt.want)
		}
	}
}
