package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"jifen/points"
)

// Options tune a Dispatcher. The zero value is the default.
type Options struct {
	// RetryWindow is how long a delivery is retried before it is failed,
	// and how long an endpoint may fail before it is disabled (default
	// 72h).
	RetryWindow time.Duration
	// Timeout bounds one attempt, from dialling to the end of the answer's
	// headers (default 10s).
	Timeout time.Duration
	// Lease is how long a claimed delivery is held for its attempt before
	// another server may take it (default 3 × Timeout: longer than an
	// attempt and its record, so two servers never attempt one delivery
	// at once, and short enough that a dead server's claim returns soon).
	Lease time.Duration
	// Poll is how often events committed by other servers and retries
	// that fell due are looked for (default 1s); events committed through
	// this process's service are seen at once.
	Poll time.Duration
	// BackoffBase and BackoffMax shape the wait between attempts: full
	// jitter below min(BackoffMax, BackoffBase × 2^(attempts−1))
	// (defaults 5s and 1h).
	BackoffBase, BackoffMax time.Duration
	// Workers bounds the attempts in flight (default 64).
	Workers int
	// AllowPrivate lets deliveries reach loopback, link-local, private
	// and unspecified addresses.
	AllowPrivate bool
	Log          *slog.Logger
	// Now is the clock (default time.Now). Deliveries keep real time, not
	// the ledger's sandbox clock: leases are compared across servers.
	Now func() time.Time
	// OnAttempt, if set, is told of every attempt's result: Delivered,
	// Pending (to retry) or Failed.
	OnAttempt func(state string, latency time.Duration)
}

// Defaults of Options.RetryWindow and Options.Timeout.
const (
	DefaultRetryWindow = 72 * time.Hour
	DefaultTimeout     = 10 * time.Second
)

