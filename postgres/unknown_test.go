package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/ledger"
	"jifen/points"
	"jifen/storetest"
)

// The unknown outcome: the connection dies around COMMIT, and the server
// cannot tell the client whether the write committed. A proxy between
// the store and PostgreSQL cuts the connection at the COMMIT of one write,
// either just after forwarding it (the write commits: the retry must
// replay it) or just before (it never commits: the retry must execute
// it). Either way the write is answered as retryable, never as a business
// outcome, and the request_id ends with exactly one flow.
func TestWrite_UnknownOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		cut       cutMode
		committed bool
	}{
		{"commit reached the server", cutAfterCommit, true},
		{"commit never sent", cutBeforeCommit, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startCommitCutter(t, testDSN(t))
			e := storetest.NewEnv(t, openThrough(p.dsn, Options{MaxConns: 4, Migrate: true, Timeout: 5 * time.Second}))
			e.MustCharge("C1", "g1", 100)
			req := e.Order("o1", 30)

			p.arm(tc.cut)
			start := time.Now()
			_, err := e.Svc.Consume(e.Ctx, e.Caller, req)
			le, ok := ledger.AsError(err)
			if !ok || le.Kind != ledger.KindUnavailable {
				t.Fatalf("the payment whose connection was cut at COMMIT answered %v, want a KindUnavailable error", err)
			}
			took := time.Since(start)
			if took > 5*time.Second {
				t.Errorf("the cut payment took %s to answer", took)
			}
			t.Logf("the cut payment answered %q in %s", le.Message, took)
			if !p.didCut() {
				t.Fatal("the proxy saw no COMMIT to cut")
			}
			flows := func() []ledger.Flow {
				var fs []ledger.Flow
				for _, f := range e.Flows("C1") {
					if f.RequestID == req.RequestID {
						fs = append(fs, f)
					}
				}
				return fs
			}
			before := flows()
			if tc.committed && len(before) != 1 || !tc.committed && len(before) != 0 {
				t.Fatalf("after the cut, %d flows of the payment; want committed=%v", len(before), tc.committed)
			}

			// The client retries under the same request_id.
			out, err := e.Svc.Consume(e.Ctx, e.Caller, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			after := flows()
			if len(after) != 1 || after[0].ID != out.FlowID {
				t.Fatalf("after the retry: flows %v, answered flow %s; want exactly that one", after, out.FlowID)
			}
			if tc.committed && out.FlowID != before[0].ID {
				t.Errorf("the retry answered flow %s, the committed write was %s", out.FlowID, before[0].ID)
			}
			if got := e.Available("C1"); got != 70 {
				t.Errorf("available %d after one payment of 30 from 100", got)
			}
		})
	}
}

type cutMode int32

const (
	cutNone         cutMode = iota
	cutAfterCommit          // forward the COMMIT, then cut before its answer
	cutBeforeCommit         // cut instead of forwarding the COMMIT
)

// commitCutter is a TCP proxy to PostgreSQL that reads the frontend's
// messages and, once armed, cuts the connection at the next COMMIT.
type commitCutter struct {
	dsn  string // the test database's DSN through the proxy
	mode atomic.Int32
	cut  chan struct{} // receives when a cut is complete
}

// openThrough opens a store on a fresh schema through a proxy at dsn.
func openThrough(dsn string, o Options) storetest.Opener {
	return func(t testing.TB) storetest.Store {
		o.Schema = newTestSchema(t, dsn)
		s, err := Open(context.Background(), dsn, o)
		if err != nil {
			t.Fatalf("open through the proxy: %v", err)
		}
		return s
	}
}

// listenBefore is a listener for a proxy to dsn's one host (target), and
// dsn's URL, to point at the listener. It skips the test for another kind
// of test database.
func listenBefore(t *testing.T, dsn string) (*url.URL, string, net.Listener) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" || strings.Contains(u.Host, ",") {
		t.Skipf("the proxy test needs a one-host postgres:// URL as the test database, not %q", dsn)
	}
	target := u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return u, target, ln
}

func startCommitCutter(t *testing.T, dsn string) *commitCutter {
	t.Helper()
	u, target, ln := listenBefore(t, dsn)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	p := &commitCutter{cut: make(chan struct{}, 1)}
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable") // the proxy reads the messages
	u.RawQuery = q.Encode()
	p.dsn = u.String()
	var conns sync.Map
	t.Cleanup(func() {
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns.Store(c, true)
			conns.Store(s, true)
			wg.Go(func() { p.serve(c, s) })
		}
	})
	return p
}

func (p *commitCutter) arm(m cutMode) { p.mode.Store(int32(m)) }

