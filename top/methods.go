package top

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// Method names served by the gateway.
const (
	MethodReversePoint   = "alibaba.alsc.crm.point.reversepoint"
	MethodConsumePoint   = "alibaba.alsc.crm.point.consumepoint"
	MethodExtraCharge    = "alibaba.alsc.crm.point.extracharge"
	MethodExtraConsume   = "alibaba.alsc.crm.point.extra.consume"
	MethodQueryPointFlow = "alibaba.alsc.crm.point.querypointflow"
	MethodCustomerCreate = "alibaba.alsc.crm.customer.create"
	MethodCustomerGet    = "alibaba.alsc.crm.customer.get"
	MethodCustomerUpdate = "alibaba.alsc.crm.customer.update"
)

// Points adapts the points service to TOP methods: decode the object
// parameter → call the service → shape the answer as published.
type Points struct {
	Svc *points.Service
}

// LookupApp serves the gateway's Apps from the service's store.
func (p *Points) LookupApp(ctx context.Context, appKey string) (App, bool, error) {
	a, err := p.Svc.App(ctx, appKey)
	if errors.Is(err, points.ErrNotFound) {
		return App{}, false, nil
	}
	if err != nil {
		return App{}, false, err
	}
	return App{Key: a.Key, Secret: a.Secret, Active: a.Active, RateLimit: a.RateLimit}, true, nil
}

// Methods is the table of every method jifen serves.
func (p *Points) Methods() map[string]Method {
	return map[string]Method{
		MethodReversePoint:   p.reversePoint,
		MethodConsumePoint:   p.consumePoint,
		MethodExtraCharge:    p.extraCharge,
		MethodExtraConsume:   p.extraConsume,
		MethodQueryPointFlow: p.queryPointFlow,
		MethodCustomerCreate: p.customerCreate,
		MethodCustomerGet:    p.customerGet,
		MethodCustomerUpdate: p.customerUpdate,
		MethodOperate:        p.operate,
		MethodCal:            p.cal,
		MethodChkPntByPy:     p.chkPntByPay,
		MethodRuleGet:        p.ruleGet,
	}
}

func (p *Points) caller(ctx context.Context, c *Call) (points.Caller, error) {
	a, err := p.Svc.App(ctx, c.AppKey)
	if err != nil {
		return points.Caller{}, err
	}
	return points.Caller{App: a}, nil
}

// ReverseConsumePointOpenReq is reversepoint's object parameter.
type ReverseConsumePointOpenReq struct {
	BizType        string `json:"biz_type" top:"required"`
	BrandID        string `json:"brand_id"`
	ChangePoint    *int64 `json:"change_point" top:"noblank"` // absent: reverse everything
	CustomerID     string `json:"customer_id"`
	OperatorID     string `json:"operator_id" top:"required"`
	OperatorName   string `json:"operator_name" top:"required"`
	OutBizID       string `json:"out_biz_id" top:"required"`
	Reason         string `json:"reason"`
	RequestID      string `json:"request_id" top:"required"`
	ReverseOrderID string `json:"reverse_order_id" top:"required"`
	ShopID         string `json:"shop_id"`
	OutShopID      string `json:"out_shop_id"`
	OutBrandID     string `json:"out_brand_id"`
	BizChannel     string `json:"biz_channel" top:"required"`
}

func (p *Points) reversePoint(ctx context.Context, c *Call) (any, error) {
	var q ReverseConsumePointOpenReq
	if err := c.Object("param_reverse_consume_point_open_req", &q); err != nil {
		return nil, err
	}
	c.BizRequestID = q.RequestID
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	out, err := p.Svc.Reverse(ctx, who, points.ReverseRequest{
		Target: points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID, OutShopID: q.OutShopID, Channel: q.BizChannel},
		Type:   ledger.FlowType(strings.TrimSpace(q.BizType)), CustomerID: q.CustomerID, Points: q.ChangePoint,
		OutBizID: q.OutBizID, ReverseOrderID: q.ReverseOrderID, OperatorID: q.OperatorID, OperatorName: q.OperatorName,
		Reason: q.Reason, RequestID: q.RequestID,
	})
	if err != nil {
		return nil, err
	}
	return OK(out.Result), nil
}

