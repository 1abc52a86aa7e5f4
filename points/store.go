package points

import (
	"context"
	"errors"
	"math"
	"time"

	"jifen/audit"
	"jifen/ledger"
)

// ErrNotFound is returned by stores for a key that matches nothing.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by Tx.Apply when a row changed since it was read
// (a conditional update found another version). The whole write may be
// retried; stores that lock rows on read never return it in practice.
var ErrConflict = errors.New("concurrent update")

// Store is what the service needs of a database. Every implementation
// passes the conformance suite in package storetest.
type Store interface {
	Reader
	EventLog
	// Write runs fn in a write transaction and makes its effects durable
	// before returning nil. A store may run several fns in one durable
	// commit (group commit): each fn sees the effects of those before it,
	// and an error from fn undoes fn's own writes only. When the commit
	// fails, every fn of it fails (with a KindUnavailable error where
	// retrying may help). fn may be called more than once (a store retries
	// serialization failures), so it must not leak effects outside tx.
	Write(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Reader answers questions outside write transactions.
type Reader interface {
	App(ctx context.Context, key string) (ledger.App, error)
	Apps(ctx context.Context) ([]ledger.App, error)
	Brand(ctx context.Context, id string) (ledger.Brand, error)
	Brands(ctx context.Context) ([]ledger.Brand, error)
	// BrandByOutID resolves a channel's external brand id.
	BrandByOutID(ctx context.Context, channel, outID string) (ledger.Brand, error)
	Shop(ctx context.Context, id string) (ledger.Shop, error)
	Shops(ctx context.Context, brandID string) ([]ledger.Shop, error)
	// ShopByOutID resolves a channel's external shop id.
	ShopByOutID(ctx context.Context, channel, outID string) (ledger.Shop, error)
	Customer(ctx context.Context, id string) (ledger.Customer, error)
	CustomerByMobile(ctx context.Context, brandID, mobile string) (ledger.Customer, error)
	CustomerByOuterID(ctx context.Context, brandID, outerType, outerID string) (ledger.Customer, error)
	// Rule is the brand's rule version in force; ErrNotFound if it has none.
	Rule(ctx context.Context, brandID string) (ledger.Rule, error)
	// Account is the stored account; ErrNotFound before its first flow.
	Account(ctx context.Context, brandID, customerID string) (ledger.Account, error)
	// LiveLots are the account's lots with points remaining.
	LiveLots(ctx context.Context, brandID, customerID string) ([]ledger.Lot, error)
	// Flows lists flows matching q, newest first, and how many match.
	Flows(ctx context.Context, q FlowQuery) ([]ledger.Flow, int, error)
	// DueAccounts lists up to limit accounts holding points in lots whose
	// expiry is at or before now.
	DueAccounts(ctx context.Context, now time.Time, limit int) ([]AccountKey, error)
	// DueHolds lists up to limit active holds whose timeout is at or before now.
	DueHolds(ctx context.Context, now time.Time, limit int) ([]ledger.Hold, error)
	// Events lists up to q.Limit committed events after q.After, in
	// commit order (by Pos). A store that places events after their
	// commit (PostgreSQL: several servers commit at once) places those
	// committed so far first, so a reader sees its own writes.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// ExpiringLots lists up to limit of the brand's lots with points
	// remaining that expire in [from, to), by (expiry, lot id), after the
	// lot afterID expiring at afterExp (afterID "": from the start).
	ExpiringLots(ctx context.Context, brandID string, from, to time.Time, afterExp time.Time, afterID string, limit int) ([]ledger.Lot, error)
}

// AccountKey names one account.
type AccountKey struct{ BrandID, CustomerID string }

// AccountRows is everything stored for one account.
type AccountRows struct {
	Account     ledger.Account
	Lots        []ledger.Lot        // every lot, by creation
	Flows       []ledger.Flow       // every flow, by Seq
	Allocations []ledger.Allocation // every allocation, by Seq
	Holds       []ledger.Hold
	Orders      []ledger.Order
	// Events are the point.flow.created events of its flows, found by
	// their flow ids (the Auditor's EachAccount only; a dump carries the
	// event log on its own).
	Events []Event
}

// Auditor reads the whole ledger, for the invariant check and export.
type Auditor interface {
	// EachAccount calls fn with every account's rows, one account at a time.
	EachAccount(ctx context.Context, fn func(AccountRows) error) error
	EachIdempotency(ctx context.Context, fn func(ledger.Idempotency) error) error
	EachReversal(ctx context.Context, fn func(ledger.Reversal) error) error
	// EachMissingFlow calls fn with every idempotency record and refund
	// that names a flow not stored (one of them is set), in one pass over
	// the whole ledger rather than a look-up per record: no index finds a
	// flow by its id alone, since no write path needs one.
	EachMissingFlow(ctx context.Context, fn func(*ledger.Idempotency, *ledger.Reversal) error) error
	// EachEventWithoutFlow calls fn with every point.flow.created event
	// whose flow is not stored, in one pass over the whole event log.
	EachEventWithoutFlow(ctx context.Context, fn func(Event) error) error
	// The operators' audit log, whose chain Verify checks too.
	audit.Reader
}

// FlowQuery filters flows. Empty fields do not filter.
type FlowQuery struct {
	BrandID    string
	CustomerID string
	OutBizLike string // substring of out_biz_id
	Type       ledger.FlowType
	ShopID     string
	Channel    string
	// Operator, when set, keeps the flows whose operator_id or
	// operator_name is exactly it (as the flow recorded them).
	Operator string
	// FlowID, when set, keeps the flow of that id: with CustomerID, its
	// account's flows are read by their key, and this one kept of them.
	FlowID     string
	Start, End time.Time // inclusive bounds on the flow's time
	Offset     int
	Limit      int // 0: no limit
}

// Lookup names what a ledger write reads before it locks anything.
type Lookup struct {
	// AppKey and RequestID are the write's idempotency key; RequestID ""
	// for a write without one (the sweeper's).
	AppKey, RequestID string
	BrandID           string
	// ReverseOrderID names a refund whose record to read ("" none).
	ReverseOrderID string
	// OutBizID names an order whose customers' positions to read ("" none).
	OutBizID string
	// HoldOrder names an order whose hold to read ("" none).
	HoldOrder string
}

// Found is what a Lookup read.
type Found struct {
	Idempotency *ledger.Idempotency // the key's stored answer; nil if none
	Reversal    *ledger.Reversal    // the refund named ReverseOrderID; nil if none
	Orders      []ledger.Order      // every customer's position in OutBizID, by customer
	Hold        ledger.Hold         // the hold of HoldOrder; Exists false if none
}

// AllLots asks LoadAccount for every live lot of the account.
const AllLots = math.MaxInt64

// AccountQuery names one account and what of it a decision needs.
type AccountQuery struct {
	BrandID, CustomerID string
	// Need selects the lots: those a spend of Need points at Now touches
	// (every lot expired at Now, which expiry writes off, then lots in
	// spend order until their points reach Need); AllLots every live lot;
	// 0 only the expired ones and the order's.
	Need int64
	Now  time.Time
	// OrderRef names the order (out_biz_id or outer_order_id) whose
	// position and allocations to read, with the lots they name ("" none).
	OrderRef string
	// Hold asks for the hold of OrderRef too.
	Hold bool
	// Customer asks for the customer's row as stored now.
	Customer bool
	// Recheck is what the write's Lookup read as absent: where a store's
	// Lookup and LoadAccount do not see one snapshot, LoadAccount reads
	// these again once the lock is held.
	Recheck Lookup
}

// Snapshot is one locked account as a decision sees it.
type Snapshot struct {
	Account  ledger.Account // Exists false before the account's first flow
	Rule     ledger.Rule    // the brand's rule in force; RuleFound false if none
	Lots     []ledger.Lot   // by account and creation
	Order    ledger.Order   // the account's position in OrderRef; Exists false if none
	Allocs   []ledger.Allocation
	Hold     ledger.Hold     // the hold of OrderRef when asked; Exists false if none
	Customer ledger.Customer // when asked (LoadAccount fails with ErrNotFound if it is not stored)
	// RuleFound reports whether the brand has a rule.
	RuleFound bool
	// Idempotency and Reversal are what another write stored under the
	// Recheck key and refund while this one waited for the lock; always
	// nil from a store whose Lookup and LoadAccount read one snapshot.
	Idempotency *ledger.Idempotency
	Reversal    *ledger.Reversal
}

// Tx is one write transaction. A ledger write asks it three things, each
// of which a store can answer in one statement or one round trip:
//
//  1. Lookup — what decides whether the write runs at all (its
//     idempotency record, the refund of the same name, whose order it
//     is), read without locks: a replay never waits for a lock.
//  2. LoadAccount — lock the account, then read what the decision needs
//     of it (rule, lots, the order and its allocations, the hold).
//  3. Apply — the decision's changes and the idempotency record, which a
//     store may hold back and send together with COMMIT.
//
// A write changes one account: no lock-order deadlocks.
type Tx interface {
	Lookup(ctx context.Context, q Lookup) (Found, error)
	LoadAccount(ctx context.Context, q AccountQuery) (Snapshot, error)
	// Apply writes a Book's changes with conditional updates, and rec
	// when it is not nil. ErrConflict where a row moved since it was read
	// (the whole write may run again); a store that defers the writes to
	// the commit reports it from Write instead.
	Apply(ctx context.Context, c ledger.Changes, rec *ledger.Idempotency) error
	// Emit records events in the transaction, in order: they are
	// committed with it or not at all. An event id stored already (per
	// brand) is skipped, so a reminder emitted twice is recorded once.
	Emit(ctx context.Context, evs ...Event) error

	PutApp(ctx context.Context, a ledger.App) error
	PutBrand(ctx context.Context, b ledger.Brand) error
	PutShop(ctx context.Context, s ledger.Shop) error
	PutCustomer(ctx context.Context, c ledger.Customer) error
	// PutRule stores a new rule version for r.BrandID.
	PutRule(ctx context.Context, r ledger.Rule) error
	// EndSession records that the console session nonce was ended before
	// it expires at until, and forgets the ended sessions expired by now.
	EndSession(ctx context.Context, nonce string, until, now time.Time) error
	// PutWebhook creates or replaces a webhook's configuration at now. A
	// new one is told of the events committed after it; w.Disabled false
	// enables one that was disabled (and forgets that it was failing),
	// true disables it.
	PutWebhook(ctx context.Context, w Webhook, now time.Time) error
	Customer(ctx context.Context, id string) (ledger.Customer, error)
	// CustomerForUpdate reads a customer to be stored changed: another
	// write reading it so waits until this one ends (a store that runs
	// writes one at a time does so already), so that neither puts back
	// what the other changed.
	CustomerForUpdate(ctx context.Context, id string) (ledger.Customer, error)
	CustomerByOuterID(ctx context.Context, brandID, outerType, outerID string) (ledger.Customer, error)
	App(ctx context.Context, key string) (ledger.App, error)
	Rule(ctx context.Context, brandID string) (ledger.Rule, error)
	// Webhook is the stored webhook; ErrNotFound if none.
	Webhook(ctx context.Context, id string) (Webhook, error)
}
