package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
)

// Outcome codes of approvals.
const (
	CodeApprovalNotFound = "APPROVAL_NOT_FOUND"
	// CodeApprovalDecided: the approval was approved, rejected, expired
	// or failed already (approving an approved one answers it instead).
	CodeApprovalDecided = "APPROVAL_DECIDED"
	// CodeApprovalExpired: it waited TTL without a decision.
	CodeApprovalExpired = "APPROVAL_EXPIRED"
)

// Service records operators' refunds and adjustments above their brand's
// approval_above as approvals, and approves, rejects, expires and
// executes them. Every write it makes to the ledger goes through the
// backoffice.Office it is given.
type Service struct {
	store  Store
	office *backoffice.Office
}

// New returns the service over store, executing through office (whose
// ledger clock it reads).
func New(store Store, office *backoffice.Office) *Service {
	return &Service{store: store, office: office}
}

func (s *Service) now() time.Time { return s.office.Service().Now() }

// threshold is the approval_above of brandID that binds p: 0 (none) but
// for a support operator in a brand that sets it.
func (s *Service) threshold(ctx context.Context, p operator.Principal, brandID string) (int64, error) {
	if p.Role != operator.Support {
		return 0, nil
	}
	b, err := s.office.Service().Brand(ctx, strings.TrimSpace(brandID))
	if errors.Is(err, points.ErrNotFound) {
		return 0, nil // the write itself answers the brand's absence
	}
	if err != nil {
		return 0, err
	}
	return b.Settings.ApprovalAbove, nil
}

func actor(p operator.Principal) points.Actor { return points.Actor{ID: p.OperatorID, Name: p.Name} }

// Reverse performs p's reversal r (backoffice.Office.Reverse), or, when p
// is a support operator and r moves more points than the brand's
// approval_above, records it as a pending approval and returns that
// instead of an outcome. The caller has checked p's permission, brand
// and points limit.
func (s *Service) Reverse(ctx context.Context, p operator.Principal, r backoffice.ReverseRequest) (points.Outcome, *Approval, error) {
	above, err := s.threshold(ctx, p, r.BrandID)
	if err != nil {
		return points.Outcome{}, nil, err
	}
	if above == 0 || (r.Points != nil && *r.Points <= above) {
		out, err := s.office.Reverse(ctx, actor(p), r)
		return out, nil, err
	}
	// The preview checks the request as the write would and says how
	// many points "all that is left" is now: the approval executes that.
	pv, err := s.office.PreviewReversal(ctx, r)
	if err != nil {
		return points.Outcome{}, nil, err
	}
	if pv.Replay != nil || pv.Points <= above {
		out, err := s.office.Reverse(ctx, actor(p), r)
		return out, nil, err
	}
	r.RequestID = strings.TrimSpace(r.RequestID)
	if err := points.Required("request_id", r.RequestID); err != nil {
		return points.Outcome{}, nil, err
	}
	n := pv.Points
	r.Points, r.Type, r.CustomerID = &n, pv.Type, pv.CustomerID
	r.BrandID, r.OutBizID, r.ShopID = strings.TrimSpace(r.BrandID), strings.TrimSpace(r.OutBizID), strings.TrimSpace(r.ShopID)
	r.ReverseOrderID, r.Reason = strings.TrimSpace(r.ReverseOrderID), strings.TrimSpace(r.Reason)
	a, err := s.add(ctx, p, r.BrandID, Reversal, r, n, r.RequestID)
	return points.Outcome{}, a, err
}

// Adjust performs p's adjustment r (backoffice.Office.Adjust), or, when p
// is a support operator and r moves more points than the customer's
// brand's approval_above, records it as a pending approval and returns
// that instead of an outcome. The caller has checked p's permission,
// brand and points limit.
func (s *Service) Adjust(ctx context.Context, p operator.Principal, r points.AdjustRequest) (points.Outcome, *Approval, error) {
	n := r.Points
	if n < 0 {
		n = -n
	}
	if p.Role != operator.Support {
		out, err := s.office.Adjust(ctx, actor(p), r)
		return out, nil, err
	}
	brand, err := s.office.CustomerBrand(ctx, r.CustomerID)
	if err != nil {
		return points.Outcome{}, nil, err
	}
	above, err := s.threshold(ctx, p, brand)
	if err != nil {
		return points.Outcome{}, nil, err
	}
	if above == 0 || n <= above {
		out, err := s.office.Adjust(ctx, actor(p), r)
		return out, nil, err
	}
	if err := r.Normalize(); err != nil {
		return points.Outcome{}, nil, err
	}
	a, err := s.add(ctx, p, brand, Adjustment, r, n, r.RequestID)
	return points.Outcome{}, a, err
}

