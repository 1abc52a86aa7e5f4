package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
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
	// Workers bounds the retries of delivery rows in flight, and, per
	// endpoint, the members a batch attempts at once (default 64).
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

// Dispatcher delivers events to the endpoints. Several
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
	return &Dispatcher{src: src, store: store, opts: o, client: newClient(o.Timeout, o.AllowPrivate, o.Workers),
		id: hex.EncodeToString(b[:])}
}

// Run delivers until ctx ends, then waits for the attempts
// in flight to end and be recorded. Failures of the database are logged
// and tried again at the next poll.
func (d *Dispatcher) Run(ctx context.Context) error {
	rec := make(chan record)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		d.recordAll(ctx, rec)
	}()
	// The endpoints' cursors run beside the claims of the deliveries
	// they leave behind (retries, and members waiting for them).
	queued := make(chan struct{}, 1) // a batch left delivery rows to claim
	following := make(chan struct{})
	go func() {
		defer close(following)
		d.followAll(ctx, queued)
	}()
	var wg sync.WaitGroup
	defer func() {
		<-following
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
		case <-queued:
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

// followAll runs a cursor (follow) for every active endpoint until ctx
// ends, and tells on queued when a batch left deliveries to claim.
func (d *Dispatcher) followAll(ctx context.Context, queued chan<- struct{}) {
	tick := time.NewTicker(d.opts.Poll)
	defer tick.Stop()
	running := map[string]bool{}
	exited := make(chan string)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		eps, err := d.store.Webhooks(ctx)
		if err != nil && ctx.Err() == nil {
			d.opts.Log.Error("webhooks: list endpoints", "error", err)
		}
		for _, e := range eps {
			if e.Active() && !running[e.ID] {
				running[e.ID] = true
				wg.Go(func() {
					d.follow(ctx, e.ID, queued)
					select {
					case exited <- e.ID:
					case <-ctx.Done():
					}
				})
			}
		}
		select {
		case <-ctx.Done():
			return
		case id := <-exited:
			delete(running, id)
		case <-tick.C:
		}
	}
}

// release gives up the endpoint's lease, if this dispatcher holds it, as
// it stops: a batch that moves the cursor nowhere and ends the lease, so
// that a server started in its place (with another id) delivers at once
// rather than when the lease would have run out.
func (d *Dispatcher) release(ctx context.Context, id string, cur *cursor) {
	if !cur.lease.After(d.opts.Now()) {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.Timeout)
	defer cancel()
	if _, err := d.store.CommitBatch(rctx, Batch{WebhookID: id, Owner: d.id, From: cur.pos, To: cur.pos,
		Start: d.opts.Now()}); err != nil {
		d.opts.Log.Warn("webhooks: release the lease", "webhook_id", id, "error", err)
	}
}

// errInactive ends an endpoint's cursor: it is disabled or gone.
var errInactive = errors.New("endpoint disabled or gone")

// errLeased is a pass that found the endpoint's cursor leased to another
// server.
var errLeased = errors.New("endpoint leased to another server")

