package top

import (
	"context"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// Method names of the rest of the point family.
const (
	MethodOperate    = "alibaba.alsc.crm.open.point.operate"
	MethodCal        = "alibaba.alsc.crm.point.cal"
	MethodChkPntByPy = "alibaba.alsc.crm.point.chkpntbypay"
	MethodRuleGet    = "alibaba.alsc.crm.point.rule.get"
)

// PointOperateOpenReq is open.point.operate's object parameter.
type PointOperateOpenReq struct {
	BrandID      string `json:"brand_id" top:"required"`
	ChangePoint  *int64 `json:"change_point" top:"required"`
	Mobile       string `json:"mobile"`
	OperateType  *int64 `json:"operate_type" top:"required"`
	OperatorID   string `json:"operator_id" top:"required"`
	OuterID      string `json:"outer_id"`
	OuterType    string `json:"outer_type"`
	Reason       string `json:"reason"`
	RequestID    string `json:"request_id" top:"required"`
	ShopID       string `json:"shop_id" top:"required"`
	OuterOrderID string `json:"outer_order_id" top:"required"`
	CustomerID   string `json:"customer_id"`
}

func (p *Points) operate(ctx context.Context, c *Call) (any, error) {
	var q PointOperateOpenReq
	if err := c.Object("param_point_operate_open_req", &q); err != nil {
		return nil, err
	}
	c.BizRequestID = q.RequestID
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	_, err = p.Svc.Operate(ctx, who, points.OperateRequest{
		Target: points.Target{BrandID: q.BrandID, ShopID: q.ShopID},
		Type:   *q.OperateType, Points: *q.ChangePoint, OuterOrderID: q.OuterOrderID,
		Customer:   points.CustomerLookup{CustomerID: q.CustomerID, Mobile: q.Mobile, OuterType: q.OuterType, OuterID: q.OuterID},
		OperatorID: q.OperatorID, Reason: q.Reason, RequestID: q.RequestID,
	})
	if err != nil {
		return nil, err
	}
	return OK(true), nil
}

// CalculateDeductedMoneyOpenReq is point.cal's object parameter.
type CalculateDeductedMoneyOpenReq struct {
	BrandID      string `json:"brand_id"`
	ConsumePoint *int64 `json:"consume_point" top:"required"`
	CustomerID   string `json:"customer_id" top:"required"`
	ShopID       string `json:"shop_id"`
	OutShopID    string `json:"out_shop_id"`
	OutBrandID   string `json:"out_brand_id"`
}

// DuductedMoneyOpenInfo is point.cal's result (the name is as published).
type DuductedMoneyOpenInfo struct {
	ConsumePoint  int64     `json:"consume_point"`
	DeductedMoney int64     `json:"deducted_money"`
	Deleted       bool      `json:"deleted"`
	GmtCreate     time.Time `json:"gmt_create,omitempty"`
	GmtModified   time.Time `json:"gmt_modified,omitempty"`
}

func (p *Points) cal(ctx context.Context, c *Call) (any, error) {
	var q CalculateDeductedMoneyOpenReq
	if err := c.Object("param_calculate_deducted_money_open_req", &q); err != nil {
		return nil, err
	}
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	t := points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID, OutShopID: q.OutShopID, Channel: ""}
	d, rule, err := p.Svc.Calculate(ctx, who, t, q.CustomerID, *q.ConsumePoint)
	if err != nil {
		return nil, err
	}
	return OK(DuductedMoneyOpenInfo{ConsumePoint: d.ConsumePoint, DeductedMoney: d.DeductedMoney,
		GmtCreate: rule.CreatedAt, GmtModified: rule.UpdatedAt}), nil
}

// ConsumePointByPayOpenReq is point.chkpntbypay's object parameter.
type ConsumePointByPayOpenReq struct {
	BrandID     string `json:"brand_id"`
	ChangePoint *int64 `json:"change_point" top:"required"`
	CustomerID  string `json:"customer_id" top:"required"`
	OutShopID   string `json:"out_shop_id"`
	OutBrandID  string `json:"out_brand_id"`
	ShopID      string `json:"shop_id"`
}

// chkPntByPay answers biz_success true with result true when the deduction
// would be accepted; when it would not, result false with the reason's
// code, description and cashier sentence — a verdict, not a failure.
func (p *Points) chkPntByPay(ctx context.Context, c *Call) (any, error) {
	var q ConsumePointByPayOpenReq
	if err := c.Object("param_consume_point_by_pay_open_req", &q); err != nil {
		return nil, err
	}
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	t := points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID, OutShopID: q.OutShopID, Channel: ""}
	err = p.Svc.CheckPay(ctx, who, t, q.CustomerID, *q.ChangePoint)
	if le, ok := ledger.AsError(err); ok && le.Kind == ledger.KindBusiness {
		return CommonResult{BizSuccess: true, Result: false, ResultCode: le.Code, ResultDesc: le.Message, ResultView: le.View}, nil
	}
	if err != nil {
		return nil, err
	}
	return OK(true), nil
}

// QueryPointRuleOpenReq is point.rule.get's object parameter.
type QueryPointRuleOpenReq struct {
	BrandID              string     `json:"brand_id"`
	IncludeLogicalDelete *bool      `json:"include_logical_delete"`
	LevelID              string     `json:"level_id"`
	MaxUpdateTime        *time.Time `json:"max_update_time"`
	OutBrandID           string     `json:"out_brand_id"`
	OutShopID            string     `json:"out_shop_id"`
	ShopID               string     `json:"shop_id"`
}

