package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"jifen/audit"
	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// Replicas serves the operators' reads (backoffice.Reader) from streaming
// replicas of a primary Store, and everything else from the primary.
//
// Every Interval it asks each replica how far behind the primary it is:
// a replica that is caught up (it has replayed all the WAL it received
// and is streaming from the primary) is 0 behind, however idle the
// primary; one that is not is behind by the age of the last transaction
// it replayed. A replica behind by more than MaxLag, not answering, not
// in recovery (it is no replica: perhaps promoted, then the primary's
// DSN should reach it), or whose last answer is older than MaxLag, is
// not used; a read that fails on a replica for the database's sake
// (unreachable, cut short, cancelled by a conflict with recovery) runs
// again on the primary, and the replica is not used until it answers
// again. With no replica usable, reads go to the primary.
//
// A context marked backoffice.ReadPrimary reads the primary, and so do
// SessionEnded and the audit log's appends: a sign-out counts at once.
type Replicas struct {
	primary  *Store
	rs       []*replica
	maxLag   time.Duration
	interval time.Duration
	onCheck  func(ReplicaState)
	next     atomic.Uint64 // round robin among usable replicas

	stop context.CancelFunc
	wg   sync.WaitGroup
}

var (
	_ backoffice.Reader = (*Replicas)(nil)
	_ audit.Store       = (*Replicas)(nil)
)

// ReplicaOptions tune Replicas. The zero value is the default.
type ReplicaOptions struct {
	// Options tunes each replica's pool: MaxConns, StatementTimeout,
	// Timeout (bounding each connection attempt as for the primary),
	// Schema (the search_path; nothing is created) and Tracer. Migrate,
	// OnRetry and OnError do not apply: nothing is written to a replica.
	Options
	// MaxLag is how far behind the primary a replica may be and still
	// serve reads (default 10 s).
	MaxLag time.Duration
	// Interval is how often each replica's lag is measured (default 1 s).
	Interval time.Duration
	// OnCheck, if set, is told each replica's state after each
	// measurement, from one goroutine per replica. It must be fast.
	OnCheck func(ReplicaState)
}

// DefaultMaxReplicaLag is ReplicaOptions.MaxLag's default.
const DefaultMaxReplicaLag = 10 * time.Second

// ReplicaState is what the last measurement of a replica found.
type ReplicaState struct {
	// Name is the replica's host:port (several, comma-separated, for a
	// multi-host DSN): never its password.
	Name string
	// Lag is how far behind the primary it is; meaningful when Known.
	Lag   time.Duration
	Known bool
	// InUse says whether it serves reads: Known and Lag ≤ MaxLag.
	InUse bool
	// Err is why the lag is not known: the replica failed to answer, or
	// is not in recovery.
	Err error
	At  time.Time // when it was measured
}

// replica is one replica's pool and its last state.
type replica struct {
	name  string
	store *Store
	state atomic.Pointer[ReplicaState]
}

// OpenReplicas serves reads from the replicas named by dsns, each a
// postgres:// URL or key=value connection string, in front of primary.
// A replica that is unreachable now is not an error: it is measured,
// and used once it answers. It measures each replica once before it
// returns (within Interval); Close stops measuring and closes the
// replicas' pools, not the primary.
func OpenReplicas(ctx context.Context, primary *Store, dsns []string, o ReplicaOptions) (*Replicas, error) {
	if o.MaxLag <= 0 {
		o.MaxLag = DefaultMaxReplicaLag
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	r := &Replicas{primary: primary, maxLag: o.MaxLag, interval: o.Interval, onCheck: o.OnCheck}
	po := o.Options
	po.OnRetry, po.OnError = nil, nil
	for i, dsn := range dsns {
		cfg, err := poolConfig(dsn, po)
		if err != nil {
			r.closePools()
			return nil, errors.New("postgres: replica " + strconv.Itoa(i+1) + ": the connection string is not valid")
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg) // connects on first use
		if err != nil {
			r.closePools()
			return nil, failure(err, "replica "+strconv.Itoa(i+1))
		}
		hosts := []string{cfg.ConnConfig.Host + ":" + strconv.Itoa(int(cfg.ConnConfig.Port))}
		for _, f := range cfg.ConnConfig.Fallbacks {
			if h := f.Host + ":" + strconv.Itoa(int(f.Port)); h != hosts[len(hosts)-1] {
				hosts = append(hosts, h)
			}
		}
		rep := &replica{name: strings.Join(hosts, ","), store: &Store{pool: pool, schema: o.Schema, timeout: o.Timeout, readTimeout: o.readTimeout()}}
		rep.state.Store(&ReplicaState{Name: rep.name, Err: errors.New("not measured yet")})
		r.rs = append(r.rs, rep)
	}
	var first sync.WaitGroup
	for _, rep := range r.rs {
		first.Add(1)
		go func() { defer first.Done(); r.measure(ctx, rep) }()
	}
	first.Wait()
	mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	for _, rep := range r.rs {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := time.NewTicker(r.interval)
			defer t.Stop()
			for {
				select {
				case <-mctx.Done():
					return
				case <-t.C:
				}
				r.measure(mctx, rep)
			}
		}()
	}
	return r, nil
}

