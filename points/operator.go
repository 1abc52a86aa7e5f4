package points

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"jifen/ledger"
)

// What the service does for operators (package backoffice): the writes
// they make in their own name and the dry run behind a refund preview.
// They live here, not beside the operators' views, so that every ledger
// write — an operator's too — goes through the one write path (idempotent,
// load → decide → Apply).

// AdminAppKey is the app key on operators' writes: their idempotency keys
// are (AdminAppKey, request_id) and their flows carry it as app_key. It
// is in the reserved namespace, so it is told apart from every app.
const AdminAppKey = "@admin"

// ReservedAppKey reports whether key is in the namespace jifen keeps for
// its own callers: every key starting with "@". No app may have one — an
// app "@admin" would write as if it were the operators, under their
// idempotency keys — so the tenant file, the admin API and an import
// refuse it, and the gateway treats a stored one as unknown.
func ReservedAppKey(key string) bool { return strings.HasPrefix(key, "@") }

// Actor is the operator a write is recorded under: the flows' operator_id
// (ID; the name when it is empty) and operator_name (Name). The admin API
// and console take it from the authenticated operator (package operator),
// never from what a request says.
type Actor struct{ ID, Name string }

// id is the actor's operator_id.
func (a Actor) id() string {
	if a.ID == "" {
		return a.Name
	}
	return a.ID
}

// check refuses an actor writes could not be recorded under.
func (a Actor) check() error {
	if err := CheckOperator(a.Name); err != nil {
		return err
	}
	return CheckOperator(a.id())
}

// OperatorCaller is who an operator's write is attributed to: the
// operators' app (AdminAppKey), acting for every brand, in the name of
// a (the zero Actor for a preview, which is no one's act).
func OperatorCaller(a Actor) Caller {
	return Caller{App: ledger.App{Key: AdminAppKey, Name: "运营后台", Active: true}, Operator: a.Name, OperatorID: a.id()}
}

// Actor is the operator c acts for.
func (c Caller) Actor() Actor { return Actor{ID: c.OperatorID, Name: c.Operator} }

// CheckOperator refuses an operator name (or id) that writes could not be
// recorded under: blank, longer than 64 bytes, or with characters
// CheckChars refuses (the flows' operator_id and operator_name).
func CheckOperator(operator string) error {
	if strings.TrimSpace(operator) == "" {
		return ledger.Invalid("operator", "不可为空: 请填写操作员")
	}
	if len(operator) > 64 {
		return ledger.Invalid("operator", "过长: 最多 64 字节")
	}
	return CheckChars("operator", operator)
}

// AdjustRequest is an operator's manual adjustment (ADJUST) of a
// customer's points: added in a new lot (paying off debt first, like any
// grant) or taken earliest expiry first.
type AdjustRequest struct {
	CustomerID string
	Points     int64 // > 0 adds, < 0 takes
	Reason     string
	RequestID  string `json:"-"`
}

// Normalize trims r's fields and checks them as Adjust does: a request
// id, a customer and a reason are required, and the points are not 0 and
// within MaxPoints either way.
func (r *AdjustRequest) Normalize() error {
	r.CustomerID, r.Reason, r.RequestID = strings.TrimSpace(r.CustomerID), strings.TrimSpace(r.Reason), strings.TrimSpace(r.RequestID)
	if err := check([]field{{"request_id", r.RequestID}, {"customer_id", r.CustomerID}, {"reason", r.Reason}}); err != nil {
		return err
	}
	if r.Points == 0 {
		return ledger.Invalid("points", "不可为 0: 正数增加, 负数扣减")
	}
	if r.Points > MaxPoints || r.Points < -MaxPoints {
		return ledger.Invalidf("points", "超出范围: 最大 %d, 收到 %d", int64(MaxPoints), r.Points)
	}
	return nil
}

// Adjust performs an ADJUST in the name of c's operator (OperatorCaller),
// idempotent by (c's app key, request_id). A reason is required. The
// customer is named by id alone: operators act for every brand.
func (s *Service) Adjust(ctx context.Context, c Caller, r AdjustRequest) (Outcome, error) {
	a, err := s.adjustment(ctx, c, r)
	if err != nil {
		return Outcome{}, err
	}
	return s.idempotent(ctx, c.App.Key, a.r.RequestID, a.method, a.fp, Lookup{BrandID: a.brand.ID}, a.decide)
}

// PreviewAdjust runs the decision of Adjust — the same function over the
// same reads, in a store transaction that is rolled back — and returns
// it: an operator's adjustment preview is the write's own decision.
// Errors are those the write would meet (POINT_NOT_ENOUGH for taking more
// than is available).
func (s *Service) PreviewAdjust(ctx context.Context, c Caller, r AdjustRequest) (Decision, error) {
	a, err := s.adjustment(ctx, c, r)
	if err != nil {
		return Decision{}, err
	}
	w, out, ch, err := s.dryRun(ctx, Lookup{BrandID: a.brand.ID}, a.decide)
	if err != nil {
		return Decision{}, err
	}
	return Decision{Outcome: out, Snapshot: w.snap, Changes: ch, Now: w.now}, nil
}