// add records a pending approval of req. Asked again with the same
// request id, it answers the approval recorded then, if it is the same
// request of the same operator; IDEMPOTENCY_CONFLICT otherwise.
func (s *Service) add(ctx context.Context, p operator.Principal, brand string, kind Kind, req any, n int64, requestID string) (*Approval, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("approval: encode request: %w", err)
	}
	now := s.now()
	a := Approval{ID: s.office.Service().NewID(), BrandID: brand, Kind: kind, Request: body, Points: n, RequestID: requestID,
		RequesterID: p.OperatorID, RequesterName: p.Name, CreatedAt: now, ExpiresAt: now.Add(TTL), State: Pending}
	err = s.store.AddApproval(ctx, a)
	if errors.Is(err, ErrRequestTaken) {
		prev, err := s.store.ApprovalByRequest(ctx, requestID)
		if err != nil {
			return nil, err
		}
		if prev.Kind != kind || prev.RequesterID != p.OperatorID || !bytes.Equal(prev.Request, body) {
			return nil, ledger.Business(ledger.CodeIdempotencyConflict, "请求号已用于另一笔审批",
				"request_id %s was used for approval %s of another request", requestID, prev.ID)
		}
		prev = effective(prev, now)
		return &prev, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// effective is a as it stands at now: pending past its expiry is expired.
func effective(a Approval, now time.Time) Approval {
	if a.State == Pending && !now.Before(a.ExpiresAt) {
		a.State, a.DecidedAt = Expired, a.ExpiresAt
	}
	return a
}

// Get returns approval id, as it stands now, if p acts in its brand.
func (s *Service) Get(ctx context.Context, p operator.Principal, id string) (Approval, error) {
	id = strings.TrimSpace(id)
	var a Approval
	err := points.ErrNotFound // for an id no approval can have
	if points.CheckText("id", id) == nil {
		a, err = s.store.Approval(ctx, id)
	}
	if errors.Is(err, points.ErrNotFound) {
		msg := fmt.Sprintf("审批不存在: %s", id)
		return a, &ledger.Error{Kind: ledger.KindBusiness, Code: CodeApprovalNotFound, Message: msg, View: msg}
	}
	if err != nil {
		return a, err
	}
	if err := p.NeedBrand(a.BrandID); err != nil {
		return a, err
	}
	return effective(a, s.now()), nil
}

// List lists the approvals of brandID (which p must act in), or of every
// brand p acts in, in state (any when ""), newest first.
func (s *Service) List(ctx context.Context, p operator.Principal, brandID string, state State, limit int) ([]Approval, error) {
	if state != "" && !state.Valid() {
		return nil, ledger.Invalidf("state", "应为 pending, approved, rejected, expired 或 failed, 收到 %q", state)
	}
	if err := points.CheckText("brand_id", brandID); err != nil {
		return nil, err
	}
	q := Query{State: state, Now: s.now(), Limit: limit}
	if brandID = strings.TrimSpace(brandID); brandID != "" {
		if err := p.NeedBrand(brandID); err != nil {
			return nil, err
		}
		q.Brands = []string{brandID}
	} else {
		q.Brands = p.Brands
	}
	if q.Limit <= 0 || q.Limit > MaxList {
		q.Limit = MaxList
	}
	as, err := s.store.Approvals(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range as {
		as[i] = effective(as[i], q.Now)
	}
	return as, nil
}

// decider refuses p deciding a: the operator who asked decides nothing
// of it.
func decider(p operator.Principal, a Approval) error {
	if p.OperatorID == a.RequesterID {
		return &operator.Forbidden{Missing: "another operator",
			Message: fmt.Sprintf("operator %s asked for approval %s: another operator of brand %s must decide it", p.Name, a.ID, a.BrandID),
			View:    "这是你提交的请求, 须由另一位操作员审批"}
	}
	return nil
}

// ended is the error for deciding an approval that was decided already.
func ended(a Approval) error {
	if a.State == Expired {
		return ledger.Business(CodeApprovalExpired, "审批已过期",
			"approval %s expired at %s without a decision", a.ID, a.ExpiresAt.In(ledger.Shanghai).Format(time.DateTime))
	}
	by, view := "", "该请求已"
	if a.DeciderName != "" {
		by, view = " by "+a.DeciderName, "该请求已由 "+a.DeciderName+" "
	}
	return ledger.Business(CodeApprovalDecided, view+stateText[a.State],
		"approval %s was %s%s already", a.ID, a.State, by)
}

// stateText is what became of a decided approval, in Chinese.
var stateText = map[State]string{Approved: "批准", Rejected: "驳回", Failed: "批准, 但执行未成功"}

// Approve approves approval id as p and executes it, in the name of the
// operator who asked, under their request id. p must act in its brand,
// be another operator than the one who asked and, for a support
// operator, may move its points. Approving an approved approval executes
// nothing again: it answers the approval (retrying an execution that did
// not end). When the ledger refuses the execution, the approval ends
// Failed and the refusal is returned.
func (s *Service) Approve(ctx context.Context, p operator.Principal, id string) (Approval, error) {
	if err := p.Need(operator.Approve); err != nil {
		return Approval{}, err
	}
	for range 2 {
		a, err := s.Get(ctx, p, id)
		if err != nil {
			return a, err
		}
		if err := decider(p, a); err != nil {
			return a, err
		}
		if err := p.NeedPoints(a.Points); err != nil {
			return a, err
		}
		switch a.State {
		case Approved:
			if a.Result != "" {
				return a, nil
			}
			return s.execute(ctx, a)
		case Pending:
		default:
			return a, ended(a)
		}
		d := Decision{State: Approved, ByID: p.OperatorID, ByName: p.Name, At: s.now()}
		ok, err := s.store.DecideApproval(ctx, a.ID, d)
		if err != nil {
			return a, err
		}
		if ok {
			a.State, a.DeciderID, a.DeciderName, a.DecidedAt = Approved, d.ByID, d.ByName, d.At
			return s.execute(ctx, a)
		}
		// Decided (or expired) since it was read: answer it as it is now.
	}
	return Approval{}, fmt.Errorf("approval %s: changed while approving", id)
}

// Reject rejects approval id as p, for reason. p must act in its brand
// and be another operator than the one who asked.
func (s *Service) Reject(ctx context.Context, p operator.Principal, id, reason string) (Approval, error) {
	if err := p.Need(operator.Approve); err != nil {
		return Approval{}, err
	}
	reason = strings.TrimSpace(reason)
	if err := points.Required("reason", reason); err != nil {
		return Approval{}, err
	}
	if err := points.CheckText("reason", reason); err != nil {
		return Approval{}, err
	}
	a, err := s.Get(ctx, p, id)
	if err != nil {
		return a, err
	}
	if err := decider(p, a); err != nil {
		return a, err
	}
	if a.State != Pending {
		return a, ended(a)
	}
	d := Decision{State: Rejected, ByID: p.OperatorID, ByName: p.Name, At: s.now(), Reason: reason}
	ok, err := s.store.DecideApproval(ctx, a.ID, d)
	if err != nil {
		return a, err
	}
	if !ok {
		if a, err = s.Get(ctx, p, id); err != nil {
			return a, err
		}
		return a, ended(a)
	}
	a.State, a.DeciderID, a.DeciderName, a.DecidedAt, a.Reason = Rejected, d.ByID, d.ByName, d.At, reason
	return a, nil
}

// execute runs approved approval a through the one write path, under its
// request id (idempotent: a second execution answers the first's flow),
// and records how it ended. A refusal of the ledger (a business outcome,
// an invalid request) ends it Failed; any other error leaves it approved
// without a result, for Retry.
func (s *Service) execute(ctx context.Context, a Approval) (Approval, error) {
	by := points.Actor{ID: a.RequesterID, Name: a.RequesterName}
	var out points.Outcome
	var err error
	switch a.Kind {
	case Reversal:
		var r backoffice.ReverseRequest
		if r, err = a.Reverse(); err == nil {
			out, err = s.office.Reverse(ctx, by, r)
		}
	case Adjustment:
		var r points.AdjustRequest
		if r, err = a.Adjust(); err == nil {
			out, err = s.office.Adjust(ctx, by, r)
		}
	default:
		err = fmt.Errorf("approval %s: unknown kind %q", a.ID, a.Kind)
	}
	if err != nil {
		le, ok := ledger.AsError(err)
		if !ok || (le.Kind != ledger.KindBusiness && le.Kind != ledger.KindInvalid && le.Kind != ledger.KindPermission) {
			return a, err
		}
		if rerr := s.store.SetApprovalResult(ctx, a.ID, Failed, le.Code); rerr != nil {
			return a, rerr
		}
		a.State, a.Result = Failed, le.Code
		return a, err
	}
	if err := s.store.SetApprovalResult(ctx, a.ID, Approved, out.FlowID); err != nil {
		return a, err
	}
	a.Result = out.FlowID
	return a, nil
}

// RetryAfter is how long after its approval an approval without a result
// is taken for one whose execution was cut short (a crash, a lost
// database), and Retry executes it again.
const RetryAfter = time.Minute

// Retry ends the pending approvals that expired, and executes again the
// approved ones whose execution did not end (approved RetryAfter ago or
// more, without a result): being idempotent, an execution that did write
// answers its flow. It says how many it expired and executed.
func (s *Service) Retry(ctx context.Context) (expired, executed int, err error) {
	now := s.now()
	if expired, err = s.store.ExpireApprovals(ctx, now); err != nil {
		return 0, 0, err
	}
	as, err := s.store.Unexecuted(ctx, now.Add(-RetryAfter), 100)
	if err != nil {
		return expired, 0, err
	}
	for _, a := range as {
		// A refusal ends the approval Failed; anything else stops the
		// retry until the next one.
		if b, err := s.execute(ctx, a); err != nil && b.State != Failed {
			return expired, executed, err
		}
		executed++
	}
	return expired, executed, nil
}
