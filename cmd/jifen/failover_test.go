package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/points"
	"jifen/top"
)

// The failover test: a PostgreSQL primary with a synchronous standby, made
// here from the machine's PostgreSQL binaries on loopback ports; two
// `jifen serve` on the multi-host DSN; order life cycles from many
// clients, each retrying what was answered "retry" under its request_id,
// every acknowledged answer recorded. The primary is stopped immediately
// at a random moment and the standby promoted (pg_ctl promote: the
// procedure of docs/scaling.md, which a failover manager automates). Then
// the old primary rejoins as the new standby (pg_rewind) and the second
// failover goes back. After each: every acknowledged write is on the new
// primary exactly once with the flow id it was answered, no request has
// two effects, every invariant holds.
//
// It needs initdb, pg_ctl, pg_basebackup and pg_rewind ($JIFEN_PG_BIN,
// else PostgreSQL's directory under /usr/lib/postgresql, else pg_config's)
// and, run as root, the postgres user to run them as. Without them it is
// skipped, or fails with JIFEN_REQUIRE_FAILOVER=1 (as in CI).
func TestFailover_PrimaryLostUnderLoad(t *testing.T) {
	c := newPGCluster(t)
	n1, n2 := c.node("n1"), c.node("n2")
	n1.initPrimary()
	c.exec(n1, "CREATE DATABASE jifen")
	n2.cloneStandbyOf(n1)
	n1.setSyncStandby(true)
	n1.waitSyncStandby()

	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/jifen?sslmode=disable&target_session_attrs=read-write",
		n1.port, n2.port)
	app, secret := provision(t, dsn, 20, 1_000_000)
	a, b := startChild(t, dsn), startChild(t, dsn)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	l := &failoverLoad{crashLoad: crashLoad{t: t, run: strconv.FormatUint(seed, 36)},
		clients: []*top.Client{a.client(app, secret), b.client(app, secret)}, servers: []*child{a, b}}

	// First failover: n1 dies, n2 is promoted.
	l.failover(t, 1, rng, n1, n2)
	if t.Failed() {
		return
	}
	l.verify(t, dsn, 1)

	// n1 rejoins as n2's synchronous standby; second failover back.
	n1.rejoinAsStandbyOf(n2)
	n2.setSyncStandby(true)
	n2.waitSyncStandby()
	l.failover(t, 2, rng, n2, n1)
	if t.Failed() {
		return
	}
	l.crashLoad.client = l.clients[0]
	l.settle(t)
	a.stop()
	b.stop()
	l.verify(t, dsn, 2)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--db", dsn}, &out, &errb); err != nil {
		t.Errorf("jifen verify: %v\n%s%s", err, out.String(), errb.String())
	}
}

// failoverDetection is how long the failover test waits, after stopping
// the primary, before it promotes the standby: a failover manager's
// detection time.
const failoverDetection = time.Second

// failoverLoad is the crash test's load, sent through several servers,
// with each request retried under its request_id until it is answered.
type failoverLoad struct {
	crashLoad
	clients []*top.Client
	servers []*child

	mu2         sync.Mutex
	acks        []time.Time   // when each acknowledgement arrived
	unavailable int           // answers "retry" (isp.service-unavailable)
	slowest     time.Duration // the longest wait for a "retry"
}

