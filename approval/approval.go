// Package approval is four eyes above a threshold: a brand that sets
// approval_above (points) has every refund or adjustment of more points
// than that by a support operator recorded as a pending approval instead
// of written. Another operator of the brand with the support or admin
// role — never the one who asked — approves it, and it is then executed
// through the one write path (package backoffice, then points), in the
// name of the operator who asked; or rejects it, with a reason. One not
// approved within TTL expires. Admin operators are not subject to it.
//
// An approved request executes under the request id its operator sent
// (the ledger's idempotency key), which no other approval may have: the
// approval is recorded approved first, then executed, idempotently, so
// approving twice, two servers approving at once, or a retry after a
// crash between the two (Service.Retry) writes it once.
package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"jifen/backoffice"
	"jifen/points"
)

// TTL is how long a pending approval waits for a decision, by the
// ledger's clock (a sandbox's clock moves it).
const TTL = 72 * time.Hour

// Kind is what an approval executes.
type Kind string

// The kinds: an operator's reversal of an order (backoffice.ReverseRequest)
// or adjustment of a customer's points (points.AdjustRequest).
const (
	Reversal   Kind = "reversal"
	Adjustment Kind = "adjustment"
)

// State is where an approval is.
type State string

// The states. Pending is the only one that changes: to Approved, Rejected
// or Expired; an approved request whose execution the ledger refused
// (the points are no longer there, say) ends Failed.
const (
	Pending  State = "pending"
	Approved State = "approved"
	Rejected State = "rejected"
	Expired  State = "expired"
	Failed   State = "failed"
)

// States lists the states.
func States() []State { return []State{Pending, Approved, Rejected, Expired, Failed} }

// Valid reports whether s is one of States.
func (s State) Valid() bool { return slices.Contains(States(), s) }

// Approval is an operator's refund or adjustment waiting for, or decided
// by, another operator.
type Approval struct {
	ID      string
	BrandID string
	Kind    Kind
	// Request is the request as it is executed once approved, as JSON: a
	// backoffice.ReverseRequest (with its Points and CustomerID as the
	// preview found them) or a points.AdjustRequest.
	Request json.RawMessage
	// Points is how many points it moves (its absolute value).
	Points int64
	// RequestID is the request id its operator sent: asking again with it
	// finds this approval, and the approved request executes under it.
	RequestID string
	// The operator who asked: the executed flow's operator.
	RequesterID, RequesterName string
	CreatedAt, ExpiresAt       time.Time
	State                      State
	// The operator who approved or rejected it, and when; for Expired,
	// DecidedAt is ExpiresAt.
	DeciderID, DeciderName string
	DecidedAt              time.Time
	// Reason is why it was rejected.
	Reason string
	// Result is the executed flow's id (Approved), or the code of the
	// ledger's refusal (Failed); "" until the execution ended.
	Result string
}

// Summary is what the audit log keeps of a, after it was asked for or
// decided: its id, its state and, once executed, its result.
func (a Approval) Summary() map[string]any {
	return map[string]any{"approval_id": a.ID, "state": a.State, "result": a.Result}
}

// Reverse is the reversal a Reversal executes.
func (a Approval) Reverse() (backoffice.ReverseRequest, error) {
	var r backoffice.ReverseRequest
	if a.Kind != Reversal {
		return r, fmt.Errorf("approval %s is an %s, not a reversal", a.ID, a.Kind)
	}
	if err := json.Unmarshal(a.Request, &r); err != nil {
		return r, fmt.Errorf("approval %s: request: %w", a.ID, err)
	}
	r.RequestID = a.RequestID
	return r, nil
}

// Adjust is the adjustment an Adjustment executes.
func (a Approval) Adjust() (points.AdjustRequest, error) {
	var r points.AdjustRequest
	if a.Kind != Adjustment {
		return r, fmt.Errorf("approval %s is a %s, not an adjustment", a.ID, a.Kind)
	}
	if err := json.Unmarshal(a.Request, &r); err != nil {
		return r, fmt.Errorf("approval %s: request: %w", a.ID, err)
	}
	r.RequestID = a.RequestID
	return r, nil
}

// Query asks for approvals, newest first.
type Query struct {
	Brands []string // empty: every brand
	// State, when set, is the state the approvals are in at Now: a
	// pending one past its ExpiresAt is Expired, not Pending.
	State State
	Now   time.Time
	Limit int // ≤ 0: MaxList
}

// MaxList bounds one listing.
const MaxList = 200

// Decision ends a pending approval.
type Decision struct {
	State        State // Approved or Rejected
	ByID, ByName string
	At           time.Time
	Reason       string // of a rejection
}

// Store keeps approvals; both stores implement it (the conformance suite
// in package storetest checks them). Methods that name a missing approval
// return points.ErrNotFound.
type Store interface {
	// AddApproval stores a new pending approval; ErrRequestTaken if
	// another has its RequestID.
	AddApproval(ctx context.Context, a Approval) error
	// Approval returns one approval; ApprovalByRequest the one with a
	// request id.
	Approval(ctx context.Context, id string) (Approval, error)
	ApprovalByRequest(ctx context.Context, requestID string) (Approval, error)
	// Approvals lists approvals matching q, newest first.
	Approvals(ctx context.Context, q Query) ([]Approval, error)
	// DecideApproval ends approval id as d says, in one conditional
	// statement, only if it is pending and d.At is before its ExpiresAt.
	// It reports whether it did.
	DecideApproval(ctx context.Context, id string, d Decision) (bool, error)
	// SetApprovalResult records the result of executing approved approval
	// id and its state after (Approved or Failed), unless a result is
	// recorded already: the first execution's result stays.
	SetApprovalResult(ctx context.Context, id string, state State, result string) error
	// ExpireApprovals ends every pending approval whose ExpiresAt is at or
	// before now (DecidedAt: its ExpiresAt) and says how many it ended.
	ExpireApprovals(ctx context.Context, now time.Time) (int, error)
	// Unexecuted lists up to limit approved approvals without a result,
	// decided at or before before, oldest decision first.
	Unexecuted(ctx context.Context, before time.Time, limit int) ([]Approval, error)
}

// ErrRequestTaken is returned by Store.AddApproval for a request id
// another approval has.
var ErrRequestTaken = errors.New("approval request id taken")
