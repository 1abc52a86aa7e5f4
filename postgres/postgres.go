// Package postgres is jifen's PostgreSQL store: the points.Store contract
// over a pool of connections (pgx), for production and for running
// several jifen servers over one database.
//
// Writes are ordinary READ COMMITTED transactions that lock the account
// row they change (SELECT … FOR UPDATE) before reading anything else of
// it; PostgreSQL's own group commit spreads the cost of fsync over the
// concurrent writers. Statements are pipelined (pgx.Batch): a write takes
// about six round trips however many rows it changes. See Write.
//
// The SQL is kept to what PostgreSQL-compatible distributed databases also
// run: no advisory locks, LISTEN/NOTIFY, sequences, triggers or stored
// procedures; ids are ULID strings made by the service.
//
// Failover. A DSN may name several hosts, libpq's way
// (postgres://h1:5432,h2:5432/jifen?target_session_attrs=read-write): each
// new connection goes to the first host that accepts writes. When the
// primary dies its connections fail, the pool drops them, and new ones
// find whichever host is the primary now — no restart. Meanwhile a write
// fails within Options.Timeout with a KindUnavailable error, never later.
// A write whose connection failed after its COMMIT was sent may or may not
// have committed; it is KindUnavailable too, never a business outcome, and
// since the idempotency record commits in the same transaction as the
// write, the client's retry under the same request_id either replays the
// committed answer or executes the write for the first time.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"jifen/ledger"
	"jifen/points"
)

var (
	_ points.Store   = (*Store)(nil)
	_ points.Auditor = (*Store)(nil)
	_ points.Tx      = (*Tx)(nil)
)

// Options tune a Store. The zero value is the default.
type Options struct {
	// MaxConns caps the pool (default 4×GOMAXPROCS, at least 8). Every
	// write holds one connection from its first statement to its commit.
	MaxConns int32
	// StatementTimeout bounds every statement on the server (0: the
	// server's default). A statement cut short is a KindUnavailable error.
	StatementTimeout time.Duration
	// Timeout bounds how long a write waits for the database as a whole —
	// connecting (trying each host of a multi-host DSN in turn), a free
	// pooled connection, every round trip and the commit — before it
	// fails with a KindUnavailable error (0: no bound but
	// StatementTimeout's). It bounds the lookups a request makes before
	// its write (its app, brand, shop, customer, rule, account) the same
	// way; other reads of one round trip (a page, a count, the
	// dashboard's totals) are bounded by the larger of Timeout and
	// StatementTimeout, and streamed reads (exports, verify) are not. It
	// is what keeps a request from hanging while no primary is reachable,
	// or while one has gone silent; see failover in the package
	// documentation.
	// Unless the DSN sets connect_timeout, each host's connection attempt
	// gets an equal share of it.
	Timeout time.Duration
	// Migrate applies missing migrations at Open. Without it Open refuses
	// a database whose schema is older than this program's.
	Migrate bool
	// Schema, when set, is the schema the store's tables live in (the
	// connections' search_path); Open creates it if absent. Tests use it
	// to give each test its own tables in one database.
	Schema string
	// OnRetry, if set, is called each time Write runs its fn again, with
	// the reason: "serialization_failure", "deadlock", "unique_violation"
	// or "conflict" (points.ErrConflict). It must be fast.
	OnRetry func(reason string)
	// OnError, if set, is called when Write fails for the database's sake
	// rather than fn's: kind is "unavailable" (unreachable, timed out, or
	// conflicting after every retry) or "internal" (any other database
	// error). Business refusals and cancelled calls are not reported.
	OnError func(kind string)
	// Tracer, if set, is told of every statement and batch the store's
	// connections send (pgx.QueryTracer; also pgx.BatchTracer if it is
	// one): the tests count a write's round trips with it.
	Tracer pgx.QueryTracer
}

// readTimeout is the bound of a read that is not a lookup (Store.readTimeout).
func (o Options) readTimeout() time.Duration {
	if o.Timeout <= 0 {
		return 0
	}
	return max(o.Timeout, o.StatementTimeout)
}

// Store is the PostgreSQL points store. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	schema  string
	timeout time.Duration // Options.Timeout
	// readTimeout bounds a read that is not a lookup (a page, a count,
	// totals): the larger of Options.Timeout and StatementTimeout, so that
	// the client gives up no sooner than the server would.
	readTimeout time.Duration
	onRetry     func(reason string)
	onError     func(kind string)

	// analyze gathers statistics of the deliveries as they grow
	// (analyzeDeliveries).
	analyze analyzer

	closeOnce sync.Once
}

// ErrSchemaTooNew is returned by Open for a database migrated by a newer
// version of this program: running older code over it could corrupt it.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this program")

