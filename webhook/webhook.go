// Package webhook delivers jifen's events (points.Event) to the HTTP
// endpoints that subscribe to them, signed the Standard Webhooks way, and
// retries each until it is acknowledged or its retry window ends.
//
// # Delivery
//
// Each endpoint has a cursor: the position up to which every event it
// wants was either acknowledged or handed to a delivery row. A Dispatcher
// holding the endpoint's lease (one server at a time; a dead server's
// lease expires) reads the events after the cursor, POSTs each one's
// CloudEvents JSON once, and commits the batch in one transaction: the
// acknowledged events as one record, a delivery row for each event that
// was not (its failed attempt, and its member's later events, which wait
// behind it), and the cursor moved. With a healthy receiver no delivery
// row is written at all. A batch not committed (a crash, a lost lease) is
// sent again from the cursor: a receiver may see an event twice, and
// de-duplicates by its webhook-id.
//
// Delivery rows are retried by claims: a lease per delivery, so no two
// servers attempt one at once, and each attempt's outcome recorded.
//
// A member's events (one Subject of one brand; a brand's own events,
// with no subject, form one queue of their own) go to an endpoint in
// order: a later event waits until the one before it is acknowledged, or
// has failed for the whole retry window. Members do not wait for each
// other. A 2xx answer acknowledges; anything else, a timeout or a refused
// address is retried with exponential backoff and full jitter. After the
// retry window a delivery is failed (kept, to be redelivered); an
// endpoint whose attempts failed for the whole window is disabled.
//
// # Addresses
//
// The client refuses to connect to loopback, link-local, private and
// unspecified addresses, checked on the address it dials after DNS, and
// does not follow redirects; Options.AllowPrivate lifts the address rule.
package webhook

