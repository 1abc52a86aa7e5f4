// Package webhook delivers jifen's events (points.Event) to the HTTP
// endpoints that subscribe to them, signed the Standard Webhooks way, and
// retries each until it is acknowledged or its retry window ends.
//
// # Delivery
//
// A Dispatcher reads the events committed after each endpoint's
// scheduled position and records one delivery per matching event, moving
// the position in the same transaction, guarded by the position it read:
// of two servers scheduling at once, one wins and the other reads again.
// It then claims due deliveries (a lease, so no two servers attempt one
// delivery at once, and a dead server's claim expires), POSTs each
// event's CloudEvents JSON, and records the attempt.
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
	// ScheduledPos is the event position up to which deliveries are made.
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
}

// Attempt is one try of a delivery.
type Attempt struct {
	N       int // 1, 2, …
	At      time.Time
	Status  int // HTTP status; 0 when no answer came
	Latency time.Duration
	Error   string // "" for an acknowledgement
}

// NewDelivery is a delivery to schedule: an event's position and queue.
type NewDelivery struct {
	Pos              int64
	BrandID, Subject string
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
	// ScheduleDeliveries records ds (positions after from, in order) and
	// moves the endpoint's scheduled position from from to to, in one
	// transaction; false, recording nothing, where the position is no
	// longer from or the endpoint is disabled or gone. A delivery is due
	// at now unless an earlier one of its queue is pending.
	ScheduleDeliveries(ctx context.Context, id string, from, to int64, ds []NewDelivery, now time.Time) (bool, error)
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
	// Deliveries lists deliveries with their attempts, newest first.
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// Redeliver makes a delivery pending again with a new retry window
	// starting at now; points.ErrNotFound if there is none.
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
