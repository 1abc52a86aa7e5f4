// Package sqlite is jifen's SQLite store: the points.Store contract over
// one database file in WAL mode, every write durable before it is
// answered.
//
// Writes go through one writer goroutine on one dedicated connection and
// are group-committed: requests queued while the previous batch runs share
// the next transaction (with a savepoint each only when a batch must run
// again because one of them failed after writing), and the fsync that
// makes a batch durable overlaps the next batch's work (see writer.go).
// Reads use a separate pool of connections and run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"jifen/ledger"
	"jifen/points"
)

var (
	_ points.Store   = (*Store)(nil)
	_ points.Auditor = (*Store)(nil)
	_ points.Tx      = (*Tx)(nil)
)

// ErrClosed is returned by Write once the store is closing.
var ErrClosed = errors.New("sqlite: store closed")

// Options tune a Store. The zero value is the default.
type Options struct {
	// MaxBatch caps how many write requests share one commit (default 256).
	MaxBatch int
	// ReadConns is the size of the read connection pool
	// (default 4×GOMAXPROCS, at least 8).
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by
	// another process (default 5s).
	BusyTimeout time.Duration
	// OnCommit, if set, is called after every batch that was committed
	// and made durable, with the number of requests the batch ran, how long
	// the batch's oldest request waited in the queue, and how long it took
	// from COMMIT until the batch was on disk (the fsync included). It runs
	// on the goroutine that answers the batch: keep it fast.
	OnCommit func(batchSize int, wait, commit time.Duration)
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.ReadConns <= 0 {
		o.ReadConns = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	return o
}

// Store is the SQLite points store. It is safe for concurrent use.
type Store struct {
	path string
	wdb  *sql.DB // exactly one connection: the writer's
	rdb  *sql.DB // the read pool
	w    *writer
	once sync.Once
	err  error
}

// memSeq names in-memory databases so that each Open gets its own.
var memSeq atomic.Int64

// Open opens (creating if needed) the database at path and brings its
// schema up to date. A path of "" or ":memory:" opens a private in-memory
// database (without WAL, so without its durability) shared by the store's
// connections; use a file for anything that must survive the process.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, o Options) (*Store, error) {
	o = o.withDefaults()
	memory := path == "" || path == ":memory:"
	name := "file:" + uriEscape(path)
	if memory {
		// The memdb VFS shares a named in-memory database among the
		// connections of this process (a name starting with "/").
		name = fmt.Sprintf("file:/jifen-memory-%d?vfs=memdb", memSeq.Add(1))
	}
	busy := strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)
	common := "_busy_timeout=" + busy + "&_foreign_keys=1"
	sep := "?"
	if strings.Contains(name, "?") {
		sep = "&"
	}
	// synchronous=NORMAL: COMMIT does not wait for the disk; the writer's
	// syncer fsyncs the WAL before any request of a batch is answered.
	// The writer's page cache is 32 MiB: more did not measure faster, and
	// SQLite scans the whole cache's hash at every commit that split a page.
	wparams := common + "&_synchronous=NORMAL&_txlock=immediate&_cache_size=-32768"
	if !memory {
		wparams += "&_journal_mode=WAL"
	}
	wdb, err := sql.Open("sqlite3", name+sep+wparams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	conn, err := wdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, errors.Join(err, wdb.Close()))
	}
	fail := func(err error) (*Store, error) {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, errors.Join(err, conn.Close(), wdb.Close()))
	}
	// When the writer runs a batch in savepoints (after a request failed
	// past its first write), each savepoint keeps a copy of every page its
	// request changes (~20 pages a write): in memory, not in a temporary
	// file that SQLite spills to past 64 KiB.
	if _, err := conn.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return fail(fmt.Errorf("set temp_store: %w", err))
	}
	// The commit that takes the WAL past this many pages copies it into
	// the database (and fsyncs both) before the writer goes on: the fewer
	// such pauses, the more often a page changed by many commits is copied
	// once. 10,000 pages is 40 MiB of WAL.
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 10000"); err != nil {
		return fail(fmt.Errorf("set wal_autocheckpoint: %w", err))
	}
	if err := checkPragmas(ctx, conn, !memory); err != nil {
		return fail(err)
	}
	if err := migrate(ctx, conn); err != nil {
		return fail(err)
	}
	// Read connections refuse writes: every write must go through the
	// writer, or group commit and its ordering guarantees mean nothing.
	rdb, err := sql.Open("sqlite3", name+sep+common+"&_query_only=1&_stmt_cache_size=64")
	if err != nil {
		return fail(err)
	}
	rdb.SetMaxOpenConns(o.ReadConns)
	rdb.SetMaxIdleConns(o.ReadConns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	var wal walFile // nil for an in-memory database
	if !memory {
		// The WAL exists once a connection has read the database in WAL
		// mode (checkPragmas and migrate did); it lives as long as the
		// store holds connections open. It is named after the database
		// file SQLite opened — through a symlink, the link's target — not
		// after the path given, or the syncer could sync another file.
		var seq int
		var schema, file string
		if err := conn.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &schema, &file); err != nil {
			return fail(errors.Join(fmt.Errorf("find the database file SQLite opened: %w", err), rdb.Close()))
		}
		if schema != "main" || file == "" {
			return fail(errors.Join(fmt.Errorf("find the database file SQLite opened: got %q %q", schema, file), rdb.Close()))
		}
		f, err := os.OpenFile(file+"-wal", os.O_RDWR, 0)
		if err != nil {
			return fail(errors.Join(fmt.Errorf("open the WAL to sync it: %w", err), rdb.Close()))
		}
		// Migrations committed without waiting for the disk.
		if err := f.Sync(); err != nil {
			return fail(errors.Join(fmt.Errorf("sync the WAL: %w", err), f.Close(), rdb.Close()))
		}
		wal = f
	}
	var lastEvent int64 // on disk: the WAL was synced above
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(pos), 0) FROM events").Scan(&lastEvent); err != nil {
		if wal != nil {
			err = errors.Join(err, wal.Close())
		}
		return fail(errors.Join(fmt.Errorf("read the last event: %w", err), rdb.Close()))
	}
	s := &Store{path: path, wdb: wdb, rdb: rdb}
	s.w = newWriter(conn, wal, o)
	s.w.durableEvents.Store(lastEvent)
	go s.w.loop()
	return s, nil
}

