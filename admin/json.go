package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/tenant"
)

// The API's JSON shapes: snake_case, times in RFC 3339 in Asia/Shanghai
// ("" for none), money in fen unless the tenant file's yuan.

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(ledger.Shanghai).Format(time.RFC3339)
}

type customerJSON struct {
	CustomerID   string `json:"customer_id"`
	BrandID      string `json:"brand_id"`
	Mobile       string `json:"mobile"`
	Name         string `json:"name"`
	LevelID      string `json:"level_id"`
	CustomerType int    `json:"customer_type"`
	Gender       string `json:"gender"` // "0" female, "1" male, "" not given
	Email        string `json:"email"`
	Birthday     string `json:"birthday"` // YYYY-MM-DD
	Address      string `json:"address"`
	Remark       string `json:"remark"`
	Channel      string `json:"channel,omitempty"`
	OuterType    string `json:"outer_type,omitempty"`
	OuterID      string `json:"outer_id,omitempty"`
	ShopID       string `json:"shop_id,omitempty"`
	CreatedAt    string `json:"created_at"`
}

func customerOut(c ledger.Customer) customerJSON {
	return customerJSON{CustomerID: c.ID, BrandID: c.BrandID, Mobile: c.Mobile, Name: c.Name, LevelID: c.LevelID,
		CustomerType: c.CustomerType, Gender: c.Gender, Email: c.Email, Birthday: c.Birthday, Address: c.Address,
		Remark: c.Remark, Channel: c.Channel, OuterType: c.OuterType, OuterID: c.OuterID, ShopID: c.ShopID,
		CreatedAt: ts(c.CreatedAt)}
}

type accountJSON struct {
	Available    int64 `json:"available"`
	Frozen       int64 `json:"frozen"`
	Debt         int64 `json:"debt"`
	TotalEarned  int64 `json:"total_earned"`
	TotalUsed    int64 `json:"total_used"`
	TotalExpired int64 `json:"total_expired"`
}

type lotJSON struct {
	LotID        string `json:"lot_id"`
	Granted      int64  `json:"granted"`
	Remaining    int64  `json:"remaining"`
	EarnedAt     string `json:"earned_at"`
	ExpiresAt    string `json:"expires_at"` // "" never
	Expired      bool   `json:"expired"`
	ExpiringSoon bool   `json:"expiring_soon"`
	OutBizID     string `json:"out_biz_id,omitempty"`
	FlowID       string `json:"flow_id"`
}

type holdJSON struct {
	OuterOrderID string `json:"outer_order_id"`
	CustomerID   string `json:"customer_id"`
	Amount       int64  `json:"amount"`
	Remaining    int64  `json:"remaining"`
	Verified     int64  `json:"verified"`
	Status       string `json:"status"`
	CreatedAt    string `json:"created_at"`
	ExpiresAt    string `json:"expires_at"`
	FlowID       string `json:"flow_id"`
}

func holdOut(h ledger.Hold) holdJSON {
	return holdJSON{OuterOrderID: h.OuterOrderID, CustomerID: h.CustomerID, Amount: h.Amount, Remaining: h.Remaining,
		Verified: h.Verified, Status: h.Status, CreatedAt: ts(h.CreatedAt), ExpiresAt: ts(h.ExpiresAt), FlowID: h.FlowID}
}

type customerViewJSON struct {
	Customer customerJSON `json:"customer"`
	Brand    string       `json:"brand_name"`
	Account  accountJSON  `json:"account"`
	Lots     []lotJSON    `json:"lots"`
	Holds    []holdJSON   `json:"holds"`
	// ExpiringSoonDays is the window of expiring_soon.
	ExpiringSoonDays int `json:"expiring_soon_days"`
}