// follow delivers endpoint id's events batch after batch, while it is
// active, until ctx ends.
func (d *Dispatcher) follow(ctx context.Context, id string, queued chan<- struct{}) {
	tick := time.NewTicker(d.opts.Poll)
	defer tick.Stop()
	var cur cursor
	defer d.release(ctx, id, &cur)
	for {
		changed := d.src.EventsChanged()
		more, err := d.pass(ctx, id, &cur, queued)
		if errors.Is(err, errInactive) {
			return
		}
		if errors.Is(err, errLeased) {
			// Another server delivers; it may die, so look again at the
			// next poll — not at every event, which would try the lease
			// (a write) as often as this server commits.
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			continue
		}
		if err != nil && ctx.Err() == nil {
			d.opts.Log.Error("webhooks: deliver", "webhook_id", id, "error", err)
		}
		if more && err == nil && ctx.Err() == nil {
			continue // more events than one read holds
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// pass makes one batch of endpoint id's cursor: it reads the events
// after it; takes (or renews) the endpoint's lease, which keeps other
// servers off this cursor; attempts each wanted event, a member's in
// order and members side by side, each once; and commits what came of
// them. An event not acknowledged at once, and its member's later ones,
// are left to delivery rows, retried by claims. more says the read was
// full.
func (d *Dispatcher) pass(ctx context.Context, id string, cur *cursor, queued chan<- struct{}) (more bool, err error) {
	lease := &cur.lease
	e, err := d.store.Webhook(ctx, id)
	if errors.Is(err, points.ErrNotFound) || err == nil && !e.Active() {
		return false, errInactive
	}
	if err != nil {
		return false, err
	}
	const limit = points.MaxEventsPerRead
	evs, err := d.src.Events(ctx, points.EventQuery{After: e.ScheduledPos, Limit: limit})
	if err != nil || len(evs) == 0 {
		return false, err
	}
	// The lease: taken, or renewed while at least an attempt's time and
	// a commit's are left of it.
	now := d.opts.Now()
	if lease.Before(now.Add(2 * d.opts.Timeout)) {
		until := now.Add(d.opts.Lease)
		le, ok, err := d.store.LeaseEndpoint(ctx, id, d.id, now, until)
		if err != nil {
			return false, err
		}
		if !ok {
			*lease = time.Time{}
			if le.ID == "" || !le.Active() { // gone, or disabled
				return false, errInactive
			}
			return false, errLeased
		}
		*lease, cur.pos = until, le.ScheduledPos
		if le.ScheduledPos != e.ScheduledPos { // moved by another server before this lease
			e = le
			if evs, err = d.src.Events(ctx, points.EventQuery{After: e.ScheduledPos, Limit: limit}); err != nil || len(evs) == 0 {
				return false, err
			}
		}
		e = le
	}
	if gap := evs[0].Pos - e.ScheduledPos - 1; gap > 0 && cur.gapAt != e.ScheduledPos {
		// Positions have no gaps: these were removed after the retention
		// period while the endpoint was disabled (an active one holds them
		// back).
		cur.gapAt = e.ScheduledPos
		d.opts.Log.Error("webhooks: events after the endpoint's cursor were removed after the retention period; delivery goes on after them",
			"webhook_id", id, "cursor", e.ScheduledPos, "missed", gap)
	}
	b, err := d.batch(ctx, e, evs, cur)
	if err != nil {
		return false, err
	}
	b.LeaseUntil = d.opts.Now().Add(d.opts.Lease)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.Timeout)
	ok, err := d.store.CommitBatch(cctx, b)
	cancel()
	if err != nil || !ok {
		// Not committed: the events are delivered again from the
		// cursor, by this server or another — a receiver may see an
		// event twice, never not at all.
		*lease = time.Time{}
		if err == nil {
			d.opts.Log.Warn("webhooks: batch not committed: the endpoint's lease or cursor moved, or it was disabled",
				"webhook_id", id, "from", b.From, "to", b.To)
		}
		return false, err
	}
	*lease, cur.pos = b.LeaseUntil, b.To
	if len(b.Queued) > 0 {
		select {
		case queued <- struct{}{}:
		default:
		}
	}
	return len(evs) == limit, nil
}

// cursor is what a dispatcher keeps of one endpoint's cursor between
// batches.
type cursor struct {
	// lease is until when this dispatcher holds the endpoint's lease, as
	// far as it knows, and pos the cursor under it.
	lease time.Time
	pos   int64
	// gapAt is the cursor after which removed events were last reported.
	gapAt int64
	// latency is a moving average of the endpoint's answers (atomic:
	// the batch's attempts update it side by side).
	latency atomic.Int64
}

// batchTime is how long a batch's attempts are sized to take, and
// minWidth the fewest members a batch attempts at once.
const (
	batchTime = 100 * time.Millisecond
	minWidth  = 4
)

// width is how many members a batch of n events attempts at once, up to
// most: enough to make its attempts within batchTime at the endpoint's
// latency (Little's law: in flight = rate × latency). A distant endpoint
// gets many attempts at once; a quick one few, which costs less CPU for
// the same events (measured: docs/benchmarks.md, "Delivery by cursor").
func (c *cursor) width(n, most int) int {
	w := int(time.Duration(n)*time.Duration(c.latency.Load())/batchTime) + 1
	return max(min(w, most), min(minWidth, most))
}

// observe adds an answer's latency to the average (weight 1/8).
func (c *cursor) observe(l time.Duration) {
	for {
		old := c.latency.Load()
		if c.latency.CompareAndSwap(old, old+(int64(l)-old)/8) {
			return
		}
	}
}

// batch attempts e's wanted events among evs (the events after its
// cursor) and says what came of each. Attempts start while the lease
// leaves time for one more and a commit, and stop at the first that got
// no answer (the endpoint looks down: the rest are left to claims and
// their backoff); a member whose earlier delivery is pending, or whose
// attempt failed, has its later events queued behind it.
func (d *Dispatcher) batch(ctx context.Context, e Endpoint, evs []points.Event, cur *cursor) (Batch, error) {
	b := Batch{WebhookID: e.ID, Owner: d.id, From: e.ScheduledPos, To: evs[len(evs)-1].Pos, Start: d.opts.Now()}
	var order []Queue
	members := map[Queue][]points.Event{}
	wanted := 0
	for _, ev := range evs {
		if !e.Wants(ev) {
			continue
		}
		wanted++
		q := Queue{BrandID: ev.BrandID, Subject: ev.Subject}
		if _, ok := members[q]; !ok {
			order = append(order, q)
		}
		members[q] = append(members[q], ev)
	}
	if len(order) == 0 {
		return b, nil
	}
	waiting, err := d.store.QueuedMembers(ctx, e.ID, order)
	if err != nil {
		return b, err
	}
	behind := make(map[Queue]bool, len(waiting))
	for _, q := range waiting {
		behind[q] = true
	}
	stopAt := cur.lease.Add(-d.opts.Timeout - d.opts.Timeout/2)
	var (
		mu      sync.Mutex
		stopped atomic.Bool
		wg      sync.WaitGroup
	)
	// Members side by side, as many at once as the batch's size and the
	// endpoint's latency ask for (see cursor.width), up to Workers.
	var running int
	free := sync.NewCond(&mu)
	c := Claimed{WebhookID: e.ID, URL: e.URL, Secret: e.Secret}
	for _, q := range order {
		evs := members[q]
		if behind[q] {
			mu.Lock()
			for _, ev := range evs {
				b.Queued = append(b.Queued, Queued{Pos: ev.Pos, BrandID: ev.BrandID, Subject: ev.Subject, State: Pending,
					NextAt: b.Start})
			}
			mu.Unlock()
			continue
		}
		mu.Lock()
		for running >= cur.width(wanted, d.opts.Workers) {
			free.Wait()
		}
		running++
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				running--
				mu.Unlock()
				free.Signal()
			}()
			var delivered []BatchItem
			var queued []Queued
			var failedAt time.Time
			var reason string
			for i, ev := range evs {
				at := d.opts.Now()
				if stopped.Load() || ctx.Err() != nil || !at.Before(stopAt) {
					for _, ev := range evs[i:] {
						queued = append(queued, Queued{Pos: ev.Pos, BrandID: ev.BrandID, Subject: ev.Subject, State: Pending, NextAt: at})
					}
					break
				}
				c := c
				c.Event = ev
				a := d.attempt(context.WithoutCancel(ctx), c, at)
				if a.Status != 0 {
					cur.observe(a.Latency)
				}
				if a.Error == "" {
					if d.opts.OnAttempt != nil {
						d.opts.OnAttempt(Delivered, a.Latency)
					}
					delivered = append(delivered, BatchItem{Pos: ev.Pos, At: a.At, Status: a.Status, Latency: a.Latency})
					continue
				}
				if a.Status == 0 {
					stopped.Store(true) // no answer: the endpoint looks down
				}
				o := d.outcome(a, time.Time{})
				if d.opts.OnAttempt != nil {
					d.opts.OnAttempt(o.State, a.Latency)
				}
				d.opts.Log.Info("webhooks: attempt failed", "webhook_id", e.ID, "event_id", ev.ID, "pos", ev.Pos,
					"attempt", 1, "status", a.Status, "error", a.Error, "next_at", o.NextAt)
				queued = append(queued, Queued{Pos: ev.Pos, BrandID: ev.BrandID, Subject: ev.Subject, Attempt: &a,
					State: o.State, NextAt: o.NextAt})
				failedAt, reason = a.At, o.DisableReason
				for _, ev := range evs[i+1:] {
					queued = append(queued, Queued{Pos: ev.Pos, BrandID: ev.BrandID, Subject: ev.Subject, State: Pending, NextAt: at})
				}
				break
			}
			mu.Lock()
			defer mu.Unlock()
			b.Delivered = append(b.Delivered, delivered...)
			b.Queued = append(b.Queued, queued...)
			if failedAt.After(b.FailedAt) {
				b.FailedAt, b.DisableBefore, b.DisableReason = failedAt, failedAt.Add(-d.opts.RetryWindow), reason
			}
		})
	}
	wg.Wait()
	slices.SortFunc(b.Delivered, func(x, y BatchItem) int { return cmp.Compare(x.Pos, y.Pos) })
	slices.SortFunc(b.Queued, func(x, y Queued) int { return cmp.Compare(x.Pos, y.Pos) })
	return b, nil
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
	o := d.outcome(a, c.Since)
	o.WebhookID, o.Pos, o.BrandID, o.Subject, o.Owner = c.WebhookID, c.Event.Pos, c.Event.BrandID, c.Event.Subject, c.Owner
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

// outcome is what attempt a of a delivery whose retry window began at
// since (zero: a starts it) leaves it in: Delivered, Pending until its
// next attempt, or Failed; with the endpoint's disabling rule.
func (d *Dispatcher) outcome(a Attempt, since time.Time) Outcome {
	o := Outcome{Attempt: a, DisableBefore: a.At.Add(-d.opts.RetryWindow),
		DisableReason: fmt.Sprintf("every attempt failed for the retry window (%s); the last: %s", d.opts.RetryWindow, a.Error)}
	if since.IsZero() {
		since = a.At
	}
	end := since.Add(d.opts.RetryWindow)
	switch {
	case a.Error == "":
		o.State = Delivered
	case !a.At.Before(end):
		o.State = Failed
	default:
		o.State = Pending
		o.NextAt = a.At.Add(d.backoff(a.N))
		if o.NextAt.After(end) {
			o.NextAt = end // one last attempt as the window closes
		}
	}
	return o
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
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			a.Error = fmt.Sprintf("no answer within the timeout (%s)", d.opts.Timeout)
		} else {
			a.Error = clip(err.Error())
		}
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
