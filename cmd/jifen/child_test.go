package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
	"jifen/postgres"
	"jifen/storetest"
	"jifen/top"
)

// TestMain lets the test binary act as the jifen command, so that tests can
// run real servers in child processes, kill them with SIGKILL and start
// them again, as an operator's process manager would.
func TestMain(m *testing.M) {
	if os.Getenv("JIFEN_TEST_AS_JIFEN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is `jifen serve` running in another process.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string // base URL
	logs *storetest.LockedBuffer
	done chan error
}

// startChild runs `jifen serve --db db` on a free port and waits until it
// listens.
func startChild(t *testing.T, db string, extra ...string) *child {
	t.Helper()
	args := append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--log-format", "json"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "JIFEN_TEST_AS_JIFEN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, logs: &storetest.LockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = c.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			c.logs.Write(append(line, '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "jifen serving" {
				addr <- rec.Addr
			}
		}
		io.Copy(io.Discard, stderr)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-c.done
		}
	})
	select {
	case c.url = <-addr:
		return c
	case err := <-c.done:
		t.Fatalf("jifen serve exited before listening: %v\n%s", err, c.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("jifen serve did not listen within a minute\n%s", c.logs)
	}
	return nil
}

// kill ends the server with SIGKILL: no chance to finish anything. Like
// stop, it may be called from a goroutine other than the test's, so it
// reports with Error, never Fatal.
func (c *child) kill() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Errorf("SIGKILL: %v", err)
		return
	}
	<-c.done
}

// stop ends the server with SIGTERM and expects a clean exit.
func (c *child) stop() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Errorf("SIGTERM: %v", err)
		return
	}
	select {
	case err := <-c.done:
		if err != nil {
			c.t.Errorf("jifen serve after SIGTERM: %v\n%s", err, c.logs)
		}
	case <-time.After(60 * time.Second):
		c.t.Errorf("jifen serve did not exit within a minute of SIGTERM\n%s", c.logs)
		c.cmd.Process.Kill()
		<-c.done
	}
}

func (c *child) client(app, secret string) *top.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c.t.Cleanup(tr.CloseIdleConnections)
	return &top.Client{URL: c.url + "/router/rest", AppKey: app, Secret: secret,
		HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// storeKinds are the stores multi-process tests run on: an SQLite file
// always, PostgreSQL where reachable (required in CI).
var storeKinds = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return t.TempDir() + "/jifen.db" },
	"postgres": func(t *testing.T) string { return postgres.TestDSN(t) },
}

// provision creates a tenant for a multi-process test in db: one app, one
// brand with a shop, n customers each holding `each` points.
func provision(t *testing.T, db string, n int, each int64) (app, secret string) {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := points.New(store, nil, nil)
	tn := points.Tenant{
		Apps: []ledger.App{{Key: "pos", Name: "测试 POS", Active: true, Channels: []string{"KRY"}, Brands: []string{"b1"}}},
		Brands: []points.TenantBrand{{Brand: ledger.Brand{ID: "b1", Name: "测试品牌", TimeZone: "Asia/Shanghai",
			OutIDs: map[string]string{"KRY": "kry-b1"}, Settings: ledger.DefaultSettings()},
			Shops: []ledger.Shop{{ID: "b1-s1", Name: "一号店", OutIDs: map[string]string{"KRY": "kry-s1"}}}}},
	}
	for i := range n {
		tn.Customers = append(tn.Customers, ledger.Customer{ID: fmt.Sprintf("c%d", i), BrandID: "b1", LevelID: "L1"})
	}
	rep, err := svc.Apply(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	a, err := store.App(ctx, "pos")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		_, err := svc.ExtraCharge(ctx, points.Caller{App: a}, points.OrderRequest{
			Target:     points.Target{BrandID: "b1", ShopID: "b1-s1", Channel: "KRY"},
			CustomerID: fmt.Sprintf("c%d", i), Points: each, OutBizID: fmt.Sprintf("seed-%d", i),
			OperatorID: "test", RequestID: fmt.Sprintf("seed-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
	}
	return "pos", rep.Secrets["pos"]
}
