package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"jifen/approval"
	"strings"
	"time"

	"jifen/backoffice"
	"jifen/metrics"
	"jifen/operator"
	"jifen/points"
	"jifen/postgres"
	"jifen/sqlite"
	"jifen/webhook"
)

// defaultDB is the embedded database used when --db is not given.
const defaultDB = "./jifen.db"

// ledgerStore is a store the commands can run the service and verify on,
// and the operators' side read.
type ledgerStore interface {
	points.Store
	points.Auditor
	backoffice.Reader
	webhook.Store
	operator.Store
	approval.Store
	Ready(context.Context) error // for /readyz
}

// storeFlags are the database flags every command shares.
type storeFlags struct {
	db               string
	maxConns         int
	statementTimeout time.Duration
	dbTimeout        time.Duration
	// metrics, if set, is told of the store's commits, retries and errors.
	metrics *metrics.Metrics
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.db, "db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	fs.IntVar(&f.maxConns, "max-conns", 0, "PostgreSQL: connection pool size (0: 4×CPUs, at least 8)")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 10*time.Second, "PostgreSQL: statement timeout")
	fs.DurationVar(&f.dbTimeout, "db-timeout", defaultDBTimeout, "PostgreSQL: how long a write (connecting, a free connection, its statements and commit) or a request's lookups may wait for the database before it answers the retryable isp.service-unavailable; other reads wait up to the larger of this and --statement-timeout")
}

// defaultDBTimeout bounds a write's wait for PostgreSQL: while no primary
// is reachable (a failover), writes answer "retry" within it.
const defaultDBTimeout = 5 * time.Second

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// open opens the database; migrate applies PostgreSQL migrations (SQLite
// always migrates at open: it is embedded and has one owner).
func (f *storeFlags) open(ctx context.Context, migrate bool) (ledgerStore, error) {
	m := f.metrics
	if isPostgres(f.db) {
		if f.dbTimeout <= 0 {
			return nil, fmt.Errorf("--db-timeout must be positive, got %s", f.dbTimeout)
		}
		o := postgres.Options{MaxConns: int32(f.maxConns), StatementTimeout: f.statementTimeout, Timeout: f.dbTimeout,
			Migrate: migrate}
		if m != nil {
			o.OnRetry, o.OnError = m.StoreRetry, m.StoreError
		}
		s, err := postgres.Open(ctx, f.db, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", redact(f.db), err)
		}
		return s, nil
	}
	var o sqlite.Options
	if m != nil {
		o.OnCommit = m.ObserveCommit
	}
	s, err := sqlite.OpenWith(ctx, f.db, o)
	if err != nil {
		return nil, err
	}
	if m != nil {
		m.CountStoreErrors("commit", func() uint64 { return s.Stats().CommitErrors })
	}
	return s, nil
}

// openStore opens dsn with default pool settings, migrating it.
func openStore(ctx context.Context, dsn string) (ledgerStore, error) {
	f := storeFlags{db: dsn, statementTimeout: 10 * time.Second, dbTimeout: defaultDBTimeout}
	return f.open(ctx, true)
}

// redact hides a password in a DSN for messages.
func redact(dsn string) string {
	at := strings.Index(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 {
		return dsn
	}
	creds := dsn[scheme+3 : at]
	if user, _, ok := strings.Cut(creds, ":"); ok {
		return dsn[:scheme+3] + user + ":***" + dsn[at:]
	}
	return dsn
}

type migrateCmd struct{}

func (migrateCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	s, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "database %s is at the latest schema\n", redact(sf.db))
	return nil
}
