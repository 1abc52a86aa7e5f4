package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"jifen/points"
)

// Group commit.
//
// Write queues a request for the one writer goroutine, which owns the one
// write connection. The writer takes everything queued (up to MaxBatch)
// and runs it as one transaction:
//
//	BEGIN IMMEDIATE
//	  fn₁                    (succeeded)
//	  fn₂                    (failed before writing anything: nothing to undo)
//	  …
//	COMMIT                   (one fsync for the whole batch)
//
// A request's fn almost always decides before it writes (a refusal is
// decided on what it read), so the batch runs without a savepoint per
// request: a savepoint costs two statements and a copy of every page the
// request changes. If a fn fails after it wrote something, the writer
// rolls the whole transaction back and runs the batch again, each request
// in its own savepoint this time:
//
//	BEGIN IMMEDIATE
//	  SAVEPOINT s; fn₁; RELEASE s                  (fn₁ succeeded)
//	  SAVEPOINT s; fn₂; ROLLBACK TO s; RELEASE s   (fn₂ failed: only its writes undone)
//	COMMIT
//
// Either way one request's failure never undoes its batch-mates' work, and
// nothing is answered before the commit that holds it.
//
// It never waits for a batch to fill: requests arriving while one batch
// runs form the next, so the batch grows with the load and a lone request
// is committed at once.
//
// Durability is pipelined. The connection runs synchronous=NORMAL, so
// COMMIT writes the batch's WAL frames without waiting for the disk; the
// writer then hands the batch to the syncer goroutine and starts the next
// batch at once, while the syncer fsyncs the WAL file and only then
// answers the batch's requests. One fsync covers every batch committed
// before it began, and WAL frames are appended in commit order, so a
// request is never answered before its batch, and every batch before it,
// is on disk. (SQLite itself syncs the WAL before each checkpoint copies
// it into the database.) Readers may see a batch a moment before it is
// durable; nothing is acknowledged before.

// Request states: a request is run or cancelled exactly once.
const (
	queued int32 = iota
	running
	cancelled
)

type request struct {
	ctx   context.Context
	fn    func(points.Tx) error
	enq   time.Time
	once  bool // run its batch in savepoints (see writeOnce)
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on an answer

	// Writer-only fields.
	started bool  // the request has won its turn (state is running)
	tries   int   // how many times fn ran
	err     error // fn's outcome in the current attempt
	evMax   int64 // the highest event position fn recorded (0: none)
}

func (r *request) answer(err error) { r.done <- err }

// maxTries bounds how often a request is run again after SQLite itself
// rolled back the transaction it shared with a failing batch-mate.
const maxTries = 3

type writer struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // prepared on conn; used by the writer goroutine only
	opts  Options

	// wal is the WAL file, fsynced by the syncer before a batch is
	// answered; nil for an in-memory database, whose batches are answered
	// by the writer at commit.
	wal       walFile
	toSync    chan synced
	syncerEnd chan struct{}
	// syncErr is set once an fsync of the WAL failed: what the page cache
	// holds can no longer be trusted to reach the disk, so no further
	// write is accepted.
	syncErr atomic.Pointer[error]

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*request
	closing bool
	stopped chan struct{}

	// The state of the current transaction, writer goroutine only.
	inTx  bool
	lost  bool  // SQLite rolled the transaction back by itself
	wrote bool  // a statement that may write ran since runOne started fn
	evMax int64 // the highest event position the running fn recorded

	// durableEvents is the highest event position on disk: events are
	// read up to it, so none is seen whose write a power failure could
	// still take back.
	durableEvents atomic.Int64

	batches, requests, fnErrors, commitErrors, statements atomic.Uint64
}

// walFile is the WAL as the syncer uses it (an *os.File).
type walFile interface {
	Sync() error
	Close() error
}

// synced is a committed batch waiting for its fsync.
type synced struct {
	reqs        []*request
	wait        time.Duration
	commitStart time.Time
	evMax       int64 // the batch's highest event position
}

func newWriter(conn *sql.Conn, wal walFile, o Options) *writer {
	w := &writer{conn: conn, stmts: map[string]*sql.Stmt{}, opts: o, stopped: make(chan struct{}), wal: wal}
	w.cond = sync.NewCond(&w.mu)
	if wal != nil {
		w.toSync = make(chan synced, 64)
		w.syncerEnd = make(chan struct{})
		go w.syncer()
	}
	return w
}