// didCut waits for the armed cut to be complete: false if none happens.
func (p *commitCutter) didCut() bool {
	select {
	case <-p.cut:
		return true
	case <-time.After(10 * time.Second):
		return false
	}
}

// serve forwards one connection, client c to server s.
func (p *commitCutter) serve(c, s net.Conn) {
	defer c.Close()
	defer s.Close()
	var severed atomic.Bool
	answered := make(chan struct{}, 1)
	go func() {
		// Server to client, message by message, until the cut; after it
		// the server's messages are dropped, and its ReadyForQuery
		// (after the Sync that followed the COMMIT) noted. The server
		// hanging up hangs up on the client.
		defer c.Close()
		sr := bufio.NewReader(s)
		for {
			typ, body, err := readMessage(sr)
			if err != nil {
				return
			}
			if !severed.Load() {
				if err := writeMessage(c, typ, body); err != nil {
					return
				}
			} else if typ == 'Z' {
				select {
				case answered <- struct{}{}:
				default:
				}
			}
		}
	}()
	r := bufio.NewReader(c)
	// The startup message has no type byte.
	if err := forwardStartup(r, s); err != nil {
		return
	}
	commits := map[string]bool{} // prepared statements that are COMMIT
	for {
		typ, body, err := readMessage(r)
		if err != nil {
			return
		}
		isCommit := false
		switch typ {
		case 'P': // Parse: name, query, …
			name, rest, _ := strings.Cut(string(body), "\x00")
			query, _, _ := strings.Cut(rest, "\x00")
			commits[name] = strings.EqualFold(strings.TrimSpace(query), "COMMIT")
		case 'B': // Bind: portal, statement, …
			_, rest, _ := strings.Cut(string(body), "\x00")
			stmt, _, _ := strings.Cut(rest, "\x00")
			isCommit = commits[stmt]
		case 'Q': // a simple query
			isCommit = strings.EqualFold(strings.TrimSpace(strings.TrimRight(string(body), "\x00")), "COMMIT")
		}
		mode := cutNone
		if isCommit {
			mode = cutMode(p.mode.Swap(int32(cutNone)))
		}
		if mode == cutBeforeCommit {
			severed.Store(true)
			c.Close()
			s.Close()
			p.cut <- struct{}{}
			return // neither side hears more: the server rolls back
		}
		if err := writeMessage(s, typ, body); err != nil {
			return
		}
		if mode != cutAfterCommit {
			continue
		}
		// The COMMIT is on its way: the client hears nothing more, the
		// server gets the rest of the batch (Execute, Sync) and commits;
		// then the connection drops. (Dropped sooner, the client's cancel
		// request could race the COMMIT: a real but unknowable outcome,
		// which the other mode covers.)
		severed.Store(true)
		for typ != 'S' && typ != 'Q' {
			if typ, body, err = readMessage(r); err != nil {
				break
			}
			if err := writeMessage(s, typ, body); err != nil {
				return
			}
		}
		select {
		case <-answered:
		case <-time.After(5 * time.Second):
		}
		p.cut <- struct{}{}
		return
	}
}

// forwardStartup copies the startup message, which has no type byte.
func forwardStartup(r *bufio.Reader, w io.Writer) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size < 8 || size > 1<<20 {
		return errors.New("bad startup message")
	}
	body := make([]byte, size-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	_, err := w.Write(append(n[:], body...))
	return err
}

func readMessage(r *bufio.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(h[1:])
	if size < 4 || size > 1<<30 {
		return 0, nil, errors.New("bad message length")
	}
	body := make([]byte, size-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return h[0], body, nil
}

func writeMessage(w io.Writer, typ byte, body []byte) error {
	msg := make([]byte, 5, 5+len(body))
	msg[0] = typ
	binary.BigEndian.PutUint32(msg[1:], uint32(4+len(body)))
	_, err := w.Write(append(msg, body...))
	return err
}

// TestWrite_Timeout: with Options.Timeout a write gives up and answers
// KindUnavailable in time however the database keeps it waiting — a
// statement that does not end (no statement_timeout here), or a pool
// whose every connection is taken.
func TestWrite_Timeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestWith(t, Options{MaxConns: 1, Migrate: true, Timeout: 300 * time.Millisecond})
	within := func(what string, err error, took time.Duration) {
		t.Helper()
		if e, ok := ledger.AsError(err); !ok || e.Kind != ledger.KindUnavailable {
			t.Fatalf("%s: Write = %v, want KindUnavailable", what, err)
		}
		if took > 2*time.Second {
			t.Errorf("%s: answered after %s, with a timeout of 300ms", what, took)
		}
	}
	start := time.Now()
	err := s.Write(ctx, func(tx points.Tx) error { return exec(ctx, tx, "SELECT pg_sleep(30)") })
	within("a statement that does not end", err, time.Since(start))

	held, release := make(chan struct{}), make(chan struct{})
	go s.Write(ctx, func(tx points.Tx) error { //nolint:errcheck // only holds the one connection
		if err := exec(ctx, tx, "SELECT 1"); err != nil {
			return err
		}
		close(held)
		<-release
		return nil
	})
	<-held
	start = time.Now()
	err = s.Write(ctx, func(tx points.Tx) error { return exec(ctx, tx, "SELECT 1") })
	within("no free connection", err, time.Since(start))
	close(release)
}