// Close stops measuring and closes the replicas' pools.
func (r *Replicas) Close() error {
	if r.stop != nil {
		r.stop()
	}
	r.wg.Wait()
	r.closePools()
	return nil
}

func (r *Replicas) closePools() {
	for _, rep := range r.rs {
		rep.store.pool.Close()
	}
}

// States is each replica's last measured state, in the order given.
func (r *Replicas) States() []ReplicaState {
	out := make([]ReplicaState, len(r.rs))
	for i, rep := range r.rs {
		out[i] = *rep.state.Load()
	}
	return out
}

// lagQuery measures a replica in one statement: whether it is in
// recovery, whether it is caught up (streaming, and has replayed all it
// received), the age of the last transaction it replayed (NULL: none
// since it started), and the schema version it has replayed.
const lagQuery = `SELECT pg_is_in_recovery(),
	COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false)
		AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver),
	EXTRACT(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8,
	(SELECT COALESCE(MAX(version), 0) FROM schema_migrations)`

// schemaBehind is the state of a replica that has not yet replayed the
// migrations this server's queries need (during an upgrade, within its
// lag): its reads would fail or miss what the new schema holds.
type schemaBehind struct{ has, needs int }

func (e schemaBehind) Error() string {
	return fmt.Sprintf("schema version %d, older than this server's %d: the migration is not yet replayed", e.has, e.needs)
}

// errNotReplica is the state of a server that is not in recovery.
var errNotReplica = errors.New("not in recovery: not a replica")

// errNoReplay is the state of a replica behind the primary that has
// replayed no transaction since it started: its lag cannot be told.
var errNoReplay = errors.New("behind the primary, and no transaction replayed since it started")

// measure asks rep how far behind it is and records the answer.
func (r *Replicas) measure(ctx context.Context, rep *replica) {
	ctx, cancel := context.WithTimeout(ctx, max(r.interval, time.Second))
	defer cancel()
	st := ReplicaState{Name: rep.name, At: time.Now()}
	var inRecovery, caughtUp bool
	var age *float64
	var version int
	err := rep.store.pool.QueryRow(ctx, lagQuery).Scan(&inRecovery, &caughtUp, &age, &version)
	switch {
	case err != nil:
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return // closing
		}
		st.Err = failure(err, "measure replica "+rep.name)
	case version < LatestSchemaVersion():
		st.Err = schemaBehind{version, LatestSchemaVersion()}
	case !inRecovery:
		st.Err = errNotReplica
	case caughtUp:
		st.Known = true
	case age == nil:
		st.Err = errNoReplay
	default:
		st.Lag, st.Known = time.Duration(math.Max(0, *age)*float64(time.Second)), true
	}
	st.InUse = st.Known && st.Lag <= r.maxLag
	rep.state.Store(&st)
	if r.onCheck != nil {
		r.onCheck(st)
	}
}

// down records that rep failed a read: it is not used until it answers a
// measurement again.
func (rep *replica) down(err error) {
	old := rep.state.Load()
	st := *old
	st.InUse, st.Err = false, err
	rep.state.CompareAndSwap(old, &st)
}

// usable reports whether rep may serve a read now: in use when last
// measured, and that measurement's lag plus its age within the bound (a
// replica that stopped answering measurements is dropped in time).
func (r *Replicas) usable(rep *replica, now time.Time) bool {
	st := rep.state.Load()
	return st.InUse && st.Lag+now.Sub(st.At) <= r.maxLag+r.interval
}

// pick is the store ctx's read goes to, and the replica it is (nil: the
// primary).
func (r *Replicas) pick(ctx context.Context) (*Store, *replica) {
	if backoffice.ReadsPrimary(ctx) || len(r.rs) == 0 {
		return r.primary, nil
	}
	now := time.Now()
	start := r.next.Add(1)
	for i := range uint64(len(r.rs)) {
		rep := r.rs[(start+i)%uint64(len(r.rs))]
		if r.usable(rep, now) {
			return rep.store, rep
		}
	}
	return r.primary, nil
}

// retryOnPrimary reports whether a read that failed with err on a
// replica should run again on the primary: the replica failed it, not
// the question.
func retryOnPrimary(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if e, ok := ledger.AsError(err); ok && e.Kind != ledger.KindUnavailable {
		return false
	}
	return transient(err) || isCode(err, codeSerializationFailure) // 40001: conflict with recovery
}

// route runs read on the store ctx's read goes to, and on the primary if
// a replica failed it.
func route[T any](r *Replicas, ctx context.Context, read func(*Store) (T, error)) (T, error) {
	s, rep := r.pick(ctx)
	v, err := read(s)
	if rep != nil && retryOnPrimary(ctx, err) {
		rep.down(err)
		return read(r.primary)
	}
	return v, err
}