// syncer makes committed batches durable and answers them, in commit
// order: it takes every batch committed so far, fsyncs the WAL once for
// all of them, then answers their requests.
func (w *writer) syncer() {
	defer close(w.syncerEnd)
	var todo []synced
	for b := range w.toSync {
		todo = append(todo[:0], b)
	more:
		for {
			select {
			case b, ok := <-w.toSync:
				if !ok {
					break more
				}
				todo = append(todo, b)
			default:
				break more
			}
		}
		err := w.wal.Sync()
		if err != nil {
			w.syncErr.CompareAndSwap(nil, &err)
		} else if p := w.syncErr.Load(); p != nil {
			// An fsync failed before: the kernel reports a writeback
			// error once, so this fsync's success says nothing of the
			// frames that failed, and the WAL may end before them on
			// restart. Nothing after a failed fsync is acknowledged.
			err = *p
		}
		done := time.Now()
		for _, b := range todo {
			if err == nil {
				w.eventsDurable(b.evMax)
			}
			if err == nil && w.opts.OnCommit != nil {
				w.opts.OnCommit(len(b.reqs), b.wait, done.Sub(b.commitStart))
			}
			for _, r := range b.reqs {
				if err != nil {
					// Committed, perhaps not durable: the caller retries
					// and the write replays, or runs, once.
					r.answer(unavailable("make a write durable", err))
				} else {
					r.answer(r.err)
				}
			}
		}
		clear(todo)
	}
}

// Write runs fn in a write transaction shared with other writes queued at
// the same moment, and returns once its effects are durable. fn sees the
// effects of the batch's earlier fns; an error (or panic) from fn undoes
// fn's writes only. If the commit fails, every request of the batch gets
// a KindUnavailable error and nothing of the batch is stored.
//
// ctx may cancel the request until fn starts; after that the request runs
// to its end, since a half-done write cannot be cancelled without undoing
// its batch-mates' work. fn must not call Write (the writer would wait for
// itself) nor use tx after returning, and it may be called more than once.
// fn runs on the writer's goroutine and must return (or panic): one that
// calls runtime.Goexit — t.Fatal in a test — ends the writer.
func (s *Store) Write(ctx context.Context, fn func(points.Tx) error) error {
	return s.write(ctx, fn, false)
}

// writeOnce is Write for a fn that must not run again because a
// batch-mate failed: its batch runs in savepoints from the start, so only
// a transaction SQLite itself threw away runs it again.
func (s *Store) writeOnce(ctx context.Context, fn func(points.Tx) error) error {
	return s.write(ctx, fn, true)
}

func (s *Store) write(ctx context.Context, fn func(points.Tx) error, once bool) error {
	if fn == nil {
		return errors.New("sqlite: Write with a nil fn")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, enq: time.Now(), done: make(chan error, 1), once: once}
	if err := s.w.enqueue(r); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, cancelled) {
			return ctx.Err()
		}
		// fn has started: it completes, and so does its answer.
		return <-r.done
	}
}

func closedErr() error {
	return fmt.Errorf("%w: %w", ErrClosed, unavailableMsg("the store is closing"))
}

func (w *writer) enqueue(r *request) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return closedErr()
	}
	w.queue = append(w.queue, r)
	w.cond.Signal()
	return nil
}

// close answers everything queued with ErrClosed, lets the batch in
// progress finish, stops the writer and closes its connection.
func (w *writer) close() error {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		<-w.stopped
		return nil
	}
	w.closing = true
	pending := w.queue
	w.queue = nil
	w.cond.Broadcast()
	w.mu.Unlock()
	for _, r := range pending {
		r.answer(closedErr())
	}
	<-w.stopped
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, w.conn.Close())
	if w.wal != nil {
		errs = append(errs, w.wal.Close())
	}
	return errors.Join(errs...)
}

func (w *writer) stats() WriteStats {
	return WriteStats{
		Batches:      w.batches.Load(),
		Requests:     w.requests.Load(),
		FnErrors:     w.fnErrors.Load(),
		CommitErrors: w.commitErrors.Load(),
		Statements:   w.statements.Load(),
	}
}

// loop is the writer goroutine.
func (w *writer) loop() {
	defer close(w.stopped)
	if w.toSync != nil {
		defer func() { close(w.toSync); <-w.syncerEnd }()
	}
	var batch []*request
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.closing {
			w.cond.Wait()
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		n := min(len(w.queue), w.opts.MaxBatch)
		batch = append(batch[:0], w.queue[:n]...)
		rest := copy(w.queue, w.queue[n:])
		clear(w.queue[rest:])
		w.queue = w.queue[:rest]
		w.mu.Unlock()

		w.runBatch(batch)
		clear(batch)
	}
}

func (w *writer) runBatch(batch []*request) {
	start := time.Now()
	wait := start.Sub(batch[0].enq)
	safe := slices.ContainsFunc(batch, func(r *request) bool { return r.once })
	for len(batch) > 0 {
		batch, safe = w.attempt(batch, wait, safe)
	}
}