import (
	"context"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// Delivery states.
const (
	Pending   = "pending"   // to be attempted (again)
	Delivered = "delivered" // acknowledged with a 2xx
	Failed    = "failed"    // not acknowledged within the retry window
)

// Endpoint is a webhook with its delivery state.
type Endpoint struct {
	points.Webhook
	// DisabledAt is when the endpoint was disabled; zero while active.
	DisabledAt     time.Time
	DisabledReason string
	// FailingSince is when its attempts began to fail; zero when the
	// last one succeeded (or none was made).
	FailingSince time.Time
	// ScheduledPos is the endpoint's cursor: every event up to it was
	// delivered in a batch or has a delivery row.
	ScheduledPos         int64
	CreatedAt, UpdatedAt time.Time
	// Pending and Failed count its deliveries in those states.
	Pending, Failed int
}

// Active reports whether deliveries to e are attempted.
func (e Endpoint) Active() bool { return e.DisabledAt.IsZero() }

// Delivery is one event's delivery to one endpoint.
type Delivery struct {
	WebhookID string
	Pos       int64 // the event's position
	BrandID   string
	Subject   string
	EventID   string
	EventType string
	State     string
	Attempts  int
	// Since is the first attempt of the current retry window; zero until
	// it is made (a redelivery starts a new window).
	Since time.Time
	// NextAt is when it is due, for a pending delivery; zero while it
	// waits for the member's earlier event.
	NextAt time.Time
	// LeaseUntil is set while a server attempts it.
	LeaseUntil  time.Time
	DoneAt      time.Time // delivered or failed
	LastStatus  int       // the last answer's HTTP status; 0 for none
	LastLatency time.Duration
	LastError   string
	// Log is every attempt, oldest first, where the read asked for it.
	Log []Attempt
	// Batched says it was acknowledged at its first attempt in a batch:
	// it has no delivery row, the batch's record is its record.
	Batched bool
}

// Attempt is one try of a delivery.
type Attempt struct {
	N       int // 1, 2, …
	At      time.Time
	Status  int // HTTP status; 0 when no answer came
	Latency time.Duration
	Error   string // "" for an acknowledgement
}

// Queue is a member's queue of an endpoint: one brand's events of one
// subject (a brand's own events have no subject).
type Queue struct {
	BrandID, Subject string
}

// Batch is one pass of an endpoint's cursor over the events after From up
// to To: each event the endpoint wants was acknowledged at its first
// attempt (Delivered) or is left to a delivery row (Queued) — its first
// attempt failed, it waits behind its member's failed one, or it was not
// attempted. The events it does not want are passed over.
type Batch struct {
	WebhookID string
	// Owner is the endpoint lease it was made under.
	Owner    string
	From, To int64
	// Start is when its first attempt began.
	Start time.Time
	// Delivered are the acknowledged events, in position order.
	Delivered []BatchItem
	// Queued are the events left to delivery rows, in position order.
	Queued []Queued
	// LeaseUntil renews the lease; zero ends it.
	LeaseUntil time.Time
	// FailedAt is the last failed attempt's time; zero if none failed.
	// With nothing delivered, the endpoint is failing since then (if it
	// was not already), and disabled, with DisableReason, if it has been
	// failing since before DisableBefore.
	FailedAt      time.Time
	DisableBefore time.Time
	DisableReason string
}

// BatchItem is an event acknowledged in a batch, at its first attempt.
type BatchItem struct {
	Pos     int64
	At      time.Time
	Status  int
	Latency time.Duration
}

// Queued is an event a batch leaves to a delivery row.
type Queued struct {
	Pos     int64
	BrandID string
	Subject string
	// Attempt is its failed first attempt, if one was made; State is
	// then Pending (again at NextAt) or Failed.
	Attempt *Attempt
	State   string
	// NextAt is when it is due, unless an earlier delivery of its queue
	// is pending (then it waits for that one).
	NextAt time.Time
}

// Claimed is a delivery a dispatcher holds the lease of, with what it
// sends.
type Claimed struct {
	WebhookID string
	URL       string
	Secret    string
	Event     points.Event
	Attempts  int       // made before this claim
	Since     time.Time // the retry window's first attempt; zero if this is it
	Owner     string    // the lease
}

// Outcome is an attempt's result, to record.
type Outcome struct {
	WebhookID string
	Pos       int64
	BrandID   string
	Subject   string
	Owner     string // the lease the attempt was made under
	Attempt   Attempt
	// State is Delivered, Pending (again at NextAt) or Failed.
	State  string
	NextAt time.Time
	// DisableBefore disables the endpoint, with DisableReason, when the
	// attempt failed and its attempts have been failing since before
	// this time (the attempt's time minus the retry window).
	DisableBefore time.Time
	DisableReason string
}

// DeliveryQuery selects an endpoint's deliveries, newest first.
type DeliveryQuery struct {
	WebhookID string
	State     string // "" for every state
	Before    int64  // positions below this; 0 for no bound
	Limit     int
}

// Store keeps the endpoints' state and the deliveries; both stores
// implement it (the conformance suite in package storetest checks them).
// Endpoints are created and configured through points.Tx.PutWebhook.
type Store interface {
	// Webhooks lists every endpoint, by id.
	Webhooks(ctx context.Context) ([]Endpoint, error)
	// Webhook returns one; points.ErrNotFound if none.
	Webhook(ctx context.Context, id string) (Endpoint, error)
	// DeleteWebhook deletes an endpoint and its deliveries;
	// points.ErrNotFound if none.
	DeleteWebhook(ctx context.Context, id string) error
	// LeaseEndpoint leases endpoint id's cursor to owner until until, if
	// the endpoint is active and its lease is free at now or owner's
	// already, and returns it; false where another owner holds it or the
	// endpoint is disabled or gone.
	LeaseEndpoint(ctx context.Context, id, owner string, now, until time.Time) (Endpoint, bool, error)
	// QueuedMembers says which of qs have a pending delivery to endpoint
	// id.
	QueuedMembers(ctx context.Context, id string, qs []Queue) ([]Queue, error)
	// CommitBatch records b and moves the endpoint's position from b.From
	// to b.To, in one transaction: the acknowledged events as one record,
	// a delivery row for each queued one (with its attempt, if it made
	// one), the endpoint's failing state and its lease; false, recording
	// nothing, where the lease is no longer b.Owner's, the position is no
	// longer b.From, or the endpoint is disabled or gone.
	CommitBatch(ctx context.Context, b Batch) (bool, error)
	// ClaimDeliveries leases up to limit due deliveries of active
	// endpoints to owner until until: pending, due at now, not leased, and
	// the oldest pending one of their queue.
	ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit int) ([]Claimed, error)
	// RecordAttempts records attempts, each made under its Owner's lease,
	// in one transaction, and ends the leases; ok[i] is false, recording
	// nothing of os[i], where its lease is no longer its Owner's. A
	// delivery that ends makes the next of its queue due.
	RecordAttempts(ctx context.Context, os []Outcome) (ok []bool, err error)
	// CountDeliveries counts an endpoint's pending and failed deliveries,
	// each up to limit+1.
	CountDeliveries(ctx context.Context, id string, limit int) (pending, failed int, err error)
	// Deliveries lists deliveries with their attempts, newest first:
	// the delivery rows and the events delivered in batches.
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// Redeliver makes a delivery pending again with a new retry window
	// starting at now (one delivered in a batch gets a delivery row);
	// points.ErrNotFound if there is none.
	Redeliver(ctx context.Context, id string, pos int64, now time.Time) error
	// RedeliverFailed makes every failed delivery of an endpoint pending
	// again, and says how many.
	RedeliverFailed(ctx context.Context, id string, now time.Time) (int, error)
	// EventDeliveries returns one event and its deliveries, by endpoint;
	// points.ErrNotFound if there is no such event.
	EventDeliveries(ctx context.Context, brandID, eventID string) (points.Event, []Delivery, error)
}

// Outcome codes of the webhooks' admin use cases.
const (
	CodeWebhookNotFound  = "WEBHOOK_NOT_FOUND"
	CodeDeliveryNotFound = "DELIVERY_NOT_FOUND"
	CodeEventNotFound    = "EVENT_NOT_FOUND"
)

func webhookNotFound(id string) error {
	return ledger.Business(CodeWebhookNotFound, "Webhook 不存在", "no webhook %q", id)
}

// Ends is when a delivery in state after an attempt at at is next due
// (pending: next) and when it ended (delivered or failed: at); zero for
// the one that does not apply.
func Ends(state string, next, at time.Time) (nextAt, doneAt time.Time) {
	if state == Pending {
		return next, time.Time{}
	}
	return time.Time{}, at
}

// Ends is when o leaves its delivery next due and ended (see Ends).
func (o Outcome) Ends() (nextAt, doneAt time.Time) { return Ends(o.State, o.NextAt, o.Attempt.At) }

// Row is what a queued event's delivery row starts with: no attempt, or
// its failed first attempt (the retry window starts there).
type Row struct {
	Attempts              int
	Since, NextAt, DoneAt time.Time
	Last                  Attempt // the first attempt; zero if none
}

// Row is q's delivery row as a batch writes it.
func (q Queued) Row() Row {
	r := Row{NextAt: q.NextAt}
	if q.State != Pending {
		r.NextAt = time.Time{}
	}
	if a := q.Attempt; a != nil {
		r.Attempts, r.Since, r.Last = 1, a.At, *a
		r.NextAt, r.DoneAt = Ends(q.State, q.NextAt, a.At)
	}
	return r
}