// OrderPointOpenReq is the object parameter of consumepoint, extracharge
// and extra.consume (their published fields agree; operator_name is
// required by consumepoint only).
type OrderPointOpenReq struct {
	BrandID      string `json:"brand_id"`
	ChangePoint  *int64 `json:"change_point" top:"required"`
	CustomerID   string `json:"customer_id" top:"required"`
	OperatorID   string `json:"operator_id" top:"required"`
	OperatorName string `json:"operator_name"`
	OutBizID     string `json:"out_biz_id" top:"required"`
	Reason       string `json:"reason"`
	RequestID    string `json:"request_id" top:"required"`
	ShopID       string `json:"shop_id"`
	OutShopID    string `json:"out_shop_id"`
	OutBrandID   string `json:"out_brand_id"`
	BizChannel   string `json:"biz_channel" top:"required"`
}

func (p *Points) orderRequest(ctx context.Context, c *Call, param string, needOperatorName bool) (points.Caller, points.OrderRequest, error) {
	var q OrderPointOpenReq
	if err := c.Object(param, &q); err != nil {
		return points.Caller{}, points.OrderRequest{}, err
	}
	c.BizRequestID = q.RequestID
	if needOperatorName && strings.TrimSpace(q.OperatorName) == "" {
		return points.Caller{}, points.OrderRequest{}, ledger.Invalid("operator_name", "不可为空")
	}
	who, err := p.caller(ctx, c)
	if err != nil {
		return who, points.OrderRequest{}, err
	}
	return who, points.OrderRequest{
		Target:     points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID, OutShopID: q.OutShopID, Channel: q.BizChannel},
		CustomerID: q.CustomerID, Points: *q.ChangePoint, OutBizID: q.OutBizID, OperatorID: q.OperatorID,
		OperatorName: q.OperatorName, Reason: q.Reason, RequestID: q.RequestID,
	}, nil
}

func (p *Points) consumePoint(ctx context.Context, c *Call) (any, error) {
	who, r, err := p.orderRequest(ctx, c, "param_consume_point_open_req", true)
	if err != nil {
		return nil, err
	}
	out, err := p.Svc.Consume(ctx, who, r)
	if err != nil {
		return nil, err
	}
	return OK(out.Result), nil
}

func (p *Points) extraCharge(ctx context.Context, c *Call) (any, error) {
	who, r, err := p.orderRequest(ctx, c, "param_extra_charge_point_open_req", false)
	if err != nil {
		return nil, err
	}
	out, err := p.Svc.ExtraCharge(ctx, who, r)
	if err != nil {
		return nil, err
	}
	return OK(out.Result), nil
}

func (p *Points) extraConsume(ctx context.Context, c *Call) (any, error) {
	who, r, err := p.orderRequest(ctx, c, "param_extra_consume_point_open_req", false)
	if err != nil {
		return nil, err
	}
	out, err := p.Svc.ExtraConsume(ctx, who, r)
	if err != nil {
		return nil, err
	}
	return OK(out.Result), nil
}

// PageQueryPointFlowOpenReq is querypointflow's object parameter.
type PageQueryPointFlowOpenReq struct {
	BrandID       string     `json:"brand_id"`
	CustomerID    string     `json:"customer_id" top:"required"`
	EndTime       *time.Time `json:"end_time"`
	OutBizID      string     `json:"out_biz_id"`
	PageNo        *int64     `json:"page_no"`
	PageSize      *int64     `json:"page_size"`
	PointFlowType string     `json:"point_flow_type"`
	ShopID        string     `json:"shop_id"`
	StartTime     *time.Time `json:"start_time"`
	OutShopID     string     `json:"out_shop_id"`
	OutBrandID    string     `json:"out_brand_id"`
	BizChannel    string     `json:"biz_channel"`
}

// CommonPageResult is querypointflow's result.
type CommonPageResult struct {
	BizSuccess  bool                `json:"biz_success"`
	CurrentPage int64               `json:"current_page"`
	HasNextPage bool                `json:"has_next_page"`
	PageSize    int64               `json:"page_size"`
	ResultList  []PointFlowOpenInfo `json:"result_list" top:"item=point_flow_open_info"`
	ResultCode  string              `json:"result_code"`
	ResultDesc  string              `json:"result_desc"`
	ResultView  string              `json:"result_view"`
	TotalPage   int64               `json:"total_page"`
	TotalSize   int64               `json:"total_size"`
}

// PointFlowOpenInfo is one flow as querypointflow shows it.
type PointFlowOpenInfo struct {
	BizType            string    `json:"biz_type"`
	BizTypeDescription string    `json:"biz_type_description"`
	ChangePoint        int64     `json:"change_point"`
	FlowID             string    `json:"flow_id"`
	OperatorName       string    `json:"operator_name"`
	OutBizID           string    `json:"out_biz_id"`
	Reason             string    `json:"reason"`
	RemainPoint        int64     `json:"remain_point"`
	ShopName           string    `json:"shop_name"`
	Time               time.Time `json:"time"`
}

