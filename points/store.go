package points

import (
	"context"
	"errors"
	"time"

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
}

// Auditor reads the whole ledger, for the invariant check and export.
type Auditor interface {
	// EachAccount calls fn with every account's rows, one account at a time.
	EachAccount(ctx context.Context, fn func(AccountRows) error) error
	EachIdempotency(ctx context.Context, fn func(ledger.Idempotency) error) error
	EachReversal(ctx context.Context, fn func(ledger.Reversal) error) error
	// FlowExists reports whether a flow with that id is stored.
	FlowExists(ctx context.Context, id string) (bool, error)
}

// FlowQuery filters flows. Empty fields do not filter.
type FlowQuery struct {
	BrandID    string
	CustomerID string
	OutBizLike string // substring of out_biz_id
	Type       ledger.FlowType
	ShopID     string
	Channel    string
	Start, End time.Time // inclusive bounds on the flow's time
	Offset     int
	Limit      int // 0: no limit
}

// Tx is one write transaction. Reads lock what they read where the
// database can (SELECT … FOR UPDATE), in this order within one write:
// idempotency, reversal, account, everything of the account.
type Tx interface {
	Idempotency(ctx context.Context, appKey, requestID string) (ledger.Idempotency, error)
	PutIdempotency(ctx context.Context, rec ledger.Idempotency) error
	Reversal(ctx context.Context, brandID, reverseOrderID string) (ledger.Reversal, error)
	// Orders lists every customer's position in the order.
	Orders(ctx context.Context, brandID, outBizID string) ([]ledger.Order, error)
	// Account reads (and locks) the account; a missing account is returned
	// with Exists false and no error.
	Account(ctx context.Context, brandID, customerID string) (ledger.Account, error)
	LiveLots(ctx context.Context, brandID, customerID string) ([]ledger.Lot, error)
	// LotsToSpend are the live lots an operation taking need points at now
	// touches: every lot expired at now (expiry writes it off), then lots
	// in spend order (earliest expiry first, never-expiring last, oldest
	// first) until their points reach need. By creation. A member with
	// hundreds of live lots pays only for those the operation uses.
	LotsToSpend(ctx context.Context, brandID, customerID string, need int64, now time.Time) ([]ledger.Lot, error)
	Lots(ctx context.Context, ids []string) ([]ledger.Lot, error)
	// OrderAllocations are the account's allocations under orderRef, in
	// writing order.
	OrderAllocations(ctx context.Context, brandID, customerID, orderRef string) ([]ledger.Allocation, error)
	// Hold is the hold of an order; a missing one has Exists false.
	Hold(ctx context.Context, brandID, outerOrderID string) (ledger.Hold, error)
	// Apply writes a Book's changes with conditional updates; ErrConflict
	// where a row moved since it was read.
	Apply(ctx context.Context, c ledger.Changes) error

	PutApp(ctx context.Context, a ledger.App) error
	PutBrand(ctx context.Context, b ledger.Brand) error
	PutShop(ctx context.Context, s ledger.Shop) error
	PutCustomer(ctx context.Context, c ledger.Customer) error
	// PutRule stores a new rule version for r.BrandID.
	PutRule(ctx context.Context, r ledger.Rule) error
	// EndSession records that the console session nonce was ended before
	// it expires at until, and forgets the ended sessions expired by now.
	EndSession(ctx context.Context, nonce string, until, now time.Time) error
	Customer(ctx context.Context, id string) (ledger.Customer, error)
	CustomerByOuterID(ctx context.Context, brandID, outerType, outerID string) (ledger.Customer, error)
	App(ctx context.Context, key string) (ledger.App, error)
	Rule(ctx context.Context, brandID string) (ledger.Rule, error)
}