func (r *Replicas) Customer(ctx context.Context, id string) (ledger.Customer, error) {
	return route(r, ctx, func(s *Store) (ledger.Customer, error) { return s.Customer(ctx, id) })
}

func (r *Replicas) Brand(ctx context.Context, id string) (ledger.Brand, error) {
	return route(r, ctx, func(s *Store) (ledger.Brand, error) { return s.Brand(ctx, id) })
}

func (r *Replicas) Brands(ctx context.Context) ([]ledger.Brand, error) {
	return route(r, ctx, func(s *Store) ([]ledger.Brand, error) { return s.Brands(ctx) })
}

func (r *Replicas) Shops(ctx context.Context, brandID string) ([]ledger.Shop, error) {
	return route(r, ctx, func(s *Store) ([]ledger.Shop, error) { return s.Shops(ctx, brandID) })
}

func (r *Replicas) Rule(ctx context.Context, brandID string) (ledger.Rule, error) {
	return route(r, ctx, func(s *Store) (ledger.Rule, error) { return s.Rule(ctx, brandID) })
}

func (r *Replicas) Apps(ctx context.Context) ([]ledger.App, error) {
	return route(r, ctx, func(s *Store) ([]ledger.App, error) { return s.Apps(ctx) })
}

// flowPage is a page of flows and how many match.
type flowPage struct {
	flows []ledger.Flow
	total int
}

func (r *Replicas) Flows(ctx context.Context, q points.FlowQuery) ([]ledger.Flow, int, error) {
	p, err := route(r, ctx, func(s *Store) (flowPage, error) {
		fs, n, err := s.Flows(ctx, q)
		return flowPage{fs, n}, err
	})
	return p.flows, p.total, err
}

func (r *Replicas) SearchCustomers(ctx context.Context, q backoffice.CustomerSearch) ([]ledger.Customer, error) {
	return route(r, ctx, func(s *Store) ([]ledger.Customer, error) { return s.SearchCustomers(ctx, q) })
}

func (r *Replicas) CustomersByID(ctx context.Context, ids []string) ([]ledger.Customer, error) {
	return route(r, ctx, func(s *Store) ([]ledger.Customer, error) { return s.CustomersByID(ctx, ids) })
}

func (r *Replicas) RuleVersions(ctx context.Context, brandID string, limit int) ([]ledger.Rule, error) {
	return route(r, ctx, func(s *Store) ([]ledger.Rule, error) { return s.RuleVersions(ctx, brandID, limit) })
}

func (r *Replicas) CustomerHolds(ctx context.Context, brandID, customerID string, limit int) ([]ledger.Hold, error) {
	return route(r, ctx, func(s *Store) ([]ledger.Hold, error) { return s.CustomerHolds(ctx, brandID, customerID, limit) })
}

func (r *Replicas) OrderRows(ctx context.Context, brandID, outBizID string) (backoffice.OrderRows, error) {
	return route(r, ctx, func(s *Store) (backoffice.OrderRows, error) { return s.OrderRows(ctx, brandID, outBizID) })
}

// EachFlow streams from a replica; it runs again on the primary only if
// the replica failed before fn was given a flow.
func (r *Replicas) EachFlow(ctx context.Context, q points.FlowQuery, fn func(ledger.Flow) error) error {
	s, rep := r.pick(ctx)
	called := false
	err := s.EachFlow(ctx, q, func(f ledger.Flow) error { called = true; return fn(f) })
	if rep != nil && !called && retryOnPrimary(ctx, err) {
		rep.down(err)
		return r.primary.EachFlow(ctx, q, fn)
	}
	return err
}

func (r *Replicas) BrandTotals(ctx context.Context, brandID string, from, to time.Time) (backoffice.BrandTotals, error) {
	return route(r, ctx, func(s *Store) (backoffice.BrandTotals, error) { return s.BrandTotals(ctx, brandID, from, to) })
}

// SessionEnded reads the primary: a sign-out counts at once.
func (r *Replicas) SessionEnded(ctx context.Context, nonce string) (bool, error) {
	return r.primary.SessionEnded(ctx, nonce)
}

// AppendAudit writes to the primary.
func (r *Replicas) AppendAudit(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	return r.primary.AppendAudit(ctx, e)
}

// AuditEntries lists the audit log from a replica.
func (r *Replicas) AuditEntries(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	return route(r, ctx, func(s *Store) ([]audit.Entry, error) { return s.AuditEntries(ctx, q) })
}

// EachAudit reads the whole log from the primary: it is the chain's
// verification, which must see its head as written.
func (r *Replicas) EachAudit(ctx context.Context, fn func(audit.Entry) error) (audit.Head, error) {
	return r.primary.EachAudit(ctx, fn)
}