func customerViewOut(v backoffice.CustomerView) customerViewJSON {
	a := v.Account
	out := customerViewJSON{Customer: customerOut(a.Customer), Brand: v.Brand.Name,
		Account: accountJSON{Available: a.Available, Frozen: a.Frozen, Debt: a.Debt, TotalEarned: a.TotalEarned,
			TotalUsed: a.TotalUsed, TotalExpired: a.TotalExpired},
		Lots: []lotJSON{}, Holds: []holdJSON{}, ExpiringSoonDays: int(backoffice.ExpiringSoon / (24 * time.Hour))}
	for _, l := range v.Lots {
		out.Lots = append(out.Lots, lotJSON{LotID: l.ID, Granted: l.Granted, Remaining: l.Remaining, EarnedAt: ts(l.EarnedAt),
			ExpiresAt: ts(l.ExpiresAt), Expired: l.Expired, ExpiringSoon: l.ExpiringSoon, OutBizID: l.OutBizID, FlowID: l.FlowID})
	}
	for _, h := range v.Holds {
		out.Holds = append(out.Holds, holdOut(h))
	}
	return out
}

type flowJSON struct {
	FlowID          string `json:"flow_id,omitempty"`
	CreatedAt       string `json:"created_at"`
	BrandID         string `json:"brand_id"`
	CustomerID      string `json:"customer_id"`
	Seq             int64  `json:"seq"`
	Type            string `json:"biz_type"`
	TypeDescription string `json:"biz_type_description"`
	ChangePoint     int64  `json:"change_point"`
	RemainPoint     int64  `json:"remain_point"`
	DeltaFrozen     int64  `json:"delta_frozen,omitempty"`
	DeltaDebt       int64  `json:"delta_debt,omitempty"`
	OutBizID        string `json:"out_biz_id,omitempty"`
	ReverseOrderID  string `json:"reverse_order_id,omitempty"`
	ShopID          string `json:"shop_id,omitempty"`
	ShopName        string `json:"shop_name,omitempty"`
	Channel         string `json:"channel,omitempty"`
	AppKey          string `json:"app_key,omitempty"`
	RequestID       string `json:"request_id,omitempty"`
	OperatorID      string `json:"operator_id,omitempty"`
	OperatorName    string `json:"operator_name,omitempty"`
	Reason          string `json:"reason,omitempty"`
	Policy          string `json:"policy,omitempty"`
	RuleVersion     int64  `json:"rule_version"`
}

func flowOut(f ledger.Flow) flowJSON {
	return flowJSON{FlowID: f.ID, CreatedAt: ts(f.CreatedAt), BrandID: f.BrandID, CustomerID: f.CustomerID, Seq: f.Seq,
		Type: string(f.Type), TypeDescription: f.Type.Description(), ChangePoint: f.ChangePoint(), RemainPoint: f.RemainPoint,
		DeltaFrozen: f.DeltaFrozen, DeltaDebt: f.DeltaDebt, OutBizID: f.OutBizID, ReverseOrderID: f.ReverseOrderID,
		ShopID: f.ShopID, ShopName: f.ShopName, Channel: f.Channel, AppKey: f.AppKey, RequestID: f.RequestID,
		OperatorID: f.OperatorID, OperatorName: f.OperatorName, Reason: f.Reason, Policy: f.Policy, RuleVersion: f.RuleVersion}
}

func flowsOut(fs []ledger.Flow) []flowJSON {
	out := make([]flowJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, flowOut(f))
	}
	return out
}

type positionJSON struct {
	Spent       int64 `json:"spent"`
	Reversed    int64 `json:"reversed"`
	Reversible  int64 `json:"reversible"`
	Granted     int64 `json:"granted"`
	ClawedBack  int64 `json:"clawed_back"`
	Reclaimable int64 `json:"reclaimable"`
}

func positionOut(o ledger.Order) positionJSON {
	return positionJSON{Spent: o.Spent, Reversed: o.Reversed, Reversible: o.Reversible(), Granted: o.Granted,
		ClawedBack: o.ClawedBack, Reclaimable: o.Granted - o.ClawedBack}
}

type orderPartJSON struct {
	CustomerID string `json:"customer_id"`
	positionJSON
	// The flows behind each figure.
	Flows struct {
		Spent      []flowJSON `json:"spent"`
		Reversed   []flowJSON `json:"reversed"`
		Earned     []flowJSON `json:"earned"`
		ClawedBack []flowJSON `json:"clawed_back"`
		Hold       []flowJSON `json:"hold"`
		Other      []flowJSON `json:"other"`
	} `json:"flows"`
}

