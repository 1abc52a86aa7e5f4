package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"jifen/approval"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"jifen/admin"
	"jifen/backoffice"
	"jifen/bodylimit"
	"jifen/metrics"
	"jifen/natsout"
	"jifen/operator"
	"jifen/points"
	"jifen/postgres"
	"jifen/top"
	"jifen/webhook"
)

type serveCmd struct {
	addr       string
	store      storeFlags
	noMigrate  bool
	demo       bool
	sandbox    bool
	adminToken string
	logFormat  string
	sweep      time.Duration
	// eventRetention is how long events are kept (0: for ever).
	eventRetention time.Duration
	pprofAddr      string
	tsWindow       time.Duration
	trusted        []netip.Prefix
	bodyTime       time.Duration
	nats           natsout.Config
	webhooks       webhook.Options
	readDBs        []string      // --read-db
	maxLag         time.Duration // --max-replica-lag
}

func (c *serveCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	c.store.register(fs)
	fs.BoolVar(&c.noMigrate, "no-migrate", false, "PostgreSQL: do not apply migrations at start (refuse an old schema instead)")
	fs.BoolVar(&c.demo, "demo", false, "create or reuse a demo tenant and print how to call it")
	fs.BoolVar(&c.sandbox, "sandbox", false, "serve /sandbox/clock so the ledger's clock can be moved forward (needs --admin-token)")
	fs.StringVar(&c.adminToken, "admin-token", os.Getenv("JIFEN_ADMIN_TOKEN"), "bearer token for the admin API, console and sandbox (or JIFEN_ADMIN_TOKEN)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&c.sweep, "sweep-interval", time.Second, "how often expired lots and timed-out holds are swept")
	fs.DurationVar(&c.eventRetention, "event-retention", 0, "remove events older than this that every webhook endpoint "+
		"and NATS stream has got, e.g. 720h (0: keep every event)")
	fs.Func("trusted-proxy", "address or CIDR of a reverse proxy in front of jifen, whose X-Forwarded-For names the client (repeatable)", func(v string) error {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, err2 := netip.ParseAddr(v)
			if err2 != nil {
				return fmt.Errorf("want an address or CIDR such as 10.0.0.0/8: %w", err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() { // addresses are compared unmapped
			p = netip.PrefixFrom(p.Addr().Unmap(), max(0, p.Bits()-96))
		}
		c.trusted = append(c.trusted, p.Masked())
		return nil
	})
	fs.DurationVar(&c.tsWindow, "timestamp-window", top.DefaultTimestampWindow, "how far a request's timestamp may be from the server's clock, either way")
	fs.DurationVar(&c.bodyTime, "body-timeout", bodylimit.DefaultTimeout, "how long a request's body may take to arrive, from the end of its headers; a slower one is refused and its connection closed")
	fs.StringVar(&c.nats.URL, "nats", "", "publish events to NATS JetStream at this URL, e.g. nats://127.0.0.1:4222 (off when empty)")
	fs.StringVar(&c.nats.Stream, "nats-stream", natsout.DefaultStream, "the JetStream stream to publish to (created if absent)")
	fs.StringVar(&c.nats.Prefix, "nats-subject-prefix", natsout.DefaultPrefix, "events are published on <prefix>.<brand>.<type>")
	fs.BoolVar(&c.nats.FromStart, "nats-from-start", false, "a stream holding no event of jifen's starts at the first event, not the newest")
	fs.DurationVar(&c.nats.Poll, "nats-poll-interval", natsout.DefaultPoll, "how often to look for events committed by other servers of the database")
	fs.BoolVar(&c.webhooks.AllowPrivate, "webhook-allow-private", false, "let webhooks reach loopback, link-local, private and unspecified addresses (consumers on a private network; tests)")
	fs.DurationVar(&c.webhooks.RetryWindow, "webhook-retry-window", webhook.DefaultRetryWindow, "how long an unacknowledged webhook delivery is retried before it is failed, and an endpoint failing throughout it disabled")
	fs.DurationVar(&c.webhooks.Timeout, "webhook-timeout", webhook.DefaultTimeout, "how long one webhook delivery attempt may take")
	fs.Func("read-db", "PostgreSQL: a streaming replica of --db (postgres:// URL) to serve the console's and admin API's reads, exports and totals from (repeatable); TOP methods and writes stay on --db", func(v string) error {
		if !isPostgres(v) {
			return errors.New("want a postgres:// URL of a streaming replica of --db")
		}
		c.readDBs = append(c.readDBs, v)
		return nil
	})
	fs.DurationVar(&c.maxLag, "max-replica-lag", postgres.DefaultMaxReplicaLag, "a --read-db replica further behind --db than this (or not answering) is skipped for --db")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve Go's profiler (net/http/pprof) on this separate address, e.g. 127.0.0.1:6060 (off when empty)")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if c.tsWindow <= 0 {
		return fmt.Errorf("--timestamp-window must be positive, got %s", c.tsWindow)
	}
	if c.bodyTime <= 0 {
		return fmt.Errorf("--body-timeout must be positive, got %s", c.bodyTime)
	}
	if c.webhooks.RetryWindow <= 0 || c.webhooks.Timeout <= 0 {
		return fmt.Errorf("--webhook-retry-window and --webhook-timeout must be positive, got %s and %s",
			c.webhooks.RetryWindow, c.webhooks.Timeout)
	}
	if c.adminToken != "" && len(c.adminToken) < minAdminToken {
		return fmt.Errorf("the admin token must be at least %d characters: anyone who guesses it can reverse and adjust points", minAdminToken)
	}
	if c.sandbox && c.adminToken == "" {
		return errors.New("--sandbox needs --admin-token (or JIFEN_ADMIN_TOKEN)")
	}
	if err := c.checkNATS(); err != nil {
		return err
	}
	if len(c.readDBs) > 0 && !isPostgres(c.store.db) {
		return errors.New("--read-db needs a PostgreSQL --db (postgres:// URL): the embedded SQLite database has no replicas")
	}
	if c.maxLag <= 0 {
		return fmt.Errorf("--max-replica-lag must be positive, got %s", c.maxLag)
	}
	log := newLogger(stderr, c.logFormat)
	tuneGC()
	m := metrics.New()
	c.store.metrics = m

	store, err := c.store.open(ctx, !c.noMigrate)
	if err != nil {
		return err
	}
	defer store.Close()
	if pg, ok := store.(*postgres.Store); ok {
		warnAutovacuum(ctx, pg, c.eventRetention, log)
	}
	read, err := c.openReplicas(ctx, store, m, log)
	if err != nil {
		return err
	}
	if read != nil {
		defer read.Close()
	}

	var clock points.Clock = points.WallClock{}
	var sandbox *points.SandboxClock
	if c.sandbox {
		sandbox = &points.SandboxClock{}
		clock = sandbox
	}
	svc := points.New(store, clock, log)
	svc.SetObserver(m)

	if c.pprofAddr != "" {
		if err := servePprof(c.pprofAddr, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	if c.demo {
		d, err := setupDemo(ctx, svc)
		if err != nil {
			ln.Close()
			return fmt.Errorf("demo tenant: %w", err)
		}
		if c.adminToken == "" {
			c.adminToken = points.NewSecret() // the demo's console needs one: made for this run
			d.adminToken = c.adminToken
		}
		d.self, d.selfDir = selfCommand()
		d.print(stdout, base)
	}

	var onShutdown []func()
	handler := newHandler(handlerConfig{svc: svc, store: store, read: reader(read), hooks: store, log: log, metrics: m, sandbox: sandbox,
		adminToken: c.adminToken, tsWindow: c.tsWindow, bodyTimeout: c.bodyTime,
		throttle:   admin.NewThrottle(time.Second, 10, c.trusted...),
		onShutdown: func(f func()) { onShutdown = append(onShutdown, f) }})
	srv := newHTTPServer(handler)
	for _, f := range onShutdown {
		srv.RegisterOnShutdown(f)
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go svc.SweepEvery(sweepCtx, c.sweep, func(r points.SweepResult, err error) {
		m.ObserveSweep(r.Expired, r.Released, r.Lag, err)
		if err != nil {
			log.Error("sweep", "error", err)
		} else if r.Expired+r.Released+r.Reminded > 0 {
			log.Info("sweep", "expired_accounts", r.Expired, "released_holds", r.Released, "expiry_reminders", r.Reminded, "lag", r.Lag)
		}
	})
	go retryApprovals(sweepCtx, approval.New(store, backoffice.New(svc, store)), c.sweep, log)

	// The publisher stops after the HTTP server (its last writes may
	// still be published) and before the store closes; stopping at any
	// moment loses nothing, as the next start resumes after what the
	// stream holds.
	var pubErr chan error // nil: no publisher
	if c.nats.URL != "" {
		c.nats.Log = log
		var published atomic.Int64
		c.nats.Observe = func(p natsout.Progress) {
			published.Store(p.Position)
			m.ObserveNATS(p.Stored, p.Duplicates, p.Position, p.Newest, p.Failed)
		}
		// Event retention keeps what the stream has not got: how far it
		// got is recorded while this server runs the publisher — first
		// now, before any removal, as 0 (not known yet: everything is held
		// back until the publisher has read the stream's end).
		name := natsout.OutputName(c.nats.Stream, c.nats.Prefix)
		if err := svc.RecordOutput(ctx, name, 0); err != nil {
			ln.Close()
			return fmt.Errorf("--nats: record the stream's position for event retention: %w", err)
		}
		go recordOutput(sweepCtx, svc, name, outputEvery(c.eventRetention), published.Load, log)
		pub, err := natsout.New(svc, c.nats)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--nats: %w", err)
		}
		pubCtx, stopPub := context.WithCancel(context.Background())
		pubErr = make(chan error, 1)
		pubDone := make(chan struct{})
		go func() {
			defer close(pubDone)
			pubErr <- pub.Run(pubCtx)
		}()
		defer func() { stopPub(); <-pubDone }()
	}

	if c.eventRetention > 0 {
		// Every minute, or a tenth of the retention if that is shorter;
		// after the NATS stream's position is recorded.
		every := min(time.Minute, max(time.Second, c.eventRetention/10))
		go pruneEvents(sweepCtx, svc, c.eventRetention, every, log, m.ObserveEventsRemoved)
	}

	// Webhooks: every server delivers; leases keep two from sending one
	// delivery at once.
	c.webhooks.Log, c.webhooks.OnAttempt = log, m.ObserveWebhookAttempt
	dispatchCtx, stopDispatch := context.WithCancel(ctx)
	dispatched := make(chan error, 1)
	go func() { dispatched <- webhook.NewDispatcher(svc, store, c.webhooks).Run(dispatchCtx) }()
	var dispatchErr error
	waitDispatch := sync.OnceFunc(func() { stopDispatch(); dispatchErr = <-dispatched })
	defer waitDispatch() // before the store closes, however serve ends
	if c.webhooks.AllowPrivate {
		log.Warn("webhooks may reach private, loopback and link-local addresses (--webhook-allow-private)")
	}

	log.Info("jifen serving", "addr", base, "db", redact(c.store.db), "gateway", base+"/router/rest", "sandbox", c.sandbox)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case err := <-pubErr:
		if err == nil {
			err = errors.New("stopped")
		}
		return fmt.Errorf("nats publisher: %w", err)
	case <-ctx.Done():
	}
	// Stop accepting, finish and answer what is in flight, then close the
	// store, which commits what its writer holds: nothing acknowledged is
	// lost.
	log.Info("shutting down")
	stopSweep()
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Webhook attempts in flight end (within their timeout) and are
	// recorded before the store closes.
	waitDispatch()
	if dispatchErr != nil {
		return fmt.Errorf("webhooks: %w", dispatchErr)
	}
	return nil
}

// openReplicas opens the --read-db replicas in front of store (nil
// without any), reporting their lag to m and their changes of use to log.
func (c *serveCmd) openReplicas(ctx context.Context, store ledgerStore, m *metrics.Metrics, log *slog.Logger) (*postgres.Replicas, error) {
	if len(c.readDBs) == 0 {
		return nil, nil
	}
	primary, ok := store.(*postgres.Store)
	if !ok {
		return nil, errors.New("--read-db needs a PostgreSQL --db")
	}
	var mu sync.Mutex
	inUse := map[string]bool{}
	o := postgres.ReplicaOptions{MaxLag: c.maxLag,
		Options: postgres.Options{MaxConns: int32(c.store.maxConns), StatementTimeout: c.store.statementTimeout, Timeout: c.store.dbTimeout},
		OnCheck: func(st postgres.ReplicaState) {
			m.ObserveReplica(st.Name, st.Lag, st.Known, st.InUse)
			mu.Lock()
			was, seen := inUse[st.Name]
			inUse[st.Name] = st.InUse
			mu.Unlock()
			switch {
			case st.InUse && (!seen || !was):
				log.Info("read replica in use", "replica", st.Name, "lag", st.Lag)
			case !st.InUse && (!seen || was):
				log.Warn("read replica skipped: its reads go to the primary", "replica", st.Name, "lag", st.Lag, "known", st.Known,
					"max_lag", c.maxLag, "error", st.Err)
			}
		}}
	r, err := postgres.OpenReplicas(ctx, primary, c.readDBs, o)
	if err != nil {
		return nil, fmt.Errorf("--read-db: %w", err)
	}
	return r, nil
}

// reader is r as the operators' reader; nil (the store's) without one.
func reader(r *postgres.Replicas) backoffice.Reader {
	if r == nil {
		return nil
	}
	return r
}

// checkNATS refuses NATS flags that could not work, naming the flag.
func (c *serveCmd) checkNATS() error {
	if c.nats.URL == "" {
		return nil
	}
	if err := natsout.CheckStream(c.nats.Stream); err != nil {
		return fmt.Errorf("--nats-stream: %w", err)
	}
	if err := natsout.CheckPrefix(c.nats.Prefix); err != nil {
		return fmt.Errorf("--nats-subject-prefix: %w", err)
	}
	if c.nats.Poll <= 0 {
		return fmt.Errorf("--nats-poll-interval must be positive, got %s", c.nats.Poll)
	}
	if _, err := natsout.New(nil, c.nats); err != nil {
		return fmt.Errorf("--nats: %w", err)
	}
	return nil
}

// adminStore is what the admin API and console need of a store.
type adminStore interface {
	backoffice.Reader
	operator.Store
	approval.Store
}

// handlerConfig is what the HTTP side of jifen is built from.
type handlerConfig struct {
	svc *points.Service
	// store is the service's store, which the admin API and console read
	// (backoffice.Reader) and keeps the operators in (operator.Store).
	store adminStore
	// read, if set, serves the admin API's and console's reads instead of
	// store (read replicas).
	read backoffice.Reader
	// hooks keeps the webhooks' state, for the admin API and console; nil:
	// they do not serve webhooks.
	hooks   webhook.Store
	log     *slog.Logger
	metrics *metrics.Metrics     // nil: a private set, fed by the gateway only
	sandbox *points.SandboxClock // nil: no /sandbox/clock
	// onShutdown, when set, is given what to run when the server starts
	// shutting down.
	onShutdown func(func())
	adminToken string
	tsWindow   time.Duration // 0: the platform's ±10 minutes
	// bodyTimeout is how long a request body may take to arrive; 0:
	// bodylimit.DefaultTimeout.
	bodyTimeout time.Duration
	// throttle counts wrong admin tokens wherever the token is checked
	// (API, console sign-in, sandbox); nil: one with no trusted proxies.
	throttle *admin.Throttle
}

// newHandler routes every path jifen serves, in one visible table. Every
// route's request body is bounded in time and memory (package bodylimit):
// each handler reads its whole body before acting, and slow clients must
// not be able to hold that memory, or their connections, at will.
func newHandler(c handlerConfig) http.Handler {
	if c.metrics == nil {
		c.metrics = metrics.New()
	}
	if c.throttle == nil {
		c.throttle = admin.NewThrottle(time.Second, 10)
	}
	adapter := &top.Points{Svc: c.svc}
	gw := &top.Gateway{Apps: adapter, Methods: adapter.Methods(), Logger: c.log, Observe: c.metrics.ObserveRequest,
		TimestampWindow: c.tsWindow}
	mux := http.NewServeMux()
	mux.Handle("/router/rest", gw)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /readyz", readyz(c.svc.Store()))
	mux.Handle("GET /metrics", c.metrics.Handler())
	if c.sandbox != nil {
		mux.Handle("/sandbox/clock", sandboxHandler(c.sandbox, c.adminToken, c.throttle))
	}
	mountAdmin(mux, c) // /admin/v1/ and /console/
	return bodylimit.New(c.bodyTimeout, bodylimit.DefaultBudget).Wrap(mux)
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// servePprof serves the Go profiler on its own listener, never on the
// gateway's address: profiles reveal internals and are for whoever runs
// the machine.
func servePprof(addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	log.Info("profiler serving", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	go func() {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := srv.Serve(ln); err != nil {
			log.Error("profiler", "error", err)
		}
	}()
	return nil
}

// warnAutovacuum says so when PostgreSQL does not vacuum by itself: the
// space of every updated and removed row is then never used again, and
// the database grows however short --event-retention is.
func warnAutovacuum(ctx context.Context, s *postgres.Store, retention time.Duration, log *slog.Logger) {
	on, err := s.Autovacuum(ctx)
	if err != nil {
		log.Warn("could not read PostgreSQL's autovacuum setting", "error", err)
		return
	}
	if !on {
		var attrs []any
		if retention > 0 {
			attrs = append(attrs, "event_retention", retention.String())
		}
		log.Warn("PostgreSQL's autovacuum is off (or track_counts): the space of updated and removed rows is never used again, "+
			"so the database only grows, whatever --event-retention removes; turn it on, or run VACUUM regularly", attrs...)
	}
}

// tuneGC collects garbage less often than Go's default, which spends a
// tenth of a loaded server's CPU on it (the live heap is small: caches and
// requests in flight), and caps the heap (96 MiB) so memory stays bounded. GOGC and
// GOMEMLIMIT, when set, decide instead.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
}

// newHTTPServer is the gateway's HTTP server. Its header timeout also runs
// from the moment a connection is accepted to its first request: a client
// that opens a connection and first uses it later from its idle pool (Go's
// keeps them 90 s) must not find it closed under it, or the request it
// sends meets a reset. So it is as long as the idle timeout. Bodies are
// bounded per request (newHandler), not by ReadTimeout, which would run
// from a connection's accept too.
func newHTTPServer(h http.Handler) *http.Server {
	const idle = 2 * time.Minute
	return &http.Server{Handler: h, ReadHeaderTimeout: idle, IdleTimeout: idle}
}