// TestOpen_SkipsAHostThatNeverAnswers: of a multi-host DSN, a host that
// accepts connections and then says nothing (a hung machine) costs each
// connection attempt only its share of Options.Timeout; the next host
// serves.
func TestOpen_SkipsAHostThatNeverAnswers(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" || strings.Contains(u.Host, ",") {
		t.Skipf("needs a one-host postgres:// URL as the test database, not %q", dsn)
	}
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64)
	defer func() {
		mute.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	go func() {
		defer close(accepted)
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	if u.Port() == "" {
		u.Host += ":5432"
	}
	u.Host = mute.Addr().String() + "," + u.Host
	start := time.Now()
	s, err := Open(context.Background(), u.String(), Options{MaxConns: 2, Timeout: 2 * time.Second,
		Schema: newTestSchema(t, dsn), Migrate: true})
	if err != nil {
		t.Fatalf("open past a mute first host: %v", err)
	}
	defer s.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("open took %s past a mute host, with 1s its share", took)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("ready: %v", err)
	}
}

// TestRead_SilentDatabase: the database host stops answering without
// closing anything (powered off, cut off by the network) while the pool
// holds open connections to it. A POS request's reads — the app, brand
// and shop it resolves before its write — and the write itself answer
// KindUnavailable within Options.Timeout; none waits for TCP to give up.
func TestRead_SilentDatabase(t *testing.T) {
	t.Parallel()
	p := startMutingProxy(t, testDSN(t))
	const timeout = time.Second
	e := storetest.NewEnv(t, openThrough(p.dsn, Options{MaxConns: 4, Migrate: true, Timeout: timeout, StatementTimeout: 2 * timeout}))
	e.MustCharge("C1", "g1", 100)
	s := e.Store.(*Store)
	// within runs what with the database silent: it must answer
	// KindUnavailable once its bound has passed (with a second's slack).
	within := func(what string, bound time.Duration, run func() error) {
		t.Helper()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- run() }()
		select {
		case err := <-done:
			if le, ok := ledger.AsError(err); !ok || le.Kind != ledger.KindUnavailable {
				t.Errorf("%s with the database silent: %v, want a KindUnavailable error", what, err)
			}
			if took := time.Since(start); took > bound+time.Second {
				t.Errorf("%s with the database silent answered after %s, with a bound of %s", what, took, bound)
			}
		case <-time.After(bound + 10*time.Second):
			t.Fatalf("%s with the database silent: no answer after %s, with a bound of %s", what, time.Since(start), bound)
		}
	}

	p.mute(true)
	// A lookup is bounded by the timeout; a page by the statement
	// timeout, the larger (or sooner, by the connection attempt's share
	// of the timeout when the pool must connect again).
	within("reading an app", timeout, func() error { _, err := s.App(e.Ctx, "pos"); return err })
	within("reading flows", 2*timeout, func() error {
		_, _, err := s.Flows(e.Ctx, points.FlowQuery{BrandID: "B1", CustomerID: "C1"})
		return err
	})
	// A fresh service, as on a server whose tenant cache has expired:
	// the payment reads the tenant first.
	svc := points.New(s, e.Clock, nil)
	within("a payment", timeout, func() error { _, err := svc.Consume(e.Ctx, e.Caller, e.Order("o1", 30)); return err })

	p.mute(false)
	if _, err := e.Svc.Consume(e.Ctx, e.Caller, e.Order("o2", 30)); err != nil {
		t.Fatalf("a payment once the database answers again: %v", err)
	}
}