type orderJSON struct {
	BrandID  string `json:"brand_id"`
	OutBizID string `json:"out_biz_id"`
	ShopID   string `json:"shop_id"`
	positionJSON
	Customers []orderPartJSON `json:"customers"`
	Hold      *holdJSON       `json:"hold"`
}

func orderOut(v backoffice.OrderView) orderJSON {
	out := orderJSON{BrandID: v.Brand.ID, OutBizID: v.OutBizID, ShopID: v.ShopID, Customers: []orderPartJSON{},
		positionJSON: positionJSON{Spent: v.Spent, Reversed: v.Reversed, Reversible: v.Reversible, Granted: v.Granted,
			ClawedBack: v.ClawedBack, Reclaimable: v.Reclaimable}}
	if v.Hold.Exists {
		h := holdOut(v.Hold)
		out.Hold = &h
	}
	for _, p := range v.Parts {
		pj := orderPartJSON{CustomerID: p.CustomerID, positionJSON: positionOut(p.Order)}
		pj.Flows.Spent, pj.Flows.Reversed, pj.Flows.Earned = flowsOut(p.Spends), flowsOut(p.Reversals), flowsOut(p.Earns)
		pj.Flows.ClawedBack, pj.Flows.Hold, pj.Flows.Other = flowsOut(p.Clawbacks), flowsOut(p.HoldFlows), flowsOut(p.Others)
		out.Customers = append(out.Customers, pj)
	}
	return out
}

type lotChangeJSON struct {
	LotID           string `json:"lot_id,omitempty"` // "" for a lot the reversal would create
	OutBizID        string `json:"out_biz_id,omitempty"`
	New             bool   `json:"new"`
	Points          int64  `json:"points"`
	RemainingBefore int64  `json:"remaining_before"`
	RemainingAfter  int64  `json:"remaining_after"`
	ExpiresAt       string `json:"expires_at"`
	ExpiresAfter    string `json:"expires_after"`
	Expired         bool   `json:"expired"`
}

type replayJSON struct {
	ReverseOrderID string `json:"reverse_order_id"`
	FlowID         string `json:"flow_id"`
	Amount         int64  `json:"amount"`
}

type previewJSON struct {
	CustomerID     string          `json:"customer_id"`
	Type           string          `json:"type"`
	Points         int64           `json:"points"`
	Replay         *replayJSON     `json:"replay,omitempty"`
	Before         positionJSON    `json:"before"`
	After          positionJSON    `json:"after"`
	Available      int64           `json:"available"`
	AvailableAfter int64           `json:"available_after"`
	Debt           int64           `json:"debt"`
	DebtAfter      int64           `json:"debt_after"`
	Policy         string          `json:"policy,omitempty"`
	Lots           []lotChangeJSON `json:"lots"`
	Flows          []flowJSON      `json:"flows"` // the flows it would write, without ids
	Written        bool            `json:"written"`
}

func previewOut(p backoffice.ReversalPreview) previewJSON {
	out := previewJSON{CustomerID: p.CustomerID, Type: string(p.Type), Points: p.Points, Before: positionOut(p.Before),
		After: positionOut(p.After), Available: p.Available, AvailableAfter: p.AvailableAfter, Debt: p.Debt,
		DebtAfter: p.DebtAfter, Policy: p.Policy, Lots: []lotChangeJSON{}, Flows: []flowJSON{}}
	if p.Replay != nil {
		out.Replay = &replayJSON{ReverseOrderID: p.Replay.ReverseOrderID, FlowID: p.Replay.FlowID, Amount: p.Replay.Amount}
	}
	for _, l := range p.Lots {
		lc := lotChangeJSON{LotID: l.LotID, OutBizID: l.OutBizID, New: l.New, Points: l.Points, RemainingBefore: l.Before,
			RemainingAfter: l.After, ExpiresAt: ts(l.ExpiresAt), ExpiresAfter: ts(l.ExpiresAfter), Expired: l.Expired}
		if l.New {
			lc.LotID = ""
		}
		out.Lots = append(out.Lots, lc)
	}
	for _, f := range p.Flows {
		fj := flowOut(f)
		fj.FlowID = ""
		out.Flows = append(out.Flows, fj)
	}
	return out
}