// checkPragmas makes sure the durability settings took effect: SQLite
// ignores a journal mode it cannot use rather than failing.
func checkPragmas(ctx context.Context, conn *sql.Conn, wal bool) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if wal && !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, not wal", mode)
	}
	var sync int
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if sync != 1 {
		return fmt.Errorf("synchronous is %d, not 1 (NORMAL, with the writer's own fsync)", sync)
	}
	var fk int
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("foreign_keys is off")
	}
	return nil
}

// Close stops the writer, answering every write still queued with
// ErrClosed (a write already running completes), and closes the database.
func (s *Store) Close() error {
	s.once.Do(func() {
		werr := s.w.close()
		rerr := s.rdb.Close()
		derr := s.wdb.Close()
		s.err = errors.Join(werr, rerr, derr)
	})
	return s.err
}

// WriteStats are counters of the write path since Open.
type WriteStats struct {
	Batches      uint64 // commits that succeeded
	Requests     uint64 // requests whose fn ran in a committed batch
	FnErrors     uint64 // requests whose fn returned an error or panicked
	CommitErrors uint64 // batches whose BEGIN or COMMIT failed
	Statements   uint64 // statements the writer ran, BEGIN and COMMIT included
}

// Stats returns the write path's counters.
func (s *Store) Stats() WriteStats { return s.w.stats() }

// SchemaVersion is the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.rdb.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// uriEscape makes a file path safe inside a "file:" URI.
func uriEscape(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
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

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return false
}

// unavailable wraps err as a transient failure the caller may retry.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %w", ledger.Unavailable("the database could not %s; retry", what), err)
}

func unavailableMsg(msg string) error { return ledger.Unavailable("%s", msg) }
