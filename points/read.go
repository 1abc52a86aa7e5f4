package points

import (
	"context"
	"errors"
	"strings"
	"time"

	"jifen/ledger"
)

// FlowsRequest is point.querypointflow.
type FlowsRequest struct {
	Target
	CustomerID string
	OutBizLike string
	Type       string
	Start, End time.Time
	PageNo     int64 // from 1; 0 means 1
	PageSize   int64 // 0 means 20
}

// MaxPageSize bounds one page of flows.
const MaxPageSize = 200

// FlowPage is one page of flows, newest first.
type FlowPage struct {
	Flows    []ledger.Flow
	PageNo   int64
	PageSize int64
	Total    int64
}

// TotalPages is the number of pages at this page size.
func (p FlowPage) TotalPages() int64 {
	if p.PageSize == 0 {
		return 0
	}
	return (p.Total + p.PageSize - 1) / p.PageSize
}

// HasNext reports whether a page follows this one.
func (p FlowPage) HasNext() bool { return p.PageNo < p.TotalPages() }

// QueryFlows lists a customer's flows with the filters of querypointflow.
func (s *Service) QueryFlows(ctx context.Context, c Caller, r FlowsRequest) (FlowPage, error) {
	if err := check([]field{{"customer_id", r.CustomerID}}, field{"out_biz_id", r.OutBizLike}); err != nil {
		return FlowPage{}, err
	}
	if r.PageNo < 0 {
		return FlowPage{}, ledger.Invalidf("page_no", "必须从 1 开始, 收到 %d", r.PageNo)
	}
	if r.PageSize < 0 || r.PageSize > MaxPageSize {
		return FlowPage{}, ledger.Invalidf("page_size", "必须在 1 到 %d 之间, 收到 %d", MaxPageSize, r.PageSize)
	}
	if r.PageNo == 0 {
		r.PageNo = 1
	}
	if r.PageSize == 0 {
		r.PageSize = 20
	}
	if r.PageNo > 1_000_000 {
		return FlowPage{}, ledger.Invalidf("page_no", "超出范围, 收到 %d", r.PageNo)
	}
	t := ledger.FlowType(strings.TrimSpace(r.Type))
	if t != "" && !t.Valid() {
		return FlowPage{}, ledger.Invalidf("point_flow_type", "未知的积分流水类型 %q", r.Type)
	}
	if !r.Start.IsZero() && !r.End.IsZero() && r.End.Before(r.Start) {
		return FlowPage{}, ledger.Invalid("end_time", "截止时间早于开始时间")
	}
	res, err := s.resolve(ctx, c, r.Target, false)
	if err != nil {
		return FlowPage{}, err
	}
	cust, err := s.CustomerOf(ctx, res.Brand, r.CustomerID)
	if err != nil {
		return FlowPage{}, err
	}
	q := FlowQuery{BrandID: res.Brand.ID, CustomerID: cust.ID, OutBizLike: strings.TrimSpace(r.OutBizLike), Type: t,
		ShopID: res.Shop.ID, Channel: r.Channel, Start: r.Start, End: r.End,
		Offset: int((r.PageNo - 1) * r.PageSize), Limit: int(r.PageSize)}
	flows, total, err := s.store.Flows(ctx, q)
	if err != nil {
		return FlowPage{}, err
	}
	return FlowPage{Flows: flows, PageNo: r.PageNo, PageSize: r.PageSize, Total: int64(total)}, nil
}

// AccountView is a member's points position as shown to callers.
type AccountView struct {
	Customer     ledger.Customer
	Available    int64 // spendable now: expired points never count
	Frozen       int64
	Debt         int64
	TotalEarned  int64
	TotalUsed    int64
	TotalExpired int64 // including points expired but not yet written off
	Lots         []ledger.Lot
}

// CustomerLookup names a customer by id, mobile or an external id.
type CustomerLookup struct {
	Target
	CustomerID string
	Mobile     string
	OuterType  string
	OuterID    string
}

// FindCustomer resolves a customer of the target's brand.
func (s *Service) FindCustomer(ctx context.Context, c Caller, l CustomerLookup) (ledger.Customer, error) {
	res, err := s.resolve(ctx, c, l.Target, false)
	if err != nil {
		return ledger.Customer{}, err
	}
	return s.findCustomer(ctx, res.Brand, l)
}

func (s *Service) findCustomer(ctx context.Context, brand ledger.Brand, l CustomerLookup) (ledger.Customer, error) {
	var (
		cust  ledger.Customer
		err   error
		which string // the field the customer was looked up by
	)
	if err := check(nil, field{"customer_id", l.CustomerID}, field{"mobile", l.Mobile}, field{"outer_type", l.OuterType},
		field{"outer_id", l.OuterID}); err != nil {
		return cust, err
	}
	switch {
	case strings.TrimSpace(l.CustomerID) != "":
		return s.CustomerOf(ctx, brand, l.CustomerID)
	case strings.TrimSpace(l.Mobile) != "":
		which = "mobile"
		cust, err = s.store.CustomerByMobile(ctx, brand.ID, strings.TrimSpace(l.Mobile))
	case strings.TrimSpace(l.OuterID) != "":
		which = "outer_id"
		if strings.TrimSpace(l.OuterType) == "" {
			return cust, ledger.Invalid("outer_type", "使用 outer_id 时不可为空")
		}
		cust, err = s.store.CustomerByOuterID(ctx, brand.ID, l.OuterType, l.OuterID)
	default:
		return cust, ledger.Invalid("customer_id", "customer_id, mobile 与 outer_id 不可同时为空")
	}
	if err != nil {
		return cust, notFound(err, which, "顾客不存在")
	}
	return cust, nil
}

// Account is a customer's points position at the ledger's now.
func (s *Service) Account(ctx context.Context, cust ledger.Customer) (AccountView, error) {
	v := AccountView{Customer: cust}
	acct, lots, err := s.accountAndLots(ctx, cust)
	if errors.Is(err, ErrNotFound) {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	now := s.Now()
	v.Available = ledger.Spendable(acct, lots, now)
	v.Frozen, v.Debt = acct.Frozen, acct.Debt
	v.TotalEarned, v.TotalUsed = acct.TotalEarned, acct.TotalUsed
	v.TotalExpired = acct.TotalExpired + (acct.Available - v.Available)
	v.Lots = lots
	return v, nil
}

// accountAndLots reads an account and its live lots as of one moment. The
// two are separate reads, and a write may commit between them (an expiry
// written off, a payment); every write that changes a lot changes its
// account's version, so the account is read again after the lots, and the
// pair is taken only when the version held.
func (s *Service) accountAndLots(ctx context.Context, cust ledger.Customer) (ledger.Account, []ledger.Lot, error) {
	acct, err := s.store.Account(ctx, cust.BrandID, cust.ID)
	if err != nil {
		return acct, nil, err
	}
	for range 10 {
		lots, err := s.store.LiveLots(ctx, cust.BrandID, cust.ID)
		if err != nil {
			return acct, nil, err
		}
		again, err := s.store.Account(ctx, cust.BrandID, cust.ID)
		if err != nil {
			return acct, nil, err
		}
		if again.Version == acct.Version {
			return acct, lots, nil
		}
		acct = again
	}
	return acct, nil, ledger.Unavailable("the account of %s changed under every read; retry", cust.ID)
}