// PointRuleOpenInfo is point.rule.get's result.
type PointRuleOpenInfo struct {
	CreateBy           string                     `json:"create_by,omitempty"`
	Deleted            bool                       `json:"deleted"`
	GmtCreate          time.Time                  `json:"gmt_create"`
	GmtModified        time.Time                  `json:"gmt_modified"`
	Name               string                     `json:"name"`
	PointAdditionRule  PointAdditionRuleOpenInfo  `json:"point_addition_rule"`
	PointClearRule     PointClearRuleOpenInfo     `json:"point_clear_rule"`
	PointDeductionRule PointDeductionRuleOpenInfo `json:"point_deduction_rule"`
	RuleID             string                     `json:"rule_id"`
	UpdateBy           string                     `json:"update_by,omitempty"`
	Version            int64                      `json:"version"`
}

// PointAdditionRuleOpenInfo is the earning rule.
type PointAdditionRuleOpenInfo struct {
	MemberPointAdditionRules []MemberPointAdditionRuleOpenInfo `json:"member_point_addition_rules" top:"item=member_point_addition_rule_open_info"`
}

// MemberPointAdditionRuleOpenInfo is one level's earning rule; money in yuan.
type MemberPointAdditionRuleOpenInfo struct {
	ConsumeMoney float64 `json:"consume_money"`
	Enable       bool    `json:"enable"`
	LevelID      string  `json:"level_id"`
	RewardPoint  int64   `json:"reward_point"`
	Deleted      *bool   `json:"deleted,omitempty"`
}

// PointClearRuleOpenInfo is the expiry rule.
type PointClearRuleOpenInfo struct {
	Days               int64  `json:"days"`
	PointClearRuleType string `json:"point_clear_rule_type"`
}

// PointDeductionRuleOpenInfo is the redemption rule.
type PointDeductionRuleOpenInfo struct {
	MemberPointDeductionRules []MemberPointDeductionRuleOpenInfo `json:"member_point_deduction_rules" top:"item=member_point_deduction_rule_open_info"`
	WithCoupon                bool                               `json:"with_coupon"`
}

// MemberPointDeductionRuleOpenInfo is one level's redemption rule; money in
// yuan. deleted appears only in an incremental sync that asked for
// logically deleted rules.
type MemberPointDeductionRuleOpenInfo struct {
	ConsumeMoney  float64 `json:"consume_money"`
	DeductedPoint int64   `json:"deducted_point"`
	Enable        bool    `json:"enable"`
	HasUpperLimit bool    `json:"has_upper_limit"`
	LevelID       string  `json:"level_id"`
	MaxPoint      int64   `json:"max_point"`
	Deleted       *bool   `json:"deleted,omitempty"`
}

// RuleInfo shapes a ledger rule as PointRuleOpenInfo.
func RuleInfo(r ledger.Rule, withDeleted bool) PointRuleOpenInfo {
	info := PointRuleOpenInfo{CreateBy: r.CreatedBy, GmtCreate: r.CreatedAt, GmtModified: r.UpdatedAt, Name: r.Name,
		PointClearRule:     PointClearRuleOpenInfo{Days: int64(r.Clear.Days), PointClearRuleType: r.Clear.Type},
		PointDeductionRule: PointDeductionRuleOpenInfo{WithCoupon: r.WithCoupon, MemberPointDeductionRules: []MemberPointDeductionRuleOpenInfo{}},
		PointAdditionRule:  PointAdditionRuleOpenInfo{MemberPointAdditionRules: []MemberPointAdditionRuleOpenInfo{}},
		RuleID:             r.RuleID, UpdateBy: r.UpdatedBy, Version: r.Version}
	del := func(d bool) *bool {
		if !withDeleted {
			return nil
		}
		return &d
	}
	for _, d := range r.Deduction {
		info.PointDeductionRule.MemberPointDeductionRules = append(info.PointDeductionRule.MemberPointDeductionRules,
			MemberPointDeductionRuleOpenInfo{ConsumeMoney: float64(d.ConsumeMoney) / 100, DeductedPoint: d.DeductedPoint,
				Enable: d.Enable, HasUpperLimit: d.HasUpperLimit, LevelID: d.LevelID, MaxPoint: d.MaxPoint, Deleted: del(d.Deleted)})
	}
	for _, a := range r.Addition {
		info.PointAdditionRule.MemberPointAdditionRules = append(info.PointAdditionRule.MemberPointAdditionRules,
			MemberPointAdditionRuleOpenInfo{ConsumeMoney: float64(a.ConsumeMoney) / 100, Enable: a.Enable, LevelID: a.LevelID,
				RewardPoint: a.RewardPoint, Deleted: del(a.Deleted)})
	}
	return info
}

func (p *Points) ruleGet(ctx context.Context, c *Call) (any, error) {
	var q QueryPointRuleOpenReq
	if err := c.Object("param_query_point_rule_open_req", &q); err != nil {
		return nil, err
	}
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	r := points.RuleRequest{Target: points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID,
		OutShopID: q.OutShopID, Channel: ""}, LevelID: strings.TrimSpace(q.LevelID)}
	// Both sync fields present: the incremental-sync form.
	if q.IncludeLogicalDelete != nil && q.MaxUpdateTime != nil {
		r.IncludeLogicalDelete, r.MaxUpdateTime = *q.IncludeLogicalDelete, *q.MaxUpdateTime
	}
	ans, err := p.Svc.GetRule(ctx, who, r)
	if err != nil {
		return nil, err
	}
	if !ans.Found {
		return nil, ledger.Business(ledger.CodeRuleNotFound, "品牌未配置积分规则", "brand has no point rule")
	}
	if ans.Unchanged {
		// Nothing modified since max_update_time: success with no rule.
		return OK(nil), nil
	}
	return OK(RuleInfo(ans.Rule, r.IncludeLogicalDelete)), nil
}
