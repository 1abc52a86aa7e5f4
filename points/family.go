package points

import (
	"context"
	"errors"
	"strings"
	"time"

	"jifen/ledger"
)

// Operate types of open.point.operate.
const (
	OperateCharge   = 1
	OperateFreeze   = 2
	OperateVerify   = 3
	OperateDecrease = 4
)

// OperateRequest is open.point.operate.
type OperateRequest struct {
	Target
	Type         int64
	Points       int64
	OuterOrderID string
	Customer     CustomerLookup `json:"-"`
	CustomerKey  string         // the lookup, for the fingerprint
	OperatorID   string
	Reason       string
	RequestID    string `json:"-"`
}

// Operate charges, freezes, verifies or decreases points for an order
// (ledger rules §7). The customer is found by id, mobile, or external id.
func (s *Service) Operate(ctx context.Context, c Caller, r OperateRequest) (Outcome, error) {
	if err := check([]field{{"request_id", r.RequestID}, {"outer_order_id", r.OuterOrderID}, {"operator_id", r.OperatorID}},
		field{"reason", r.Reason}); err != nil {
		return Outcome{}, err
	}
	if r.Type < OperateCharge || r.Type > OperateDecrease {
		return Outcome{}, ledger.Invalidf("operate_type", "应为 1(增加) 2(冻结) 3(核销) 4(扣减), 收到 %d", r.Type)
	}
	if err := CheckPoints(r.Points); err != nil {
		return Outcome{}, err
	}
	res, err := s.resolve(ctx, c, r.Target, true)
	if err != nil {
		return Outcome{}, err
	}
	r.Customer.Target = r.Target
	cust, err := s.findCustomer(ctx, res.Brand, r.Customer)
	if err != nil {
		return Outcome{}, err
	}
	r.CustomerKey = cust.ID
	info := ledger.Info{OutBizID: r.OuterOrderID, ShopID: res.Shop.ID, ShopName: res.Shop.Name, Channel: r.Channel,
		AppKey: c.App.Key, RequestID: r.RequestID, OperatorID: r.OperatorID, OperatorName: c.Operator, Reason: r.Reason}
	method := "operate"
	return s.idempotent(ctx, c.App.Key, r.RequestID, method, fingerprint(method, r), Lookup{BrandID: res.Brand.ID},
		func(w *write) (Outcome, ledger.Changes, error) {
			q := AccountQuery{CustomerID: cust.ID, OrderRef: r.OuterOrderID, Need: AllLots}
			q.Hold = r.Type == OperateFreeze || r.Type == OperateVerify
			b, snap, err := w.load(res.Brand, q)
			if err != nil {
				return Outcome{}, ledger.Changes{}, err
			}
			if snap.Hold.Exists && snap.Hold.CustomerID != cust.ID {
				return Outcome{}, ledger.Changes{}, ledger.Business(ledger.CodeHoldConflict, "该订单的冻结属于其他顾客",
					"the hold of order %s belongs to another customer", r.OuterOrderID)
			}
			var f ledger.Flow
			switch r.Type {
			case OperateCharge:
				f = b.Grant(ledger.Charge, r.Points, info)
			case OperateFreeze:
				timeout := res.Brand.Settings.HoldTimeout
				if timeout <= 0 {
					timeout = ledger.DefaultSettings().HoldTimeout
				}
				f, err = b.Freeze(r.Points, timeout, info)
			case OperateVerify:
				f, err = b.VerifyHold(r.Points, info)
			case OperateDecrease:
				f, err = b.Spend(ledger.Decrease, r.Points, info)
			}
			if err != nil {
				return Outcome{}, ledger.Changes{}, err
			}
			return Outcome{Result: "true", FlowID: f.ID}, b.Changes(), nil
		})
}

// Calculate is point.cal for a customer: what consume_point points would
// deduct under the customer's level rule. It looks at no balance.
func (s *Service) Calculate(ctx context.Context, c Caller, t Target, customerID string, p int64) (ledger.Deduction, ledger.Rule, error) {
	if p < 0 || p > MaxPoints {
		return ledger.Deduction{}, ledger.Rule{}, ledger.Invalidf("consume_point", "超出范围: %d", p)
	}
	res, err := s.resolve(ctx, c, t, false)
	if err != nil {
		return ledger.Deduction{}, ledger.Rule{}, err
	}
	cust, err := s.CustomerOf(ctx, res.Brand, customerID)
	if err != nil {
		return ledger.Deduction{}, ledger.Rule{}, err
	}
	rule, err := s.Rule(ctx, res.Brand.ID)
	if err != nil {
		return ledger.Deduction{}, rule, err
	}
	return rule.Calculate(cust.LevelID, p), rule, nil
}

// CheckPay is point.chkpntbypay: would a deduction of p points by the
// customer be accepted now? nil means yes; a business *ledger.Error says
// why not. Nothing is written.
func (s *Service) CheckPay(ctx context.Context, c Caller, t Target, customerID string, p int64) error {
	if err := CheckPoints(p); err != nil {
		return err
	}
	res, err := s.resolve(ctx, c, t, false)
	if err != nil {
		return err
	}
	cust, err := s.CustomerOf(ctx, res.Brand, customerID)
	if err != nil {
		return err
	}
	rule, err := s.Rule(ctx, res.Brand.ID)
	if err != nil {
		return err
	}
	v, err := s.Account(ctx, cust)
	if err != nil {
		return err
	}
	return rule.CheckDeduction(cust.LevelID, p, v.Available)
}

// RuleRequest is point.rule.get.
type RuleRequest struct {
	Target
	LevelID              string
	IncludeLogicalDelete bool
	MaxUpdateTime        time.Time // zero: not an incremental sync
}

// RuleAnswer is the rule to show; Unchanged is set for an incremental sync
// when nothing changed after MaxUpdateTime.
type RuleAnswer struct {
	Rule      ledger.Rule
	Found     bool
	Unchanged bool
}

// GetRule returns the brand's rule in force. With MaxUpdateTime set it is
// an incremental sync: a rule not modified after it comes back Unchanged,
// and logically deleted level rules are included only when asked.
func (s *Service) GetRule(ctx context.Context, c Caller, r RuleRequest) (RuleAnswer, error) {
	if err := CheckText("level_id", r.LevelID); err != nil {
		return RuleAnswer{}, err
	}
	res, err := s.resolve(ctx, c, r.Target, false)
	if err != nil {
		return RuleAnswer{}, err
	}
	rule, err := s.store.Rule(ctx, res.Brand.ID)
	if errors.Is(err, ErrNotFound) {
		return RuleAnswer{}, nil
	}
	if err != nil {
		return RuleAnswer{}, err
	}
	ans := RuleAnswer{Rule: rule, Found: true}
	if !r.MaxUpdateTime.IsZero() && !rule.UpdatedAt.After(r.MaxUpdateTime) {
		ans.Unchanged = true
		return ans, nil
	}
	level := strings.TrimSpace(r.LevelID)
	keepD := ans.Rule.Deduction[:0:0]
	for _, d := range rule.Deduction {
		if (d.Deleted && !r.IncludeLogicalDelete) || (level != "" && d.LevelID != level && d.LevelID != "") {
			continue
		}
		keepD = append(keepD, d)
	}
	keepA := ans.Rule.Addition[:0:0]
	for _, a := range rule.Addition {
		if (a.Deleted && !r.IncludeLogicalDelete) || (level != "" && a.LevelID != level && a.LevelID != "") {
			continue
		}
		keepA = append(keepA, a)
	}
	ans.Rule.Deduction, ans.Rule.Addition = keepD, keepA
	return ans, nil
}
