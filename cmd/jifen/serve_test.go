package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	// Past the gateway's checks, the method itself answers (here: its
	// object parameter is missing, code 40).
	if resp := skewed(srv); resp.Err == nil || resp.Err.Code != 40 {
		t.Errorf("25 minutes behind, 30-minute window: %s, want the method's own answer (40)", resp.Body)
	}
}

// TestServe_TrustedProxy: behind a proxy named by --trusted-proxy, wrong
// admin tokens hold back only the client X-Forwarded-For names, on the API
// and the sandbox alike (one allowance).
func TestServe_TrustedProxy(t *testing.T) {
	const tok = "trusted-proxy-test-token-0123"
	srv := startChild(t, filepath.Join(t.TempDir(), "jifen.db"), "--trusted-proxy", "127.0.0.0/8",
		"--admin-token", tok, "--sandbox")
	defer srv.stop()
	call := func(path, client, bearer string) int {
		req, err := http.NewRequest(http.MethodGet, srv.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 5 {
		call("/admin/v1/brands", "198.51.100.7", "guess")
		call("/sandbox/clock", "198.51.100.7", "guess")
	}
	if got := call("/admin/v1/brands", "198.51.100.7", tok); got != http.StatusTooManyRequests {
		t.Errorf("the guessing client: %d, want 429", got)
	}
	if got := call("/admin/v1/brands", "198.51.100.8", tok); got != http.StatusOK {
		t.Errorf("another client behind the proxy: %d, want 200", got)
	}
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"serve", "--trusted-proxy", "not-an-address"}, &out, &errb); err == nil ||
		!strings.Contains(errb.String(), "trusted-proxy") {
		t.Errorf("a bad --trusted-proxy: %v %s", err, errb.String())
	}
	err := run(context.Background(), []string{"serve", "--db", filepath.Join(t.TempDir(), "x.db"), "--admin-token", "short"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("a 5-character admin token: %v", err)
	}
}

// TestServe_NoTokenNotCounted: requests without an admin token — to the
// API, the sandbox and the console's sign-in, which share one allowance —
// are 401 and hold no one back: the right token is served after them.
func TestServe_NoTokenNotCounted(t *testing.T) {
	s := startServer(t)
	do := func(method, path, contentType, body string) int {
		req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 10 {
		for _, r := range []struct{ method, path, ctype, body string }{
			{"GET", "/admin/v1/brands", "", ""},
			{"POST", "/sandbox/clock", "", `{"advance":"1h"}`},
			{"POST", "/console/login", "application/x-www-form-urlencoded", "token=&operator=x"},
		} {
			if got := do(r.method, r.path, r.ctype, r.body); got != http.StatusUnauthorized {
				t.Fatalf("%s %s without a token: %d, want 401", r.method, r.path, got)
			}
		}
	}
	req, _ := http.NewRequest("GET", s.url+"/admin/v1/brands", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the right token after 30 requests without one: %d, want 200", resp.StatusCode)
	}
}

// TestServe_SlowBodyCutOff: a body that trickles in is cut off once
// --body-timeout has passed since its headers, on every route that reads
// a body — the gateway, the admin API and the console — and its
// connection closed, so its memory is freed; nothing it carried is done.
func TestServe_SlowBodyCutOff(t *testing.T) {
	const tok = "slow-body-test-token-0123"
	const bound = time.Second
	srv := startChild(t, filepath.Join(t.TempDir(), "jifen.db"), "--admin-token", tok, "--body-timeout", bound.String())
	defer srv.stop()
	tests := []struct {
		name, path, contentType, auth, body string
		status                              int
		want                                string
	}{
		{"gateway", "/router/rest", "application/x-www-form-urlencoded", "", "format=json&x=",
			http.StatusOK, `"code":43,"msg":"parameter error","sub_msg":"request body not received in time"`},
		{"admin API", "/admin/v1/tenant", "application/yaml", "Bearer " + tok, "apps:\n  - {app_key: slow-pos, name: \"",
			http.StatusRequestTimeout, `"code":"REQUEST_TIMEOUT"`},
		{"console", "/console/login", "application/x-www-form-urlencoded", "", "operator=x&token=" + tok + "&next=",
			http.StatusRequestTimeout, "表单没有及时送达"}, // the console says it in Chinese
	}
	t.Run("routes", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				status, body, took := trickle(t, srv.url, tt.path, tt.contentType, tt.auth, tt.body)
				if took < bound || took > bound+6*time.Second {
					t.Errorf("answered and closed after %s, want soon after %s", took.Round(time.Millisecond), bound)
				}
				if status != tt.status || !strings.Contains(body, tt.want) {
					t.Errorf("answer %d %s, want %d with %s", status, body, tt.status, tt.want)
				}
			})
		}
	})
	t.Run("nothing applied", func(t *testing.T) {
		// The tenant body never arrived whole.
		req, err := http.NewRequest(http.MethodGet, srv.url+"/admin/v1/apps", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || strings.Contains(string(b), "slow-pos") {
			t.Errorf("apps: %d %s %v, want no slow-pos", resp.StatusCode, b, err)
		}
	})
	var out, errb strings.Builder
	err := run(context.Background(), []string{"serve", "--db", filepath.Join(t.TempDir(), "x.db"), "--body-timeout", "0s"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--body-timeout") {
		t.Errorf("--body-timeout 0s: %v", err)
	}
}

// trickle posts to base+path a body declared 8 KiB long (the console's
// sign-in takes no more): its first part at once, then a byte every 50 ms
// (the rest would take a minute). It
// returns the server's answer and how long after the headers the server
// had answered and closed the connection; it gives up after 10 s.
func trickle(t *testing.T, base, path, contentType, auth, first string) (int, string, time.Duration) {
	t.Helper()
	const declared = 8 << 10
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: " + contentType +
		"\r\nContent-Length: " + strconv.Itoa(declared) + "\r\n"
	if auth != "" {
		head += "Authorization: " + auth + "\r\n"
	}
	first += strings.Repeat("a", declared-1200-len(first))
	start := time.Now()
	if _, err := io.WriteString(conn, head+"\r\n"+first); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for range 1200 {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(start.Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within 10 s of a trickling body: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if _, err := br.ReadByte(); err == nil || os.IsTimeout(err) {
		t.Fatalf("the connection was still open %s after the headers (%v)", time.Since(start).Round(time.Millisecond), err)
	}
	return resp.StatusCode, string(b), time.Since(start)
}

// TestServe_WarnsWithoutAutovacuum: on a PostgreSQL that vacuums by
// itself (initdb's default) serve says nothing of it; with autovacuum
// turned off it warns at start that the database will only grow, naming
// the event retention.
func TestServe_WarnsWithoutAutovacuum(t *testing.T) {
	c := newPGCluster(t)
	p := c.node("primary")
	p.initPrimary()
	c.exec(p, "CREATE DATABASE jifen")
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/jifen?sslmode=disable", p.port)
	const warning = "autovacuum is off"
	srv := startChild(t, dsn, "--event-retention", "720h")
	if strings.Contains(srv.logs.String(), warning) {
		t.Fatalf("warned with autovacuum on:\n%s", srv.logs)
	}
	srv.stop()
	c.exec(p, "ALTER SYSTEM SET autovacuum = off")
	c.exec(p, "SELECT pg_reload_conf()")
	srv = startChild(t, dsn, "--event-retention", "720h")
	var warned struct {
		Level          string
		EventRetention string `json:"event_retention"`
	}
	for line := range strings.SplitSeq(srv.logs.String(), "\n") {
		if strings.Contains(line, warning) {
			if err := json.Unmarshal([]byte(line), &warned); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
		}
	}
	if warned.Level != "WARN" || warned.EventRetention != "720h0m0s" {
		t.Fatalf("no warning of autovacuum off, with the retention (got %+v):\n%s", warned, srv.logs)
	}
}