// ErrSchemaTooOld is returned by Open without Options.Migrate for a
// database that lacks migrations this program needs.
var ErrSchemaTooOld = errors.New("postgres: database schema is older than this program")

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string) and checks, or with o.Migrate brings up to
// date, its schema.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	cfg, err := poolConfig(dsn, o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool, schema: o.Schema, timeout: o.Timeout, readTimeout: o.readTimeout(), onRetry: o.OnRetry, onError: o.OnError}
	fail := func(err error) (*Store, error) {
		pool.Close()
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		return fail(failure(err, "connect to the database"))
	}
	if o.Schema != "" {
		if err := s.createSchema(ctx); err != nil {
			return fail(err)
		}
	}
	if o.Migrate {
		if err := s.Migrate(ctx); err != nil {
			return fail(err)
		}
		return s, nil
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return fail(err)
	}
	switch {
	case v > LatestSchemaVersion():
		return fail(fmt.Errorf("%w: the database is at version %d, this program knows up to %d",
			ErrSchemaTooNew, v, LatestSchemaVersion()))
	case v < LatestSchemaVersion():
		return fail(fmt.Errorf("%w: the database is at version %d, this program needs %d: run jifen migrate",
			ErrSchemaTooOld, v, LatestSchemaVersion()))
	}
	return s, nil
}

// poolConfig is the pool configuration of dsn under o.
func poolConfig(dsn string, o Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The message of a parse error may quote the DSN, password and all.
		return nil, errors.New("postgres: the connection string is not valid")
	}
	cfg.MaxConns = o.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	if o.Tracer != nil {
		cfg.ConnConfig.Tracer = o.Tracer
	}
	if cfg.ConnConfig.ConnectTimeout == 0 && o.Timeout > 0 {
		cfg.ConnConfig.ConnectTimeout = connectShare(o.Timeout, cfg.ConnConfig)
	}
	params := cfg.ConnConfig.RuntimeParams
	if o.StatementTimeout > 0 {
		params["statement_timeout"] = strconv.FormatInt(max(1, o.StatementTimeout.Milliseconds()), 10)
	}
	if o.Schema != "" {
		params["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	}
	if params["application_name"] == "" {
		params["application_name"] = "jifen"
	}
	return cfg, nil
}

// connectShare is each host's share of timeout for one connection
// attempt: a host that does not answer at all (a dead machine, a
// partition) must leave time to try the others. At least a second.
func connectShare(timeout time.Duration, c *pgx.ConnConfig) time.Duration {
	hosts := map[string]bool{c.Host + ":" + strconv.Itoa(int(c.Port)): true}
	for _, f := range c.Fallbacks {
		hosts[f.Host+":"+strconv.Itoa(int(f.Port))] = true
	}
	return max(time.Second, timeout/time.Duration(len(hosts)))
}

// createSchema creates the store's schema unless it exists. Two stores
// opening at once may both try; the loser's error is harmless.
func (s *Store) createSchema(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.schema}.Sanitize())
	if err != nil && (isCode(err, codeUniqueViolation) || isCode(err, codeDuplicateSchema)) {
		err = nil
	}
	if err != nil {
		return failure(err, "create schema "+strconv.Quote(s.schema))
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use to
// be released.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.analyze.wg.Wait()
		s.pool.Close()
	})
	return nil
}

// micros is t as stored: unix microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros, in UTC.
func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// SQLSTATE codes the store acts on.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
	codeDivisionByZero       = "22012"
	codeDuplicateTable       = "42P07"
	codeDuplicateObject      = "42710"
	codeDuplicateSchema      = "42P06"
	codeQueryCanceled        = "57014" // statement_timeout, or a cancel request
)

// pgError is the server's error in err's chain, if any.
func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

func isCode(err error, code string) bool {
	pe := pgError(err)
	return pe != nil && pe.Code == code
}

// transient reports whether err is a failure of the database or of the
// way to it, rather than of the request: the same request may succeed
// later.
func transient(err error) bool {
	if pe := pgError(err); pe != nil {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources
			strings.HasPrefix(pe.Code, "58"),                           // system or I/O error
			pe.Code == codeQueryCanceled,                               // statement_timeout
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // shutting down, cannot connect now
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// failure describes err, a failure to do what; see unavailable.
func failure(err error, what string) error {
	if err == nil {
		return nil
	}
	return unavailable(fmt.Errorf("postgres: %s: %w", what, err))
}

// unavailable makes err a KindUnavailable error when retrying may help;
// other errors, and errors that already are the ledger's, pass unchanged.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := ledger.AsError(err); ok {
		return err
	}
	if transient(err) {
		return fmt.Errorf("%w: %w", ledger.Unavailable("the database is unavailable; retry"), err)
	}
	return err
}