// FlowInfo shapes a ledger flow as PointFlowOpenInfo.
func FlowInfo(f ledger.Flow) PointFlowOpenInfo {
	return PointFlowOpenInfo{BizType: string(f.Type), BizTypeDescription: f.Type.Description(), ChangePoint: f.ChangePoint(),
		FlowID: f.ID, OperatorName: f.OperatorName, OutBizID: f.OutBizID, Reason: f.Reason, RemainPoint: f.RemainPoint,
		ShopName: f.ShopName, Time: f.CreatedAt}
}

func (p *Points) queryPointFlow(ctx context.Context, c *Call) (any, error) {
	var q PageQueryPointFlowOpenReq
	if err := c.Object("param_page_query_point_flow_open_req", &q); err != nil {
		return nil, err
	}
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	r := points.FlowsRequest{
		Target:     points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID, OutShopID: q.OutShopID, Channel: q.BizChannel},
		CustomerID: q.CustomerID, OutBizLike: q.OutBizID, Type: q.PointFlowType,
	}
	if q.PageNo != nil {
		if *q.PageNo < 1 {
			return nil, ledger.Invalidf("page_no", "必须从 1 开始, 收到 %d", *q.PageNo)
		}
		r.PageNo = *q.PageNo
	}
	if q.PageSize != nil {
		if *q.PageSize < 1 {
			return nil, ledger.Invalidf("page_size", "必须为正, 收到 %d", *q.PageSize)
		}
		r.PageSize = *q.PageSize
	}
	if q.StartTime != nil {
		r.Start = *q.StartTime
	}
	if q.EndTime != nil {
		r.End = *q.EndTime
	}
	page, err := p.Svc.QueryFlows(ctx, who, r)
	if err != nil {
		return nil, err
	}
	res := CommonPageResult{BizSuccess: true, CurrentPage: page.PageNo, HasNextPage: page.HasNext(), PageSize: page.PageSize,
		ResultList: []PointFlowOpenInfo{}, ResultCode: "200", ResultDesc: "成功", TotalPage: page.TotalPages(), TotalSize: page.Total}
	for _, f := range page.Flows {
		res.ResultList = append(res.ResultList, FlowInfo(f))
	}
	return res, nil
}

// CustomerCreateOpenReq is customer.create's object parameter.
type CustomerCreateOpenReq struct {
	Address      string     `json:"address"`
	Birthday     *time.Time `json:"birthday"`
	BrandID      string     `json:"brand_id"`
	Channel      string     `json:"channel" top:"required"`
	CustomerType *int64     `json:"customer_type" top:"required"`
	Email        string     `json:"email"`
	Gender       string     `json:"gender"`
	Invoice      string     `json:"invoice"`
	LevelID      string     `json:"level_id"`
	Mobile       string     `json:"mobile"`
	Name         string     `json:"name"`
	OperatorID   string     `json:"operator_id"`
	OuterID      string     `json:"outer_id" top:"required"`
	OuterType    string     `json:"outer_type" top:"required"`
	Phone        string     `json:"phone"`
	Remark       string     `json:"remark"`
	RequestID    string     `json:"request_id" top:"required"`
	ShopID       string     `json:"shop_id"`
	TagIDList    []string   `json:"tag_id_list"`
	OutBrandID   string     `json:"out_brand_id"`
	OutShopID    string     `json:"out_shop_id"`
}

func (p *Points) customerCreate(ctx context.Context, c *Call) (any, error) {
	var q CustomerCreateOpenReq
	if err := c.Object("param_customer_create_open_req", &q); err != nil {
		return nil, err
	}
	c.BizRequestID = q.RequestID
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	if *q.CustomerType != 0 && *q.CustomerType != 1 {
		return nil, ledger.Invalidf("customer_type", "应为 0 或 1, 收到 %d", *q.CustomerType)
	}
	switch q.Gender {
	case "", "0", "1":
	default:
		return nil, ledger.Invalidf("gender", "应为 0 或 1, 收到 %q", q.Gender)
	}
	cu := ledger.Customer{Mobile: strings.TrimSpace(q.Mobile), Name: q.Name, LevelID: q.LevelID, CustomerType: int(*q.CustomerType),
		Channel: q.Channel, OuterType: strings.TrimSpace(q.OuterType), OuterID: strings.TrimSpace(q.OuterID), Gender: q.Gender,
		Email: q.Email, Address: q.Address, Remark: q.Remark}
	if q.Birthday != nil {
		cu.Birthday = q.Birthday.In(ledger.Shanghai).Format("2006-01-02")
	}
	out, err := p.Svc.CreateCustomer(ctx, who, points.CreateCustomerRequest{
		Target:   points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID, OutShopID: q.OutShopID, Channel: ""},
		Customer: cu, RequestID: q.RequestID,
	})
	if err != nil {
		return nil, err
	}
	return OK(out.Result), nil
}