// attempt runs batch in one transaction and answers its requests; with
// safe, each request runs in its own savepoint. It returns the requests to
// run again in a new transaction: those whose work SQLite threw away when
// it rolled back the whole transaction on a batch-mate's failure (disk
// full, I/O error), and those not yet run; and whether to run them in
// savepoints (a fn failed after writing, and the writer rolled back).
func (w *writer) attempt(batch []*request, wait time.Duration, safe bool) (again []*request, againSafe bool) {
	if p := w.syncErr.Load(); p != nil {
		for _, r := range batch {
			if w.turn(r) {
				r.answer(unavailable("write: an earlier fsync of the WAL failed", *p))
			}
		}
		return nil, false
	}
	_, err := w.exec(sqlBegin)
	if err != nil && !w.autocommit() && w.rollback() == nil {
		// A transaction an earlier failure left open is gone now.
		_, err = w.exec(sqlBegin)
	}
	if err != nil {
		w.commitErrors.Add(1)
		for _, r := range batch {
			if w.turn(r) {
				r.answer(unavailable("begin a write", err))
			}
		}
		return nil, false
	}
	w.inTx, w.lost = true, false
	ran := make([]*request, 0, len(batch))
	for i, r := range batch {
		if !w.turn(r) {
			continue
		}
		r.tries++
		fnErr, txErr, undo := w.runOne(r, safe)
		if undo {
			// fn failed after writing: its writes are mixed with its
			// batch-mates'. Undo them all and run everything again, each
			// request in a savepoint.
			if err := w.rollback(); err != nil {
				w.commitErrors.Add(1)
				for _, m := range append(ran, r) {
					m.answer(unavailable("undo a failed write", errors.Join(err, fnErr)))
				}
				return batch[i+1:], safe
			}
			// Running again to undo is not a try lost to the database.
			for _, m := range append(ran, r) {
				m.tries--
			}
			again = append(append(ran, r), batch[i+1:]...)
			return again, true
		}
		if fnErr != nil {
			w.fnErrors.Add(1)
		}
		if txErr == nil {
			r.err = fnErr
			ran = append(ran, r)
			continue
		}
		// The transaction is gone or unusable: end it, answer this
		// request, and run its batch-mates again on a fresh one.
		w.commitErrors.Add(1)
		rbErr := w.rollback()
		r.answer(unavailable("complete a write", errors.Join(txErr, rbErr, fnErr)))
		for _, m := range ran {
			if m.tries < maxTries {
				again = append(again, m)
			} else {
				m.answer(unavailable("complete a write", txErr))
			}
		}
		return append(again, batch[i+1:]...), safe
	}
	if len(ran) == 0 { // every request was cancelled: nothing to commit
		if err := w.rollback(); err != nil {
			w.commitErrors.Add(1)
		}
		return nil, false
	}
	t := time.Now()
	_, err = w.exec(sqlCommit)
	commit := time.Since(t)
	if err != nil {
		w.commitErrors.Add(1)
		rbErr := w.rollback()
		// Every request gets the failure, not only those whose fn
		// succeeded: a fn that failed may have failed on state its
		// batch-mates wrote and that is now gone.
		for _, r := range ran {
			r.answer(unavailable("commit", errors.Join(err, rbErr)))
		}
		return nil, false
	}
	w.inTx = false
	w.batches.Add(1)
	w.requests.Add(uint64(len(ran)))
	var evMax int64
	for _, r := range ran {
		evMax = max(evMax, r.evMax)
	}
	if w.toSync != nil {
		w.toSync <- synced{reqs: ran, wait: wait, commitStart: t, evMax: evMax}
		return nil, false
	}
	w.eventsDurable(evMax)
	if w.opts.OnCommit != nil {
		w.opts.OnCommit(len(ran), wait, commit)
	}
	for _, r := range ran {
		r.answer(r.err)
	}
	return nil, false
}

// turn claims r's turn to run: false if its caller has given up (its
// context ended before it started), in which case it is answered and
// skipped. A request that has started keeps its turn.
func (w *writer) turn(r *request) bool {
	if r.started {
		return true
	}
	if err := r.ctx.Err(); err != nil {
		if r.state.CompareAndSwap(queued, cancelled) {
			r.answer(err)
		}
		return false
	}
	if !r.state.CompareAndSwap(queued, running) {
		return false
	}
	r.started = true
	return true
}