// Tenant records, in the tenant file's shape.

type appJSON struct {
	AppKey    string   `json:"app_key"`
	Name      string   `json:"name"`
	Channels  []string `json:"channels"`
	Brands    []string `json:"brands"`
	RateLimit float64  `json:"rate_limit,omitempty"`
	Disabled  bool     `json:"disabled,omitempty"`
	// The secret itself is never shown; it is printed once when generated.
	SecretSet bool `json:"secret_set"`
}

func appOut(a ledger.App) appJSON {
	return appJSON{AppKey: a.Key, Name: a.Name, Channels: nonNil(a.Channels), Brands: nonNil(a.Brands), RateLimit: a.RateLimit,
		Disabled: !a.Active, SecretSet: a.Secret != ""}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type settingsJSON struct {
	RefundOfExpired   string `json:"refund_of_expired"`
	GraceDays         int    `json:"grace_days"`
	ClawbackShortfall string `json:"clawback_shortfall"`
	HoldTimeout       string `json:"hold_timeout"`
	ExpiryReminders   []int  `json:"expiry_reminders,omitempty"`
	ApprovalAbove     int64  `json:"approval_above,omitempty"`
}

type shopJSON struct {
	ShopID string            `json:"shop_id"`
	Name   string            `json:"name"`
	OutIDs map[string]string `json:"out_ids,omitempty"`
}

func shopsOut(ss []ledger.Shop) []shopJSON {
	out := []shopJSON{}
	for _, s := range ss {
		out = append(out, shopJSON{ShopID: s.ID, Name: s.Name, OutIDs: s.OutIDs})
	}
	return out
}

type brandJSON struct {
	BrandID  string            `json:"brand_id"`
	Name     string            `json:"name"`
	TimeZone string            `json:"time_zone"`
	OutIDs   map[string]string `json:"out_ids,omitempty"`
	Settings settingsJSON      `json:"settings"`
	Shops    []shopJSON        `json:"shops,omitempty"`
	Rule     *ruleJSON         `json:"rule,omitempty"`
}

func brandOut(b ledger.Brand) brandJSON {
	s := b.Settings
	return brandJSON{BrandID: b.ID, Name: b.Name, TimeZone: b.TimeZone, OutIDs: b.OutIDs,
		Settings: settingsJSON{RefundOfExpired: s.RefundOfExpired, GraceDays: s.GraceDays,
			ClawbackShortfall: s.ClawbackShortfall, HoldTimeout: s.HoldTimeout.String(), ExpiryReminders: s.ExpiryReminders,
			ApprovalAbove: s.ApprovalAbove}}
}

// yuan writes fen as a JSON number of yuan, as the tenant file does.
func yuan(fen int64) json.Number { return json.Number(tenant.FormatYuan(fen)) }

type deductionJSON struct {
	LevelID       string      `json:"level_id"`
	DeductedPoint int64       `json:"deducted_point"`
	ConsumeMoney  json.Number `json:"consume_money"` // yuan
	Enable        bool        `json:"enable"`
	HasUpperLimit bool        `json:"has_upper_limit"`
	MaxPoint      int64       `json:"max_point"`
}

type additionJSON struct {
	LevelID      string      `json:"level_id"`
	ConsumeMoney json.Number `json:"consume_money"` // yuan
	RewardPoint  int64       `json:"reward_point"`
	Enable       bool        `json:"enable"`
}

type ruleJSON struct {
	Name      string `json:"name"`
	Version   int64  `json:"version"`
	UpdatedAt string `json:"updated_at"`
	ClearRule struct {
		Type string `json:"point_clear_rule_type"`
		Days int    `json:"days"`
	} `json:"point_clear_rule"`
	Deduction struct {
		WithCoupon bool            `json:"with_coupon"`
		Members    []deductionJSON `json:"member_point_deduction_rules"`
	} `json:"point_deduction_rule"`
	Addition struct {
		Members []additionJSON `json:"member_point_addition_rules"`
	} `json:"point_addition_rule"`
}

// ruleOut shows the rule in force; logically deleted level rules are left
// out, as the tenant file would write it.
func ruleOut(r ledger.Rule) *ruleJSON {
	out := &ruleJSON{Name: r.Name, Version: r.Version, UpdatedAt: ts(r.UpdatedAt)}
	out.ClearRule.Type, out.ClearRule.Days = r.Clear.Type, r.Clear.Days
	out.Deduction.WithCoupon = r.WithCoupon
	out.Deduction.Members = []deductionJSON{}
	for _, d := range r.Deduction {
		if !d.Deleted {
			out.Deduction.Members = append(out.Deduction.Members, deductionJSON{d.LevelID, d.DeductedPoint,
				yuan(d.ConsumeMoney), d.Enable, d.HasUpperLimit, d.MaxPoint})
		}
	}
	out.Addition.Members = []additionJSON{}
	for _, a := range r.Addition {
		if !a.Deleted {
			out.Addition.Members = append(out.Addition.Members, additionJSON{a.LevelID, yuan(a.ConsumeMoney), a.RewardPoint, a.Enable})
		}
	}
	return out
}

// Request bodies.

// DecodeJSON reads a body that is one JSON object into v, refusing
// unknown fields and two things encoding/json lets through silently: data
// after the first value (`{…} {"points":999}`: the first object would be
// acted on and the rest dropped) and a key given twice in one object, at
// any depth (the last would win, so what a reviewer of the request reads
// first is not what is done). Keys are compared as encoding/json matches
// them to struct fields, regardless of case: "points" and "Points" are
// one key. The error names the field (the duplicated key's path, or
// "body").
func DecodeJSON(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return invalidBody(err)
	}
	if err := checkJSON(data, true); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidBody(err)
	}
	return nil
}