// failover runs the load, stops the primary immediately at a random
// moment, promotes the standby, keeps the load running until writes are
// accepted again for a while, and reports the figures.
func (l *failoverLoad) failover(t *testing.T, n int, rng *rand.Rand, primary, standby *pgNode) {
	t.Helper()
	l.mu2.Lock()
	l.acks, l.unavailable, l.slowest = nil, 0, 0
	l.mu2.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probes := l.probe(ctx)
	loaded := make(chan struct{})
	seed := rng.Uint64()
	go func() {
		defer close(loaded)
		l.load(ctx, 16, 20, seed)
	}()

	time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
	watch := standby.connect() // to see the promotion end
	defer watch.Close(context.Background())
	primary.stopImmediately()
	killed := time.Now() // every answer after this is the new primary's
	// A failover manager takes a while to decide that the primary is
	// gone; writes meanwhile are answered "retry".
	time.Sleep(failoverDetection)
	promoted := standby.promote(watch)
	// Writes go on until 2 s after the first accepted one.
	deadline := time.Now().Add(60 * time.Second)
	var first time.Time
	for first.IsZero() || time.Since(first) < 2*time.Second {
		if time.Now().After(deadline) {
			t.Errorf("failover %d: no write accepted within a minute of the promotion", n)
			break
		}
		time.Sleep(50 * time.Millisecond)
		l.mu2.Lock()
		for _, at := range l.acks {
			// (An answer may reach its client a moment after the stop,
			// committed before it: only the new primary's count here.)
			if at.After(promoted) && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
		l.mu2.Unlock()
	}
	cancel()
	<-loaded
	pr := <-probes

	l.mu2.Lock()
	defer l.mu2.Unlock()
	before, after := 0, 0
	for _, at := range l.acks {
		if at.Before(killed) {
			before++
		} else {
			after++
		}
	}
	t.Logf("failover %d: %d writes acknowledged before the primary was stopped, %d after; no primary for %s "+
		"(stopped to promoted, %s of it waiting to promote); first accepted write %s after the promotion; %d answers \"retry\", the slowest in %s; "+
		"/readyz failed %d times, /healthz failed %d times",
		n, before, after, promoted.Sub(killed).Round(time.Millisecond), failoverDetection, first.Sub(promoted).Round(time.Millisecond),
		l.unavailable, l.slowest.Round(time.Millisecond), pr.notReady, pr.unhealthy)
	if l.slowest > defaultDBTimeout+time.Second {
		t.Errorf("failover %d: a write waited %s for its \"retry\", beyond --db-timeout (%s)", n, l.slowest, defaultDBTimeout)
	}
	if pr.notReady == 0 {
		t.Errorf("failover %d: /readyz never failed while there was no primary", n)
	}
	if pr.unhealthy > 0 {
		t.Errorf("failover %d: /healthz failed %d times", n, pr.unhealthy)
	}
	if !pr.readyAtEnd {
		t.Errorf("failover %d: /readyz does not answer 200 once the new primary serves", n)
	}
}

// probeResult is what /healthz and /readyz answered during a failover.
type probeResult struct {
	notReady, unhealthy int
	readyAtEnd          bool
}

// probe asks every server's /healthz and /readyz every 50 ms until ctx
// ends.
func (l *failoverLoad) probe(ctx context.Context) <-chan probeResult {
	out := make(chan probeResult, 1)
	go func() {
		var r probeResult
		hc := &http.Client{Timeout: 10 * time.Second}
		get := func(url string) bool {
			resp, err := hc.Get(url)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		for ctx.Err() == nil {
			r.readyAtEnd = true
			for _, s := range l.servers {
				if !get(s.url + "/healthz") {
					r.unhealthy++
				}
				if !get(s.url + "/readyz") {
					r.notReady++
					r.readyAtEnd = false
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		out <- r
	}()
	return out
}

// load runs workers, alternating servers, until ctx ends; each finishes
// the request it is sending.
func (l *failoverLoad) load(ctx context.Context, workers, customers int, seed uint64) {
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() { l.worker(ctx, l.clients[w%len(l.clients)], customers, rng) })
	}
	wg.Wait()
}

// worker runs order life cycles, as the crash test's do, but sends each
// request again, under its request_id, until it has an answer that is not
// "retry" — as a POS does.
func (l *failoverLoad) worker(ctx context.Context, c *top.Client, customers int, rng *rand.Rand) {
	for ctx.Err() == nil {
		for _, o := range l.lifeCycle(customers, rng) {
			l.track(o)
			if !l.sendUntilAnswered(c, o) {
				return
			}
		}
	}
}

// sendUntilAnswered sends o until it is acknowledged or refused, for at
// most a minute; false if it never was.
func (l *failoverLoad) sendUntilAnswered(c *top.Client, o *op) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		start := time.Now()
		resp, err := c.Call(context.Background(), o.method, map[string]any{o.param: o.obj})
		took := time.Since(start)
		if err != nil {
			l.t.Errorf("%s %s: no answer from jifen: %v", o.method, o.requestID, err)
			return false
		}
		if resp.Err != nil {
			if resp.Err.Code != top.CodeRemoteService || resp.Err.SubCode != "isp.service-unavailable" {
				l.t.Errorf("%s %s: error_response %+v", o.method, o.requestID, resp.Err)
				return false
			}
			l.mu2.Lock()
			l.unavailable++
			l.slowest = max(l.slowest, took)
			l.mu2.Unlock()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !o.answered(l.t, resp) {
			return false
		}
		if o.state == opAcked {
			l.mu2.Lock()
			l.acks = append(l.acks, time.Now())
			l.mu2.Unlock()
		}
		return true
	}
	l.t.Errorf("%s %s: still answered \"retry\" after a minute", o.method, o.requestID)
	return false
}

// verify counts, on the primary, the acknowledged writes and those lost
// or executed twice (both must be 0), and checks every invariant.
func (l *failoverLoad) verify(t *testing.T, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	flows := map[string][]string{}
	err = store.EachAccount(ctx, func(rows points.AccountRows) error {
		for _, f := range rows.Flows {
			if f.AppKey == "pos" && f.RequestID != "" && !strings.HasPrefix(f.RequestID, "seed-") {
				flows[f.RequestID] = append(flows[f.RequestID], f.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	acked, lost, twice := 0, 0, 0
	for _, o := range l.ops {
		got := flows[o.requestID]
		delete(flows, o.requestID)
		if len(got) > 1 {
			twice++
			t.Errorf("%s %s executed %d times: flows %v", o.method, o.requestID, len(got), got)
		}
		switch o.state {
		case opAcked:
			acked++
			if len(got) == 0 || got[0] != o.result {
				lost++
				t.Errorf("%s %s answered flow %s; stored flows %v", o.method, o.requestID, o.result, got)
			}
		case opBusiness:
			if len(got) != 0 {
				t.Errorf("%s %s was refused but has flows %v", o.method, o.requestID, got)
			}
		default:
			t.Errorf("%s %s was never answered", o.method, o.requestID)
		}
	}
	for id, f := range flows {
		t.Errorf("flows %v for request_id %s that no client sent", f, id)
	}
	rep, err := points.Verify(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Errorf("verify: %s", v)
	}
	t.Logf("after failover %d: %d writes acknowledged in all, lost %d, executed twice %d; verify: %d violations",
		n, acked, lost, twice, len(rep.Violations))
}

// pgCluster is a directory of PostgreSQL servers made for one test, run as
// the postgres user when the test runs as root.
type pgCluster struct {
	t     *testing.T
	bin   string
	dir   string
	asPG  bool // run the binaries as the postgres user
	owner [2]int
	nodes []*pgNode
}

// pgNode is one server of a pgCluster.
type pgNode struct {
	c    *pgCluster
	name string
	data string
	port int
}

// pgBin finds the PostgreSQL binaries the failover test needs.
func pgBin() (string, error) {
	var dirs []string
	if d := os.Getenv("JIFEN_PG_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(found))) // the newest first
	dirs = append(dirs, found...)
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	for _, d := range dirs {
		ok := true
		for _, b := range []string{"initdb", "pg_ctl", "pg_basebackup", "pg_rewind", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, b)); err != nil {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", errors.New("no directory with initdb, pg_ctl, pg_basebackup, pg_rewind and postgres (set JIFEN_PG_BIN)")
}

func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	skip := func(msg string) {
		t.Helper()
		if os.Getenv("JIFEN_REQUIRE_FAILOVER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin, err := pgBin()
	if err != nil {
		skip("failover test: " + err.Error())
	}
	c := &pgCluster{t: t, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			skip("failover test: running as root, and there is no postgres user to run PostgreSQL as")
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			skip("failover test: running as root without runuser to run PostgreSQL as postgres")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.asPG, c.owner = true, [2]int{uid, gid}
	}
	c.dir, err = os.MkdirTemp("", "jifen-failover-")
	if err != nil {
		t.Fatal(err)
	}
	c.chown(c.dir)
	if err := os.Chmod(c.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.pgctl("stop", "-m", "immediate") // those running
		}
		if t.Failed() {
			for _, n := range c.nodes {
				if b, err := os.ReadFile(n.log()); err == nil {
					t.Logf("%s's log:\n%s", n.name, lastLines(string(b), 30))
				}
			}
		}
		os.RemoveAll(c.dir)
	})
	return c
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (c *pgCluster) chown(path string) {
	if c.asPG {
		if err := os.Chown(path, c.owner[0], c.owner[1]); err != nil {
			c.t.Fatal(err)
		}
	}
}

// node names a new server on a free loopback port.
func (c *pgCluster) node(name string) *pgNode {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n := &pgNode{c: c, name: name, data: filepath.Join(c.dir, name), port: port}
	c.nodes = append(c.nodes, n)
	return n
}

// run runs a PostgreSQL binary, as the postgres user if need be.
func (c *pgCluster) run(name string, args ...string) (string, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (c *pgCluster) must(name string, args ...string) {
	c.t.Helper()
	if _, err := c.run(name, args...); err != nil {
		c.t.Fatal(err)
	}
}

// exec runs sql on n's postgres database.
func (c *pgCluster) exec(n *pgNode, sql string) {
	c.t.Helper()
	conn := n.connect()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		c.t.Fatalf("%s: %s: %v", n.name, sql, err)
	}
}

func (n *pgNode) connect() *pgx.Conn {
	n.c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", n.port))
	if err != nil {
		n.c.t.Fatalf("%s: %v", n.name, err)
	}
	return conn
}

func (n *pgNode) log() string { return filepath.Join(n.c.dir, n.name+".log") }

func (n *pgNode) pgctl(args ...string) error {
	_, err := n.c.run("pg_ctl", append([]string{"-D", n.data, "-l", n.log(), "-w", "-t", "60"}, args...)...)
	return err
}

// writeConf writes what is n's own (its port, whether it waits for a
// synchronous standby): a file that postgresql.conf includes, written
// again after pg_basebackup or pg_rewind copied another server's.
func (n *pgNode) writeConf(syncStandby bool) {
	n.c.t.Helper()
	names := ""
	if syncStandby {
		names = "*"
	}
	path := filepath.Join(n.data, "node.conf")
	conf := fmt.Sprintf("port = %d\nsynchronous_standby_names = '%s'\n", n.port, names)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		n.c.t.Fatal(err)
	}
	n.c.chown(path)
}

// initPrimary creates and starts n as a primary that streams to standbys.
func (n *pgNode) initPrimary() {
	t := n.c.t
	t.Helper()
	n.c.must("initdb", "-D", n.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
wal_level = replica
max_wal_senders = 8
wal_keep_size = '512MB'
wal_log_hints = on
hot_standby = on
synchronous_commit = on
max_connections = 200
shared_buffers = 32MB
include_if_exists = 'node.conf'
`, n.c.dir)
	f, err := os.OpenFile(filepath.Join(n.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	n.writeConf(false)
	if err := n.pgctl("start"); err != nil {
		t.Fatal(err)
	}
}

// cloneStandbyOf makes n a streaming standby of primary from a base
// backup, and starts it.
func (n *pgNode) cloneStandbyOf(primary *pgNode) {
	t := n.c.t
	t.Helper()
	n.c.must("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", n.data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	n.writeConf(false)
	if err := n.pgctl("start"); err != nil {
		t.Fatal(err)
	}
}

// rejoinAsStandbyOf brings n, a primary that was stopped immediately,
// back as a standby of primary (its successor): pg_rewind discards what
// n wrote that primary never had, and n follows primary's timeline.
func (n *pgNode) rejoinAsStandbyOf(primary *pgNode) {
	t := n.c.t
	t.Helper()
	start := time.Now()
	// The promoted server's control file names its new timeline only once
	// a checkpoint completes (the one after promotion is spread out):
	// before that, pg_rewind sees one timeline and rewinds nothing.
	n.c.exec(primary, "CHECKPOINT")
	out, err := n.c.run("pg_rewind", "-D", n.data, "-R", "--source-server",
		fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres", primary.port))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Done!") {
		t.Fatalf("pg_rewind did not rewind:\n%s", out)
	}
	n.writeConf(false)
	if err := n.pgctl("start"); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s rejoined as %s's standby (pg_rewind) in %s", n.name, primary.name, time.Since(start).Round(time.Millisecond))
}

// setSyncStandby makes n's commits wait for a synchronous standby, or not.
func (n *pgNode) setSyncStandby(on bool) {
	n.c.t.Helper()
	n.writeConf(on)
	if err := n.pgctl("reload"); err != nil {
		n.c.t.Fatal(err)
	}
}

// waitSyncStandby waits until a standby streams to n synchronously and
// has everything n had written when it started to.
func (n *pgNode) waitSyncStandby() {
	t := n.c.t
	t.Helper()
	conn := n.connect()
	defer conn.Close(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for {
		var caughtUp bool
		err := conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_replication
			WHERE sync_state = 'sync' AND flush_lsn >= pg_current_wal_lsn())`).Scan(&caughtUp)
		if err != nil {
			t.Fatal(err)
		}
		if caughtUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no synchronous standby caught up within a minute", n.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopImmediately stops n as a crash would: no checkpoint, connections cut.
func (n *pgNode) stopImmediately() {
	if err := n.pgctl("stop", "-m", "immediate"); err != nil {
		n.c.t.Error(err)
	}
}

// promote makes the standby n a primary that waits for no standby (it has
// none until the old primary rejoins), and returns the moment it is one,
// as seen on watch, a connection to n.
func (n *pgNode) promote(watch *pgx.Conn) time.Time {
	n.writeConf(false)
	if _, err := n.c.run("pg_ctl", "-D", n.data, "-W", "promote"); err != nil {
		n.c.t.Error(err)
		return time.Now()
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var standby bool
		if err := watch.QueryRow(context.Background(), "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
			n.c.t.Error(err)
			break
		}
		if !standby {
			return time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
	n.c.t.Errorf("%s: not promoted within a minute", n.name)
	return time.Now()
}

// TestServe_DBTimeoutMustBePositive: a --db-timeout of zero would let
// writes hang while no primary answers; it is refused by name, before
// any connection is tried.
func TestServe_DBTimeoutMustBePositive(t *testing.T) {
	var out, errb strings.Builder
	err := run(context.Background(), []string{"serve", "--db", "postgres://nobody@127.0.0.1:1/none", "--db-timeout", "0s"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "--db-timeout must be positive") {
		t.Errorf("--db-timeout 0s: %v", err)
	}
}