func (o Options) withDefaults() Options {
	if o.RetryWindow <= 0 {
		o.RetryWindow = DefaultRetryWindow
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Lease <= 0 {
		o.Lease = 3 * o.Timeout
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 5 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Source is where events come from: a points.Service.
type Source interface {
	Events(ctx context.Context, q points.EventQuery) ([]points.Event, error)
	EventsChanged() <-chan struct{}
}

// Dispatcher schedules and delivers events to the endpoints. Several
// dispatchers (one per server) may share one database.
type Dispatcher struct {
	src    Source
	store  Store
	opts   Options
	client *http.Client
	id     string // this dispatcher, in its leases
	claims atomic.Uint64
}

// NewDispatcher returns a dispatcher of src's events over store.
func NewDispatcher(src Source, store Store, o Options) *Dispatcher {
	o = o.withDefaults()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return &Dispatcher{src: src, store: store, opts: o, client: newClient(o.Timeout, o.AllowPrivate),
		id: hex.EncodeToString(b[:])}
}

// Run schedules and delivers until ctx ends, then waits for the attempts
// in flight to end and be recorded. Failures of the database are logged
// and tried again at the next poll.
func (d *Dispatcher) Run(ctx context.Context) error {
	rec := make(chan record)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.recordAll(ctx, rec)
	}()
	// Scheduling runs beside claiming: with writes committing all the
	// time, scheduling their events is never done, and claims made only
	// between its rounds left the workers idle.
	scheduled := make(chan struct{}, 1)
	scheduling := make(chan struct{})
	go func() {
		defer close(scheduling)
		d.scheduleAll(ctx, scheduled)
	}()
	var wg sync.WaitGroup
	defer func() {
		<-scheduling
		wg.Wait() // every attempt recorded (or failed to be)
		close(rec)
		<-recorded
	}()
	done := make(chan struct{}, d.opts.Workers)
	inFlight := 0
	tick := time.NewTicker(d.opts.Poll)
	defer tick.Stop()
	for {
		if n := d.opts.Workers - inFlight; n > 0 && ctx.Err() == nil {
			cs, err := d.claim(ctx, n)
			if err != nil && ctx.Err() == nil {
				d.opts.Log.Error("webhooks: claim", "error", err)
			}
			for _, c := range cs {
				inFlight++
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.deliver(ctx, c, rec)
					done <- struct{}{}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-scheduled:
		case <-tick.C:
		case <-done:
			inFlight--
		drain:
			for {
				select {
				case <-done:
					inFlight--
				default:
					break drain
				}
			}
		}
	}
}

// scheduleAll schedules the deliveries of new events until ctx ends, and
// tells of those it recorded on scheduled.
func (d *Dispatcher) scheduleAll(ctx context.Context, scheduled chan<- struct{}) {
	tick := time.NewTicker(d.opts.Poll)
	defer tick.Stop()
	for {
		changed := d.src.EventsChanged()
		more, n, err := d.schedule(ctx)
		if err != nil && ctx.Err() == nil {
			d.opts.Log.Error("webhooks: schedule", "error", err)
		}
		if n > 0 {
			select {
			case scheduled <- struct{}{}:
			default:
			}
		}
		if more && ctx.Err() == nil {
			continue // more events to schedule than one read holds
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// schedule records the deliveries of the events after each active
// endpoint's position, n of them; more says a read was full and more may
// follow.
func (d *Dispatcher) schedule(ctx context.Context) (more bool, n int, err error) {
	eps, err := d.store.Webhooks(ctx)
	if err != nil {
		return false, 0, err
	}
	var active []Endpoint
	from := int64(-1)
	for _, e := range eps {
		if e.Active() {
			active = append(active, e)
			if from < 0 || e.ScheduledPos < from {
				from = e.ScheduledPos
			}
		}
	}
	if len(active) == 0 {
		return false, 0, nil
	}
	const batch = points.MaxEventsPerRead
	evs, err := d.src.Events(ctx, points.EventQuery{After: from, Limit: batch})
	if err != nil || len(evs) == 0 {
		return false, 0, err
	}
	now := d.opts.Now()
	var errs []error
	for _, e := range active {
		to := e.ScheduledPos
		var ds []NewDelivery
		for _, ev := range evs {
			if ev.Pos <= e.ScheduledPos {
				continue
			}
			to = ev.Pos
			if e.Wants(ev) {
				ds = append(ds, NewDelivery{Pos: ev.Pos, BrandID: ev.BrandID, Subject: ev.Subject})
			}
		}
		if to == e.ScheduledPos {
			continue
		}
		// false: another server moved the position first (it recorded
		// these deliveries), or the endpoint changed; read again next time.
		ok, err := d.store.ScheduleDeliveries(ctx, e.ID, e.ScheduledPos, to, ds, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("webhook %s: %w", e.ID, err))
		} else if ok {
			n += len(ds)
		}
	}
	return len(evs) == batch, n, errors.Join(errs...)
}

// claim leases up to n due deliveries.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]Claimed, error) {
	owner := d.id + "-" + strconv.FormatUint(d.claims.Add(1), 36)
	now := d.opts.Now()
	return d.store.ClaimDeliveries(ctx, owner, now, now.Add(d.opts.Lease), n)
}

// maxRecords bounds the outcomes recorded in one transaction.
const maxRecords = 64

// record is an outcome to record, and where to say how it went.
type record struct {
	o    Outcome
	done chan<- recorded
}

type recorded struct {
	ok  bool
	err error
}

// recordAll records the outcomes sent on rec until it is closed: those
// that arrive while a transaction commits are recorded together in the
// next (one endpoint lock and one commit for all of them, rather than
// one after another each waiting for its own commit).
func (d *Dispatcher) recordAll(ctx context.Context, rec <-chan record) {
	ctx = context.WithoutCancel(ctx)
	for r := range rec {
		batch := []record{r}
	more:
		for len(batch) < maxRecords {
			select {
			case r, open := <-rec:
				if !open {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		os := make([]Outcome, len(batch))
		for i, r := range batch {
			os[i] = r.o
		}
		rctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
		oks, err := d.store.RecordAttempts(rctx, os)
		cancel()
		for i, r := range batch {
			res := recorded{err: err}
			if err == nil {
				res.ok = oks[i]
			}
			r.done <- res
		}
	}
}

// deliver attempts c and has the attempt recorded (on rec). The attempt
// runs to its end when ctx ends (a shutdown waits for it), bounded by the
// timeout.
func (d *Dispatcher) deliver(ctx context.Context, c Claimed, rec chan<- record) {
	ctx = context.WithoutCancel(ctx)
	at := d.opts.Now()
	a := d.attempt(ctx, c, at)
	o := Outcome{WebhookID: c.WebhookID, Pos: c.Event.Pos, BrandID: c.Event.BrandID, Subject: c.Event.Subject,
		Owner: c.Owner, Attempt: a, DisableBefore: at.Add(-d.opts.RetryWindow),
		DisableReason: fmt.Sprintf("every attempt failed for the retry window (%s); the last: %s", d.opts.RetryWindow, a.Error)}
	since := c.Since
	if since.IsZero() {
		since = at // this attempt starts the window
	}
	end := since.Add(d.opts.RetryWindow)
	switch {
	case a.Error == "":
		o.State = Delivered
	case !at.Before(end):
		o.State = Failed
	default:
		o.State = Pending
		o.NextAt = at.Add(d.backoff(a.N))
		if o.NextAt.After(end) {
			o.NextAt = end // one last attempt as the window closes
		}
	}
	if d.opts.OnAttempt != nil {
		d.opts.OnAttempt(o.State, a.Latency)
	}
	done := make(chan recorded, 1)
	rec <- record{o: o, done: done}
	res := <-done
	log := d.opts.Log.With("webhook_id", c.WebhookID, "event_id", c.Event.ID, "pos", c.Event.Pos, "attempt", a.N)
	switch {
	case res.err != nil:
		// The lease runs out and the delivery is attempted again: a
		// receiver may see an event twice, never not at all.
		log.Error("webhooks: record attempt", "error", res.err)
	case !res.ok:
		log.Warn("webhooks: attempt made after its lease ran out; another server has the delivery")
	case o.State == Failed:
		log.Warn("webhooks: delivery failed for its whole retry window", "error", a.Error)
	case o.State == Pending:
		log.Info("webhooks: attempt failed", "status", a.Status, "error", a.Error, "next_at", o.NextAt)
	}
}

// backoff is the wait before attempt n+1: full jitter below an
// exponential ceiling.
func (d *Dispatcher) backoff(n int) time.Duration {
	ceiling := d.opts.BackoffMax
	if n-1 < 40 {
		ceiling = min(ceiling, d.opts.BackoffBase<<(n-1))
	}
	if ceiling <= 0 {
		return 0
	}
	return mrand.N(ceiling) + 1
}

// maxErrorBytes bounds an attempt's recorded error.
const maxErrorBytes = 300

// attempt POSTs c's event, signed, and says how it went.
func (d *Dispatcher) attempt(ctx context.Context, c Claimed, at time.Time) Attempt {
	a := Attempt{N: c.Attempts + 1, At: at}
	body, err := c.Event.CloudEvent()
	if err != nil {
		a.Error = "encode the event: " + err.Error()
		return a
	}
	ts := at.Unix()
	sig, err := Sign(c.Secret, c.Event.ID, ts, body)
	if err != nil {
		a.Error = "sign: " + err.Error()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = clip(err.Error())
		return a
	}
	req.Header.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
	req.Header.Set("User-Agent", "jifen-webhooks")
	req.Header.Set("webhook-id", c.Event.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		a.Latency = time.Since(start)
		a.Error = clip(err.Error())
		return a
	}
	// Read a little of the answer, so the connection can be reused and a
	// refusal's reason recorded; the timeout bounds this too.
	head, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	a.Latency = time.Since(start)
	a.Status = resp.StatusCode
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = clip(fmt.Sprintf("HTTP %d: redirect to %q not followed", resp.StatusCode, resp.Header.Get("Location")))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		a.Error = clip(fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(head)))
	case rerr != nil:
		// Acknowledged: the status is the answer; the rest of the body
		// says nothing jifen reads.
	}
	return a
}

// clip makes s fit to record and show: valid UTF-8 without control
// characters, at most maxErrorBytes.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= maxErrorBytes {
		return s
	}
	cut := maxErrorBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