// jsonLevel is an object or array checkJSON is inside.
type jsonLevel struct {
	path    string
	keys    map[string]string // an object's keys so far (folded → as written); nil in an array
	wantKey bool              // an object's next token is a key or its end
	key     string            // the key whose value comes next
	index   int               // an array's next element
}

// checkJSON checks that data is exactly one JSON value in which no object
// has a key twice (compared regardless of case when fold is set, as
// encoding/json matches struct fields; exactly otherwise, as YAML does).
func checkJSON(data []byte, fold bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*jsonLevel
	for {
		tok, err := dec.Token()
		if err == io.EOF && stack == nil {
			return ledger.Invalid("body", "请求体为空")
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return invalidBody(err)
		}
		path := ""
		if n := len(stack); n > 0 {
			l := stack[n-1]
			switch {
			case tok == json.Delim('}') || tok == json.Delim(']'):
				stack = stack[:n-1]
				if len(stack) == 0 {
					return checkEnd(dec)
				}
				continue
			case l.keys != nil && l.wantKey:
				k, _ := tok.(string) // the decoder gives only strings here
				fk := k
				if fold {
					fk = foldKey(k)
				}
				if first, ok := l.keys[fk]; ok {
					return ledger.Invalidf(joinPath(l.path, k), "重复的键: 同一对象中已有 %q, 一个键只能出现一次", first)
				}
				l.keys[fk], l.key, l.wantKey = k, k, false
				continue
			case l.keys != nil:
				path, l.wantKey = joinPath(l.path, l.key), true
			default:
				path = fmt.Sprintf("%s[%d]", l.path, l.index)
				l.index++
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &jsonLevel{path: path, keys: map[string]string{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &jsonLevel{path: path})
		default:
			if len(stack) == 0 { // a lone scalar: the decode says what is wrong with it
				return checkEnd(dec)
			}
		}
	}
}

// checkEnd refuses anything after the body's first value.
func checkEnd(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return ledger.Invalid("body", "JSON 值之后还有内容 (trailing data): 请求体只能是一个 JSON 对象")
	}
	return nil
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// foldKey maps each rune of k to the smallest rune it case-folds to, so
// two keys fold to the same string exactly when strings.EqualFold holds
// (encoding/json's matching of keys to fields folds no wider).
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, k)
}