// adjust is a checked adjustment: its request, idempotency key and
// decision.
type adjust struct {
	r          AdjustRequest
	brand      ledger.Brand
	method, fp string
	decide     func(w *write) (Outcome, ledger.Changes, error)
}

func (s *Service) adjustment(ctx context.Context, c Caller, r AdjustRequest) (adjust, error) {
	operator := c.Operator
	if err := c.Actor().check(); err != nil {
		return adjust{}, err
	}
	if err := r.Normalize(); err != nil {
		return adjust{}, err
	}
	cust, err := s.store.Customer(ctx, r.CustomerID)
	if errors.Is(err, ErrNotFound) {
		// Shown to the operator as it is: the view is the message.
		msg := fmt.Sprintf("顾客不存在: %s", r.CustomerID)
		return adjust{}, &ledger.Error{Kind: ledger.KindBusiness, Code: ledger.CodeCustomerNotFound, Message: msg, View: msg}
	}
	if err != nil {
		return adjust{}, err
	}
	brand, err := s.Brand(ctx, cust.BrandID)
	if err != nil {
		return adjust{}, err
	}
	// The method name and the fingerprint's shape are what stored
	// adjustments were recorded under: changing either would turn the
	// retry of an adjustment made before into IDEMPOTENCY_CONFLICT.
	method := "admin_adjust"
	fp := fingerprint(method, struct {
		AdjustRequest
		Operator string
	}{r, operator})
	info := ledger.Info{AppKey: c.App.Key, RequestID: r.RequestID, OperatorID: c.Actor().id(), OperatorName: operator, Reason: r.Reason}
	decide := func(w *write) (Outcome, ledger.Changes, error) {
		q := AccountQuery{CustomerID: cust.ID}
		if r.Points < 0 {
			q.Need = -r.Points
		}
		b, _, err := w.load(brand, q)
		if err != nil {
			return Outcome{}, ledger.Changes{}, err
		}
		var f ledger.Flow
		if r.Points > 0 {
			f = b.Grant(ledger.Adjust, r.Points, info)
		} else if f, err = b.Spend(ledger.Adjust, -r.Points, info); err != nil {
			return Outcome{}, ledger.Changes{}, err
		}
		return Outcome{Result: f.ID, FlowID: f.ID}, b.Changes(), nil
	}
	return adjust{r: r, brand: brand, method: method, fp: fp, decide: decide}, nil
}

// Decision is what a write decided in a dry run: what it read, what it
// would answer and what it would write. Nothing of it is stored.
type Decision struct {
	// Outcome is the write's answer; Outcome.FlowID names the flow in
	// Changes that the write would have answered with.
	Outcome Outcome
	// Replay is the stored refund that a replayed reversal
	// (Outcome.Replayed) answers with.
	Replay *ledger.Reversal
	// Snapshot is the locked account as the decision read it (account,
	// lots, the order before); zero when the decision ended before it
	// loaded the account (a replay found without locks).
	Snapshot Snapshot
	// OrderAfter is the account's position in the order after the
	// decision, as the Book left it.
	OrderAfter ledger.Order
	// Changes are what the write would apply.
	Changes ledger.Changes
	// Now is the time the decision was taken at.
	Now time.Time
}

// PreviewReverse runs the decision of Reverse — the same function over
// the same reads, in a store transaction that is rolled back — and
// returns it: an operator's refund preview is the write's own decision,
// so the two cannot disagree. res is the brand (and shop) as the caller
// resolved them; r is not checked as a write's request is (a preview has
// no request id or operator yet), so the caller validates what it asks.
// Errors are those the write would meet.
func (s *Service) PreviewReverse(ctx context.Context, c Caller, res Resolved, r ReverseRequest) (Decision, error) {
	w, out, ch, err := s.dryRun(ctx, r.lookup(res.Brand.ID), reversal(c, res, r))
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Outcome: out, Snapshot: w.snap, Changes: ch, Now: w.now}
	if out.Replayed {
		// The refund was found by Lookup, or — stored by another write
		// while this one waited for the account's lock — by LoadAccount.
		prev := w.snap.Reversal
		if prev == nil {
			prev = w.found.Reversal
		}
		d.Replay = prev
		return d, nil
	}
	d.OrderAfter = w.book.Order()
	return d, nil
}

// EndSession records that the console session nonce, valid until until,
// was ended (signed out), so that its cookie is refused from now on even
// where it is still kept; ended sessions past their expiry (by the wall
// clock, not the ledger's, which a sandbox moves) are forgotten.
func (s *Service) EndSession(ctx context.Context, nonce string, until time.Time) error {
	return s.store.Write(ctx, func(tx Tx) error { return tx.EndSession(ctx, nonce, until, time.Now()) })
}
