// Package bodylimit bounds what request bodies can cost a server, in time
// and in memory. Every handler behind jifen's gateway, admin API and
// console reads its whole body before it acts (a TOP call is signed over
// all its parameters; a JSON or form body is decoded whole), so a client
// that sends most of a large body and then trickles the rest would hold
// that memory, and a connection, for as long as it liked.
//
// A Limiter gives each body a deadline (from when the handler starts to
// the body's last byte) and takes the bytes read beyond a small per-request
// allowance from one budget shared by every request in flight. A body that
// misses its deadline fails with ErrTimeout; a body that would overdraw the
// budget fails with ErrBusy. Each handler maps those errors to its own wire
// (top/errors.go, admin/errors.go).
package bodylimit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

const (
	// DefaultTimeout is how long a body may take to arrive: ample for the
	// largest body jifen accepts (a 4 MiB tenant file) on a slow link,
	// short enough that a trickling client is let go soon.
	DefaultTimeout = 30 * time.Second
	// DefaultBudget is how many body bytes beyond their allowances all
	// requests in flight may hold together. It is kept well under the
	// server's 96 MiB heap limit: a body being read costs up to about
	// twice its size in buffers.
	DefaultBudget = 32 << 20
	// Allowance is what a body may hold without touching the budget. Point
	// calls and console forms are a few hundred bytes to a few KiB, so
	// slow large bodies that exhaust the budget never refuse them. It is
	// kept small because it is paid per connection: an open connection
	// costs about 22 KB anyway (its buffers and goroutines), 29 KB with a
	// slow body of 8 KiB (measured, docs/slow-clients.md).
	Allowance = 8 << 10
)

var (
	// ErrTimeout is the error of a body read that missed the body's
	// deadline.
	ErrTimeout = errors.New("request body not received in time")
	// ErrBusy is the error of a body read that would take the bodies in
	// flight over the budget.
	ErrBusy = errors.New("too many large request bodies in flight")
)

// Limiter bounds request bodies. Its zero value is not usable; use New.
type Limiter struct {
	timeout time.Duration
	budget  int64
	used    atomic.Int64
}

// New returns a Limiter that gives each body timeout to arrive (0:
// DefaultTimeout) and lets bodies in flight hold budget bytes beyond their
// allowances (0: DefaultBudget).
func New(timeout time.Duration, budget int64) *Limiter {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if budget <= 0 {
		budget = DefaultBudget
	}
	return &Limiter{timeout: timeout, budget: budget}
}

// Timeout is how long a body may take to arrive.
func (l *Limiter) Timeout() time.Duration { return l.timeout }

// InFlight is how many bytes of the budget requests in flight hold now.
func (l *Limiter) InFlight() int64 { return l.used.Load() }

// Wrap bounds the body of every request h serves. The deadline is the
// connection's read deadline, so a client that sends nothing more is cut
// off too, not only one that sends slowly; net/http lifts it once the
// body has been read to its end (to watch for the client going away), so
// a handler that works longer than the deadline after its body arrived
// keeps its request's context. The budget a request took is given back
// when h returns, when what it read can be collected.
//
// A body refused for the budget is not read again: its connection's
// deadline is moved to now. Otherwise net/http, before answering, would
// wait for up to 256 KiB more of it (to keep the connection), and a
// client trickling its last bytes would hold the answer, and the
// connection, until the deadline.
func (l *Limiter) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// A ResponseWriter that cannot set deadlines (a test recorder)
		// has no connection to hold; the budget still applies.
		_ = rc.SetReadDeadline(time.Now().Add(l.timeout))
		b := &body{src: r.Body, l: l, rc: rc}
		defer b.release()
		// A shallow copy: net/http keeps looking at the request it made,
		// whose body must stay its own to know what is left unread.
		r = r.WithContext(r.Context())
		r.Body = b
		h.ServeHTTP(w, r)
	})
}

// reserve takes n bytes of the budget, or none if that would overdraw it.
func (l *Limiter) reserve(n int64) bool {
	for {
		cur := l.used.Load()
		if cur+n > l.budget {
			return false
		}
		if l.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// body counts what is read from src against the limiter.
type body struct {
	src      io.ReadCloser
	l        *Limiter
	rc       *http.ResponseController
	read     int64 // bytes read so far
	reserved int64 // of which taken from the budget
	err      error // once refused, every later read is
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.src.Read(p)
	b.read += int64(n)
	if over := b.read - Allowance - b.reserved; over > 0 {
		if !b.l.reserve(over) {
			b.err = ErrBusy
			_ = b.rc.SetReadDeadline(time.Now())
			return 0, b.err
		}
		b.reserved += over
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.err = fmt.Errorf("%w: %w", ErrTimeout, err)
		return n, b.err
	}
	return n, err
}

func (b *body) Close() error { return b.src.Close() }

func (b *body) release() {
	b.l.used.Add(-b.reserved)
	b.reserved = 0
}