// TestRead_Bounds: a lookup gives up at Options.Timeout; a page, a count
// or totals only at the larger StatementTimeout, so that a slow but valid
// read is not cut before the server would cut it.
func TestRead_Bounds(t *testing.T) {
	t.Parallel()
	s := openTestWith(t, Options{MaxConns: 2, Migrate: true, Timeout: 500 * time.Millisecond, StatementTimeout: 2 * time.Second})
	ctx := context.Background()
	slow := func() *pgx.QueuedQuery { return &pgx.QueuedQuery{SQL: "SELECT pg_sleep(1)"} }
	start := time.Now()
	err := s.lookup(ctx, slow())
	if le, ok := ledger.AsError(err); !ok || le.Kind != ledger.KindUnavailable || time.Since(start) > time.Second {
		t.Errorf("a lookup of 1s with a timeout of 500ms: %v after %s, want KindUnavailable at 500ms", err, time.Since(start))
	}
	if err := s.read(ctx, slow()); err != nil {
		t.Errorf("a read of 1s with a statement timeout of 2s: %v", err)
	}
	if err := s.readSnapshot(ctx, slow()); err != nil {
		t.Errorf("a snapshot read of 1s with a statement timeout of 2s: %v", err)
	}
}

// TestReplicas_SilentReplica: a read replica that goes silent with the
// pool's connections open costs a read its bound, then the read runs on
// the primary — it does not hang.
func TestReplicas_SilentReplica(t *testing.T) {
	t.Parallel()
	s := OpenTest(t)
	ctx := context.Background()
	svc := points.New(s, nil, nil)
	if _, err := svc.Apply(ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: ledger.Brand{ID: "b1", Name: "品牌",
		TimeZone: "Asia/Shanghai", Settings: ledger.DefaultSettings()}}}}); err != nil {
		t.Fatal(err)
	}
	p := startMutingProxy(t, testDSN(t))
	const timeout = time.Second
	r, err := OpenReplicas(ctx, s, []string{p.dsn},
		ReplicaOptions{Options: Options{Schema: s.schema, Timeout: timeout, StatementTimeout: 2 * timeout}, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The test's server is no replica; take it for one caught up.
	rep := r.rs[0]
	use := func() { rep.state.Store(&ReplicaState{Name: rep.name, Known: true, InUse: true, At: time.Now()}) }
	use()
	if b, err := r.Brand(ctx, "b1"); err != nil || b.Name != "品牌" {
		t.Fatalf("Brand through the replica: %+v %v", b, err)
	}
	p.mute(true)
	for _, q := range []struct {
		what  string
		bound time.Duration
		read  func() error
	}{
		{"a lookup", timeout, func() error { _, err := r.Brand(ctx, "b1"); return err }},
		{"a page", 2 * timeout, func() error {
			_, _, err := r.Flows(ctx, points.FlowQuery{BrandID: "b1"})
			return err
		}},
	} {
		use()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- q.read() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s with the replica silent: %v, want the primary's answer", q.what, err)
			}
			if took := time.Since(start); took > q.bound+time.Second {
				t.Errorf("%s with the replica silent answered after %s, with a bound of %s", q.what, took, q.bound)
			}
		case <-time.After(q.bound + 10*time.Second):
			p.hangUp() // or the hung read would hold up closing the pool
			t.Fatalf("%s with the replica silent: no answer after %s", q.what, time.Since(start))
		}
	}
	p.mute(false)
}

// mutingProxy is a TCP proxy to PostgreSQL that can go silent: while
// muted it forwards nothing either way and answers no new connection,
// yet closes nothing — a host that vanished from the network.
type mutingProxy struct {
	dsn   string
	muted atomic.Bool
	mu    sync.Mutex
	held  []net.Conn // accepted while muted
	conns sync.Map   // every connection, either side
}

func startMutingProxy(t *testing.T, dsn string) *mutingProxy {
	t.Helper()
	u, target, ln := listenBefore(t, dsn)
	p := &mutingProxy{}
	u.Host = ln.Addr().String()
	p.dsn = u.String()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.hangUp()
		wg.Wait()
	})
	// pipe copies from r to w, dropping what arrives while muted.
	pipe := func(r, w net.Conn) {
		defer r.Close()
		defer w.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 && !p.muted.Load() {
				if _, err := w.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Store(c, true)
			if p.muted.Load() {
				p.mu.Lock()
				p.held = append(p.held, c) // held open, never answered
				p.mu.Unlock()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.conns.Store(s, true)
			wg.Go(func() { pipe(c, s) })
			wg.Go(func() { pipe(s, c) })
		}
	})
	return p
}

// hangUp closes every connection the proxy made or took.
func (p *mutingProxy) hangUp() {
	p.conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
}

// mute silences the proxy, or brings it back: a host back on the network
// resets the connections it never answered.
func (p *mutingProxy) mute(on bool) {
	p.muted.Store(on)
	if !on {
		p.mu.Lock()
		for _, c := range p.held {
			c.Close()
		}
		p.held = nil
		p.mu.Unlock()
	}
}