// runOne runs r's fn, inside a savepoint if safe. fnErr is fn's outcome;
// txErr says the transaction can no longer be used; undo says fn failed
// outside a savepoint after it wrote, so the transaction holds some of its
// writes.
func (w *writer) runOne(r *request, safe bool) (fnErr, txErr error, undo bool) {
	if safe {
		if _, err := w.exec(sqlSavepoint); err != nil {
			return nil, err, false
		}
	}
	w.wrote, w.evMax = false, 0
	tx := &Tx{w: w}
	fnErr = call(r.fn, tx)
	tx.done = true
	r.evMax = 0
	if fnErr == nil {
		r.evMax = w.evMax
	}
	// A read can fail in a way that makes SQLite roll the transaction back
	// (an I/O error) without any write noticing: ask the connection, so
	// the loss is laid to this request and not to the next one's write.
	if w.lost || w.autocommit() {
		w.lost = true
		return fnErr, errTxLost, false
	}
	if !safe {
		return fnErr, nil, fnErr != nil && w.wrote
	}
	if fnErr != nil {
		if _, err := w.exec(sqlRollbackTo); err != nil {
			return fnErr, err, false
		}
	}
	if _, err := w.exec(sqlRelease); err != nil {
		return fnErr, err, false
	}
	return fnErr, nil, false
}

// PanicError is a panic inside a write's fn, recovered by the writer.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("sqlite: write panicked: %v", e.Value) }

func call(fn func(points.Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return fn(tx)
}

const (
	sqlBegin      = "BEGIN IMMEDIATE"
	sqlCommit     = "COMMIT"
	sqlSavepoint  = "SAVEPOINT s"
	sqlRollbackTo = "ROLLBACK TO s"
	sqlRelease    = "RELEASE s"
)

var errTxLost = errors.New("sqlite: the transaction was rolled back by the database")

// rollback ends the current transaction, if SQLite has not already.
func (w *writer) rollback() error {
	w.inTx, w.lost = false, false
	if w.autocommit() {
		return nil
	}
	_, err := w.conn.ExecContext(context.Background(), "ROLLBACK")
	return err
}

// autocommit reports whether the write connection is outside any
// transaction.
func (w *writer) autocommit() bool {
	ac := false
	err := w.conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		ac = c.AutoCommit()
		return nil
	})
	return err == nil && ac
}

// stmt returns query prepared on the write connection, preparing it once.
func (w *writer) stmt(query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// failed notes a statement error: if SQLite rolled the transaction back
// because of it, nothing more may run in it (statements would otherwise
// commit one by one).
func (w *writer) failed(err error) error {
	if w.inTx && w.autocommit() {
		w.lost = true
	}
	return err
}

// The writer's statements run with a background context on purpose:
// interrupting a write statement makes SQLite roll back the whole
// transaction, batch-mates included.

// exec runs a statement that writes (or a transaction control statement)
// and reports how many rows it changed. It goes through the driver's exec
// path, which binds the arguments one call each: measured, that costs less
// than the query path's single call plus the row machinery of
// database/sql around it. (An UPDATE … RETURNING would report its rows
// too, but SQLite collects them in a temporary table first: a page cache
// set up and torn down per statement.)
func (w *writer) exec(query string, args ...any) (changed int, err error) {
	res, err := w.run(query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, w.failed(err)
	}
	return int(n), nil
}

// insert runs an INSERT and reports the row id it gave, 0 if it inserted
// nothing (ON CONFLICT DO NOTHING).
func (w *writer) insert(query string, args ...any) (id int64, err error) {
	res, err := w.run(query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, w.failed(err)
	}
	if n == 0 {
		return 0, nil
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, w.failed(err)
	}
	return id, nil
}

// run executes a writing statement on the writer's connection.
func (w *writer) run(query string, args ...any) (sql.Result, error) {
	w.wrote = true
	w.statements.Add(1)
	if w.inTx && !w.lost && w.autocommit() {
		// SQLite rolled the transaction back (a failed read can do it):
		// a statement now would run, and commit, on its own.
		w.lost = true
	}
	if w.lost {
		return nil, errTxLost
	}
	st, err := w.stmt(query)
	if err != nil {
		return nil, w.failed(err)
	}
	res, err := st.Exec(args...)
	if err != nil {
		return nil, w.failed(err)
	}
	return res, nil
}

// eventsDurable notes that the events up to pos are on disk.
func (w *writer) eventsDurable(pos int64) {
	for {
		cur := w.durableEvents.Load()
		if pos <= cur || w.durableEvents.CompareAndSwap(cur, pos) {
			return
		}
	}
}

// QueryContext makes the writer a queryer for the shared row loaders.
func (w *writer) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	w.statements.Add(1)
	if w.lost {
		return nil, errTxLost
	}
	st, err := w.stmt(query)
	if err != nil {
		return nil, w.failed(err)
	}
	rows, err := st.Query(args...)
	if err != nil {
		return nil, w.failed(err)
	}
	return rows, nil
}