// CustomerUpdateOpenReq is customer.update's object parameter. A field
// absent (or null) is left as it is; a text field given as "" clears it.
// gender is a Number on the wire, read here as its text so that "" clears
// it too; birthday is a String: yyyy-MM-dd, or as customer.create's Date
// (yyyy-MM-dd HH:mm:ss, epoch milliseconds), of which the day in GMT+8
// is kept. phone, invoice, ext_info and tag_ids are checked and accepted,
// not kept (as with customer.create).
type CustomerUpdateOpenReq struct {
	CustomerID   string   `json:"customer_id" top:"required"`
	BrandID      string   `json:"brand_id"`
	OutBrandID   string   `json:"out_brand_id"`
	Address      *string  `json:"address"`
	Birthday     *string  `json:"birthday"`
	Email        *string  `json:"email"`
	ExtInfo      *string  `json:"ext_info"`
	Gender       *string  `json:"gender"`
	Invoice      *string  `json:"invoice"`
	LevelID      *string  `json:"level_id"`
	Mobile       *string  `json:"mobile"`
	Name         *string  `json:"name"`
	OperatorID   string   `json:"operator_id"`
	OperatorName string   `json:"operator_name"`
	Phone        *string  `json:"phone"`
	Remark       *string  `json:"remark"`
	RequestID    string   `json:"request_id" top:"required"`
	TagIDs       []string `json:"tag_ids"`
	CustomerType *int64   `json:"customer_type"`
}

func (p *Points) customerUpdate(ctx context.Context, c *Call) (any, error) {
	var q CustomerUpdateOpenReq
	if err := c.Object("param_customer_update_open_req", &q); err != nil {
		return nil, err
	}
	c.BizRequestID = q.RequestID
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	r := points.UpdateCustomerRequest{Target: points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID},
		CustomerID: q.CustomerID, Mobile: q.Mobile, Name: q.Name, LevelID: q.LevelID, Email: q.Email,
		Address: q.Address, Remark: q.Remark, Phone: q.Phone, Invoice: q.Invoice, ExtInfo: q.ExtInfo, TagIDs: q.TagIDs,
		OperatorID: q.OperatorID, OperatorName: q.OperatorName, RequestID: q.RequestID}
	if q.Gender != nil {
		g, err := genderText(*q.Gender)
		if err != nil {
			return nil, err
		}
		r.Gender = &g
	}
	if q.Birthday != nil {
		b := birthdayText(*q.Birthday)
		r.Birthday = &b
	}
	if q.CustomerType != nil {
		if *q.CustomerType != 0 && *q.CustomerType != 1 {
			return nil, ledger.Invalidf("customer_type", "应为 0 (顾客) 或 1 (会员), 收到 %d", *q.CustomerType)
		}
		ct := int(*q.CustomerType)
		r.CustomerType = &ct
	}
	out, err := p.Svc.UpdateCustomer(ctx, who, r)
	if err != nil {
		return nil, err
	}
	return OK(out.Result), nil
}

// genderText reads customer.update's gender, a Number sent as a number or
// a string: "" (clear), 0 or 1, as the customer record keeps it ("0", "1").
func genderText(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if n, reason := parseWholeNumber(v); reason == "" && (n == 0 || n == 1) {
		return strconv.FormatInt(n, 10), nil
	}
	return "", ledger.Invalidf("gender", "应为 0 (女) 或 1 (男), 收到 %q", v)
}

// birthdayText reads customer.update's birthday: the day of a TOP Date
// (yyyy-MM-dd HH:mm:ss or epoch milliseconds, in GMT+8, as
// customer.create takes it); anything else goes to the service as sent,
// which takes yyyy-MM-dd and "" and refuses the rest, naming the field.
func birthdayText(v string) string {
	t := strings.TrimSpace(v)
	if allDigits(t) {
		if ms, err := strconv.ParseInt(t, 10, 64); err == nil && ms <= maxEpochMillis {
			return time.UnixMilli(ms).In(cst).Format(time.DateOnly)
		}
		return v
	}
	if d, err := time.ParseInLocation(TimeLayout, t, cst); err == nil {
		return d.Format(time.DateOnly)
	}
	return v
}

// CustomerIDQueryOpenReq is customer.get's object parameter.
type CustomerIDQueryOpenReq struct {
	BrandID        string   `json:"brand_id"`
	CustomerID     string   `json:"customer_id"`
	Options        []string `json:"options" top:"required"`
	ShopID         string   `json:"shop_id"`
	Mobile         string   `json:"mobile"`
	PhysicalCardID string   `json:"physical_card_id"`
	CardID         string   `json:"card_id"`
	OutBrandID     string   `json:"out_brand_id"`
	OutShopID      string   `json:"out_shop_id"`
	WechatOpenID   string   `json:"wechat_open_id"`
	WechatAppID    string   `json:"wechat_app_id"`
	Phone          string   `json:"phone"`
	AlipayID       string   `json:"alipay_id"`
}

// CustomerAggOpenInfo is customer.get's result (cards, stored value and
// vouchers are not jifen's business and are left out).
type CustomerAggOpenInfo struct {
	CustomerOpenInfo CustomerOpenInfo      `json:"customer_open_info"`
	PointAccount     *PointAccountOpenInfo `json:"point_account,omitempty"`
}

// CustomerOpenInfo is a customer's base information.
type CustomerOpenInfo struct {
	Address      string    `json:"address,omitempty"`
	CustomerID   string    `json:"customer_id"`
	CustomerType int64     `json:"customer_type"`
	Deleted      bool      `json:"deleted"`
	Email        string    `json:"email,omitempty"`
	Gender       *int64    `json:"gender,omitempty"`
	GmtCreate    time.Time `json:"gmt_create"`
	LevelID      string    `json:"level_id,omitempty"`
	Mobile       string    `json:"mobile,omitempty"`
	Name         string    `json:"name,omitempty"`
	Remark       string    `json:"remark,omitempty"`
	State        int64     `json:"state"`
}

// PointAccountOpenInfo is a customer's point account.
type PointAccountOpenInfo struct {
	AvailablePoint    int64  `json:"available_point"`
	CustomerID        string `json:"customer_id"`
	FreezePoint       int64  `json:"freeze_point"`
	TotalExpiredPoint int64  `json:"total_expired_point"`
	TotalPoint        int64  `json:"total_point"`
	TotalUsedPoint    int64  `json:"total_used_point"`
}

var knownOptions = map[string]bool{"POINT": true, "CARD": true, "RECHARGE": true, "BASE": true}

func (p *Points) customerGet(ctx context.Context, c *Call) (any, error) {
	var q CustomerIDQueryOpenReq
	if err := c.Object("param_customer_id_query_open_req", &q); err != nil {
		return nil, err
	}
	who, err := p.caller(ctx, c)
	if err != nil {
		return nil, err
	}
	wantPoints := false
	for _, o := range q.Options {
		o = strings.ToUpper(strings.TrimSpace(o))
		if !knownOptions[o] {
			return nil, ledger.Invalidf("options", "未知选项 %q, 可选 POINT, CARD, RECHARGE", o)
		}
		wantPoints = wantPoints || o == "POINT"
	}
	l := points.CustomerLookup{
		Target:     points.Target{BrandID: q.BrandID, OutBrandID: q.OutBrandID, ShopID: q.ShopID, OutShopID: q.OutShopID, Channel: ""},
		CustomerID: q.CustomerID, Mobile: q.Mobile,
	}
	switch {
	case q.WechatOpenID != "":
		l.OuterType, l.OuterID = "wechat", q.WechatOpenID
	case q.AlipayID != "":
		l.OuterType, l.OuterID = "alipay", q.AlipayID
	}
	cust, err := p.Svc.FindCustomer(ctx, who, l)
	if err != nil {
		return nil, err
	}
	info := CustomerAggOpenInfo{CustomerOpenInfo: CustomerOpenInfo{Address: cust.Address, CustomerID: cust.ID,
		CustomerType: int64(cust.CustomerType), Email: cust.Email, GmtCreate: cust.CreatedAt, LevelID: cust.LevelID,
		Mobile: cust.Mobile, Name: cust.Name, Remark: cust.Remark, State: 1}}
	if cust.Gender == "0" || cust.Gender == "1" {
		g := int64(cust.Gender[0] - '0')
		info.CustomerOpenInfo.Gender = &g
	}
	if wantPoints {
		v, err := p.Svc.Account(ctx, cust)
		if err != nil {
			return nil, err
		}
		info.PointAccount = &PointAccountOpenInfo{AvailablePoint: v.Available, CustomerID: cust.ID, FreezePoint: v.Frozen,
			TotalExpiredPoint: v.TotalExpired, TotalPoint: v.TotalEarned, TotalUsedPoint: v.TotalUsed}
	}
	return OK(info), nil
}
