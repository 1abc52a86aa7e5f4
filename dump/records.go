package dump

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"jifen/approval"
	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

// The records are the dump's own types, not the ledger's: the format is
// fixed here and changes only with Version. The lists a store keeps as
// JSON (an app's channels and brands, a rule's level rules) are dumped
// as they are, null apart from []; the rest, which a store keeps as rows
// and cannot tell "none" from "empty", are dumped as [] and {} when empty.
// Nested rows of an account carry neither brand nor customer: they are
// the account's.

type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

type endRecord struct {
	Kind   string `json:"kind"`
	Counts Counts `json:"counts"`
}

// timeLayout is RFC 3339 with exactly the microseconds the stores keep.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// stamp is t as dumped: UTC to the microsecond, "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseStamp is the inverse of stamp. It accepts any RFC 3339 offset but
// refuses precision finer than the stores keep: such a time would not
// come back as it was.
func parseStamp(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	if t.Nanosecond()%1000 != 0 {
		return time.Time{}, fmt.Errorf("%s: %s is finer than a microsecond", field, s)
	}
	if t.IsZero() || t.UnixMicro() == 0 {
		return time.Time{}, fmt.Errorf("%s: %s cannot be stored (it reads back as none)", field, s)
	}
	return t.UTC(), nil
}

// stamps parses several times, stopping at the first error.
type stamps struct{ err error }

func (p *stamps) parse(field, s string) time.Time {
	if p.err != nil {
		return time.Time{}
	}
	t, err := parseStamp(field, s)
	p.err = err
	return t
}

// sameNil is an empty list of U where l is an empty, not nil, list.
func sameNil[T, U any](l []T) []U {
	if l == nil {
		return nil
	}
	return make([]U, 0, len(l))
}

func ids(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Apps.

type appRecord struct {
	Kind      string   `json:"kind"`
	Key       string   `json:"app_key"`
	Secret    string   `json:"secret"`
	Name      string   `json:"name"`
	Active    bool     `json:"active"`
	Channels  []string `json:"channels"`
	Brands    []string `json:"brands"`
	RateLimit float64  `json:"rate_limit"`
}

func appOut(a ledger.App) appRecord {
	return appRecord{Kind: kindApp, Key: a.Key, Secret: a.Secret, Name: a.Name, Active: a.Active,
		Channels: a.Channels, Brands: a.Brands, RateLimit: a.RateLimit}
}

func (r appRecord) app() ledger.App {
	return ledger.App{Key: r.Key, Secret: r.Secret, Name: r.Name, Active: r.Active,
		Channels: r.Channels, Brands: r.Brands, RateLimit: r.RateLimit}
}

// Brands.

type settingsRecord struct {
	RefundOfExpired   string `json:"refund_of_expired"`
	GraceDays         int    `json:"grace_days"`
	ClawbackShortfall string `json:"clawback_shortfall"`
	HoldTimeout       string `json:"hold_timeout"` // a Go duration: "30m0s"
	ExpiryReminders   []int  `json:"expiry_reminders,omitempty"`
	ApprovalAbove     int64  `json:"approval_above,omitempty"`
}

type brandRecord struct {
	Kind     string            `json:"kind"`
	ID       string            `json:"brand_id"`
	Name     string            `json:"name"`
	TimeZone string            `json:"time_zone"`
	OutIDs   map[string]string `json:"out_ids"`
	Settings settingsRecord    `json:"settings"`
}

func brandOut(b ledger.Brand) brandRecord {
	s := b.Settings
	return brandRecord{Kind: kindBrand, ID: b.ID, Name: b.Name, TimeZone: b.TimeZone, OutIDs: ids(b.OutIDs),
		Settings: settingsRecord{RefundOfExpired: s.RefundOfExpired, GraceDays: s.GraceDays,
			ClawbackShortfall: s.ClawbackShortfall, HoldTimeout: s.HoldTimeout.String(), ExpiryReminders: s.ExpiryReminders,
			ApprovalAbove: s.ApprovalAbove}}
}

func (r brandRecord) brand() (ledger.Brand, error) {
	s := r.Settings
	hold, err := time.ParseDuration(s.HoldTimeout)
	if err != nil {
		return ledger.Brand{}, fmt.Errorf("settings.hold_timeout: %w", err)
	}
	return ledger.Brand{ID: r.ID, Name: r.Name, TimeZone: r.TimeZone, OutIDs: ids(r.OutIDs),
		Settings: ledger.Settings{RefundOfExpired: s.RefundOfExpired, GraceDays: s.GraceDays,
			ClawbackShortfall: s.ClawbackShortfall, HoldTimeout: hold, ExpiryReminders: s.ExpiryReminders,
			ApprovalAbove: s.ApprovalAbove}}, nil
}

// Shops.

type shopRecord struct {
	Kind    string            `json:"kind"`
	ID      string            `json:"shop_id"`
	BrandID string            `json:"brand_id"`
	Name    string            `json:"name"`
	OutIDs  map[string]string `json:"out_ids"`
}

func shopOut(s ledger.Shop) shopRecord {
	return shopRecord{Kind: kindShop, ID: s.ID, BrandID: s.BrandID, Name: s.Name, OutIDs: ids(s.OutIDs)}
}

func (r shopRecord) shop() ledger.Shop {
	return ledger.Shop{ID: r.ID, BrandID: r.BrandID, Name: r.Name, OutIDs: ids(r.OutIDs)}
}

// Customers.

type customerRecord struct {
	Kind         string `json:"kind"`
	ID           string `json:"customer_id"`
	BrandID      string `json:"brand_id"`
	Mobile       string `json:"mobile"`
	Name         string `json:"name"`
	LevelID      string `json:"level_id"`
	CustomerType int    `json:"customer_type"`
	Channel      string `json:"channel"`
	OuterType    string `json:"outer_type"`
	OuterID      string `json:"outer_id"`
	Gender       string `json:"gender"`
	Email        string `json:"email"`
	Birthday     string `json:"birthday"`
	Address      string `json:"address"`
	Remark       string `json:"remark"`
	ShopID       string `json:"shop_id"`
	CreatedAt    string `json:"created_at"`
}

func customerOut(c ledger.Customer) customerRecord {
	return customerRecord{Kind: kindCustomer, ID: c.ID, BrandID: c.BrandID, Mobile: c.Mobile, Name: c.Name,
		LevelID: c.LevelID, CustomerType: c.CustomerType, Channel: c.Channel, OuterType: c.OuterType,
		OuterID: c.OuterID, Gender: c.Gender, Email: c.Email, Birthday: c.Birthday, Address: c.Address,
		Remark: c.Remark, ShopID: c.ShopID, CreatedAt: stamp(c.CreatedAt)}
}

func (r customerRecord) customer() (ledger.Customer, error) {
	created, err := parseStamp("created_at", r.CreatedAt)
	return ledger.Customer{ID: r.ID, BrandID: r.BrandID, Mobile: r.Mobile, Name: r.Name, LevelID: r.LevelID,
		CustomerType: r.CustomerType, Channel: r.Channel, OuterType: r.OuterType, OuterID: r.OuterID,
		Gender: r.Gender, Email: r.Email, Birthday: r.Birthday, Address: r.Address, Remark: r.Remark,
		ShopID: r.ShopID, CreatedAt: created}, err
}

// Rules.

type clearRecord struct {
	Type string `json:"type"`
	Days int    `json:"days"`
}

type deductionRecord struct {
	LevelID         string `json:"level_id"`
	DeductedPoint   int64  `json:"deducted_point"`
	ConsumeMoneyFen int64  `json:"consume_money_fen"`
	Enable          bool   `json:"enable"`
	HasUpperLimit   bool   `json:"has_upper_limit"`
	MaxPoint        int64  `json:"max_point"`
	Deleted         bool   `json:"deleted"`
}

type additionRecord struct {
	LevelID         string `json:"level_id"`
	ConsumeMoneyFen int64  `json:"consume_money_fen"`
	RewardPoint     int64  `json:"reward_point"`
	Enable          bool   `json:"enable"`
	Deleted         bool   `json:"deleted"`
}

type ruleRecord struct {
	Kind       string            `json:"kind"`
	BrandID    string            `json:"brand_id"`
	Version    int64             `json:"version"`
	RuleID     string            `json:"rule_id"`
	Name       string            `json:"name"`
	Clear      clearRecord       `json:"clear"`
	WithCoupon bool              `json:"with_coupon"`
	Deduction  []deductionRecord `json:"deduction"`
	Addition   []additionRecord  `json:"addition"`
	CreatedAt  string            `json:"created_at"`
	UpdatedAt  string            `json:"updated_at"`
	CreatedBy  string            `json:"created_by"`
	UpdatedBy  string            `json:"updated_by"`
}

func ruleOut(r ledger.Rule) ruleRecord {
	rec := ruleRecord{Kind: kindRule, BrandID: r.BrandID, Version: r.Version, RuleID: r.RuleID, Name: r.Name,
		Clear: clearRecord{Type: r.Clear.Type, Days: r.Clear.Days}, WithCoupon: r.WithCoupon,
		Deduction: sameNil[ledger.DeductionRule, deductionRecord](r.Deduction),
		Addition:  sameNil[ledger.AdditionRule, additionRecord](r.Addition),
		CreatedAt: stamp(r.CreatedAt), UpdatedAt: stamp(r.UpdatedAt), CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy}
	for _, d := range r.Deduction {
		rec.Deduction = append(rec.Deduction, deductionRecord{LevelID: d.LevelID, DeductedPoint: d.DeductedPoint,
			ConsumeMoneyFen: d.ConsumeMoney, Enable: d.Enable, HasUpperLimit: d.HasUpperLimit, MaxPoint: d.MaxPoint,
			Deleted: d.Deleted})
	}
	for _, a := range r.Addition {
		rec.Addition = append(rec.Addition, additionRecord{LevelID: a.LevelID, ConsumeMoneyFen: a.ConsumeMoney,
			RewardPoint: a.RewardPoint, Enable: a.Enable, Deleted: a.Deleted})
	}
	return rec
}

func (r ruleRecord) rule() (ledger.Rule, error) {
	var p stamps
	rule := ledger.Rule{BrandID: r.BrandID, Version: r.Version, RuleID: r.RuleID, Name: r.Name,
		Clear: ledger.ClearRule{Type: r.Clear.Type, Days: r.Clear.Days}, WithCoupon: r.WithCoupon,
		Deduction: sameNil[deductionRecord, ledger.DeductionRule](r.Deduction),
		Addition:  sameNil[additionRecord, ledger.AdditionRule](r.Addition),
		CreatedAt: p.parse("created_at", r.CreatedAt), UpdatedAt: p.parse("updated_at", r.UpdatedAt),
		CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy}
	for _, d := range r.Deduction {
		rule.Deduction = append(rule.Deduction, ledger.DeductionRule{LevelID: d.LevelID, DeductedPoint: d.DeductedPoint,
			ConsumeMoney: d.ConsumeMoneyFen, Enable: d.Enable, HasUpperLimit: d.HasUpperLimit, MaxPoint: d.MaxPoint,
			Deleted: d.Deleted})
	}
	for _, a := range r.Addition {
		rule.Addition = append(rule.Addition, ledger.AdditionRule{LevelID: a.LevelID, ConsumeMoney: a.ConsumeMoneyFen,
			RewardPoint: a.RewardPoint, Enable: a.Enable, Deleted: a.Deleted})
	}
	return rule, p.err
}

// Accounts.

type lotRecord struct {
	ID        string `json:"lot_id"`
	Granted   int64  `json:"granted"`
	Remaining int64  `json:"remaining"`
	EarnedAt  string `json:"earned_at"`
	ExpiresAt string `json:"expires_at"` // "": never
	FlowID    string `json:"flow_id"`
	OutBizID  string `json:"out_biz_id"`
	Seq       int64  `json:"seq"`
}

type flowRecord struct {
	ID             string `json:"flow_id"`
	Seq            int64  `json:"seq"`
	Type           string `json:"type"`
	Amount         int64  `json:"amount"`
	DeltaAvailable int64  `json:"delta_available"`
	DeltaFrozen    int64  `json:"delta_frozen"`
	DeltaDebt      int64  `json:"delta_debt"`
	RemainPoint    int64  `json:"remain_point"`
	OutBizID       string `json:"out_biz_id"`
	ReverseOrderID string `json:"reverse_order_id"`
	ShopID         string `json:"shop_id"`
	ShopName       string `json:"shop_name"`
	Channel        string `json:"channel"`
	AppKey         string `json:"app_key"`
	RequestID      string `json:"request_id"`
	OperatorID     string `json:"operator_id"`
	OperatorName   string `json:"operator_name"`
	Reason         string `json:"reason"`
	RuleVersion    int64  `json:"rule_version"`
	Policy         string `json:"policy"`
	CreatedAt      string `json:"created_at"`
	PrevHash       string `json:"prev_hash"`
	Hash           string `json:"hash"`
}

type allocationRecord struct {
	FlowID   string `json:"flow_id"`
	LotID    string `json:"lot_id"`
	OrderRef string `json:"order_ref"`
	Kind     string `json:"kind"` // spend, hold, clawback, expire, other
	Amount   int64  `json:"amount"`
	Seq      int64  `json:"seq"`
}

type holdRecord struct {
	OuterOrderID string `json:"outer_order_id"`
	Amount       int64  `json:"amount"`
	Remaining    int64  `json:"remaining"`
	Verified     int64  `json:"verified"`
	Status       string `json:"status"`
	CreatedAt    string `json:"created_at"`
	ExpiresAt    string `json:"expires_at"`
	FlowID       string `json:"flow_id"`
	Version      int64  `json:"version"`
}

type orderRecord struct {
	OutBizID   string `json:"out_biz_id"`
	Spent      int64  `json:"spent"`
	Reversed   int64  `json:"reversed"`
	Granted    int64  `json:"granted"`
	ClawedBack int64  `json:"clawed_back"`
	Version    int64  `json:"version"`
}

type accountRecord struct {
	Kind         string             `json:"kind"`
	BrandID      string             `json:"brand_id"`
	CustomerID   string             `json:"customer_id"`
	Available    int64              `json:"available"`
	Frozen       int64              `json:"frozen"`
	Debt         int64              `json:"debt"`
	TotalEarned  int64              `json:"total_earned"`
	TotalUsed    int64              `json:"total_used"`
	TotalExpired int64              `json:"total_expired"`
	Seq          int64              `json:"seq"`
	LastHash     string             `json:"last_hash"`
	LotSeq       int64              `json:"lot_seq"`
	AllocSeq     int64              `json:"alloc_seq"`
	Version      int64              `json:"version"`
	Lots         []lotRecord        `json:"lots"`
	Flows        []flowRecord       `json:"flows"`
	Allocations  []allocationRecord `json:"allocations"`
	Holds        []holdRecord       `json:"holds"`
	Orders       []orderRecord      `json:"orders"`
}

func accountOut(r points.AccountRows) accountRecord {
	a := r.Account
	rec := accountRecord{Kind: kindAccount, BrandID: a.BrandID, CustomerID: a.CustomerID, Available: a.Available,
		Frozen: a.Frozen, Debt: a.Debt, TotalEarned: a.TotalEarned, TotalUsed: a.TotalUsed,
		TotalExpired: a.TotalExpired, Seq: a.Seq, LastHash: a.LastHash, LotSeq: a.LotSeq, AllocSeq: a.AllocSeq,
		Version: a.Version, Lots: make([]lotRecord, 0, len(r.Lots)), Flows: make([]flowRecord, 0, len(r.Flows)),
		Allocations: make([]allocationRecord, 0, len(r.Allocations)), Holds: make([]holdRecord, 0, len(r.Holds)),
		Orders: make([]orderRecord, 0, len(r.Orders))}
	for _, l := range r.Lots {
		rec.Lots = append(rec.Lots, lotRecord{ID: l.ID, Granted: l.Granted, Remaining: l.Remaining,
			EarnedAt: stamp(l.EarnedAt), ExpiresAt: stamp(l.ExpiresAt), FlowID: l.FlowID, OutBizID: l.OutBizID, Seq: l.Seq})
	}
	for _, f := range r.Flows {
		rec.Flows = append(rec.Flows, flowRecord{ID: f.ID, Seq: f.Seq, Type: string(f.Type), Amount: f.Amount,
			DeltaAvailable: f.DeltaAvailable, DeltaFrozen: f.DeltaFrozen, DeltaDebt: f.DeltaDebt,
			RemainPoint: f.RemainPoint, OutBizID: f.OutBizID, ReverseOrderID: f.ReverseOrderID, ShopID: f.ShopID,
			ShopName: f.ShopName, Channel: f.Channel, AppKey: f.AppKey, RequestID: f.RequestID,
			OperatorID: f.OperatorID, OperatorName: f.OperatorName, Reason: f.Reason, RuleVersion: f.RuleVersion,
			Policy: f.Policy, CreatedAt: stamp(f.CreatedAt), PrevHash: f.PrevHash, Hash: f.Hash})
	}
	for _, al := range r.Allocations {
		rec.Allocations = append(rec.Allocations, allocationRecord{FlowID: al.FlowID, LotID: al.LotID,
			OrderRef: al.OrderRef, Kind: al.Kind, Amount: al.Amount, Seq: al.Seq})
	}
	for _, h := range r.Holds {
		rec.Holds = append(rec.Holds, holdRecord{OuterOrderID: h.OuterOrderID, Amount: h.Amount,
			Remaining: h.Remaining, Verified: h.Verified, Status: h.Status, CreatedAt: stamp(h.CreatedAt),
			ExpiresAt: stamp(h.ExpiresAt), FlowID: h.FlowID, Version: h.Version})
	}
	for _, o := range r.Orders {
		rec.Orders = append(rec.Orders, orderRecord{OutBizID: o.OutBizID, Spent: o.Spent, Reversed: o.Reversed,
			Granted: o.Granted, ClawedBack: o.ClawedBack, Version: o.Version})
	}
	return rec
}

func (r accountRecord) rows() (points.AccountRows, error) {
	b, c := r.BrandID, r.CustomerID
	if b == "" || c == "" {
		return points.AccountRows{}, errors.New("an account needs brand_id and customer_id")
	}
	var p stamps
	rows := points.AccountRows{Account: ledger.Account{BrandID: b, CustomerID: c, Available: r.Available,
		Frozen: r.Frozen, Debt: r.Debt, TotalEarned: r.TotalEarned, TotalUsed: r.TotalUsed,
		TotalExpired: r.TotalExpired, Seq: r.Seq, LastHash: r.LastHash, LotSeq: r.LotSeq, AllocSeq: r.AllocSeq,
		Version: r.Version, Exists: true}}
	for i, l := range r.Lots {
		field := fmt.Sprintf("lots[%d].", i)
		rows.Lots = append(rows.Lots, ledger.Lot{ID: l.ID, BrandID: b, CustomerID: c, Granted: l.Granted,
			Remaining: l.Remaining, EarnedAt: p.parse(field+"earned_at", l.EarnedAt),
			ExpiresAt: p.parse(field+"expires_at", l.ExpiresAt), FlowID: l.FlowID, OutBizID: l.OutBizID,
			Seq: l.Seq}.Loaded())
	}
	for i, f := range r.Flows {
		if !ledger.FlowType(f.Type).Valid() {
			return rows, fmt.Errorf("flows[%d].type: unknown flow type %q", i, f.Type)
		}
		rows.Flows = append(rows.Flows, ledger.Flow{ID: f.ID, BrandID: b, CustomerID: c, Seq: f.Seq,
			Type: ledger.FlowType(f.Type), Amount: f.Amount, DeltaAvailable: f.DeltaAvailable,
			DeltaFrozen: f.DeltaFrozen, DeltaDebt: f.DeltaDebt, RemainPoint: f.RemainPoint, OutBizID: f.OutBizID,
			ReverseOrderID: f.ReverseOrderID, ShopID: f.ShopID, ShopName: f.ShopName, Channel: f.Channel,
			AppKey: f.AppKey, RequestID: f.RequestID, OperatorID: f.OperatorID, OperatorName: f.OperatorName,
			Reason: f.Reason, RuleVersion: f.RuleVersion, Policy: f.Policy,
			CreatedAt: p.parse(fmt.Sprintf("flows[%d].created_at", i), f.CreatedAt), PrevHash: f.PrevHash, Hash: f.Hash})
	}
	for _, al := range r.Allocations {
		rows.Allocations = append(rows.Allocations, ledger.Allocation{FlowID: al.FlowID, LotID: al.LotID,
			BrandID: b, CustomerID: c, OrderRef: al.OrderRef, Kind: al.Kind, Amount: al.Amount, Seq: al.Seq})
	}
	for i, h := range r.Holds {
		field := fmt.Sprintf("holds[%d].", i)
		rows.Holds = append(rows.Holds, ledger.Hold{BrandID: b, OuterOrderID: h.OuterOrderID, CustomerID: c,
			Amount: h.Amount, Remaining: h.Remaining, Verified: h.Verified, Status: h.Status,
			CreatedAt: p.parse(field+"created_at", h.CreatedAt), ExpiresAt: p.parse(field+"expires_at", h.ExpiresAt),
			FlowID: h.FlowID, Version: h.Version, Exists: true})
	}
	for _, o := range r.Orders {
		rows.Orders = append(rows.Orders, ledger.Order{BrandID: b, OutBizID: o.OutBizID, CustomerID: c,
			Spent: o.Spent, Reversed: o.Reversed, Granted: o.Granted, ClawedBack: o.ClawedBack, Version: o.Version,
			Exists: true})
	}
	return rows, p.err
}

// Reversals.

type reversalRecord struct {
	Kind           string `json:"kind"`
	BrandID        string `json:"brand_id"`
	ReverseOrderID string `json:"reverse_order_id"`
	OutBizID       string `json:"out_biz_id"`
	CustomerID     string `json:"customer_id"`
	Type           string `json:"type"`
	Requested      int64  `json:"requested"` // 0: change_point was absent
	Amount         int64  `json:"amount"`
	FlowID         string `json:"flow_id"`
	CreatedAt      string `json:"created_at"`
}

func reversalOut(r ledger.Reversal) reversalRecord {
	return reversalRecord{Kind: kindReversal, BrandID: r.BrandID, ReverseOrderID: r.ReverseOrderID,
		OutBizID: r.OutBizID, CustomerID: r.CustomerID, Type: string(r.Type), Requested: r.Requested,
		Amount: r.Amount, FlowID: r.FlowID, CreatedAt: stamp(r.CreatedAt)}
}

func (r reversalRecord) reversal() (ledger.Reversal, error) {
	created, err := parseStamp("created_at", r.CreatedAt)
	return ledger.Reversal{BrandID: r.BrandID, ReverseOrderID: r.ReverseOrderID, OutBizID: r.OutBizID,
		CustomerID: r.CustomerID, Type: ledger.FlowType(r.Type), Requested: r.Requested, Amount: r.Amount,
		FlowID: r.FlowID, CreatedAt: created}, err
}

// Idempotency records.

type idempotencyRecord struct {
	Kind string `json:"kind"`
	// BrandID is absent from version-1 dumps: the loader then finds it
	// from the record's flow or customer (Loader.DeriveIdempotencyBrands).
	BrandID     string `json:"brand_id,omitempty"`
	AppKey      string `json:"app_key"`
	RequestID   string `json:"request_id"`
	Method      string `json:"method"`
	Fingerprint string `json:"fingerprint"`
	FlowID      string `json:"flow_id"` // "": an answer that is not a flow (a customer created)
	Result      string `json:"result"`  // the stored business result, replayed byte for byte
	CreatedAt   string `json:"created_at"`
}

func idempotencyOut(r ledger.Idempotency) idempotencyRecord {
	return idempotencyRecord{Kind: kindIdempotency, BrandID: r.BrandID, AppKey: r.AppKey, RequestID: r.RequestID, Method: r.Method,
		Fingerprint: r.Fingerprint, FlowID: r.FlowID, Result: r.Result, CreatedAt: stamp(r.CreatedAt)}
}

func (r idempotencyRecord) idempotency() (ledger.Idempotency, error) {
	created, err := parseStamp("created_at", r.CreatedAt)
	return ledger.Idempotency{BrandID: r.BrandID, AppKey: r.AppKey, RequestID: r.RequestID, Method: r.Method,
		Fingerprint: r.Fingerprint, FlowID: r.FlowID, Result: r.Result, CreatedAt: created}, err
}

// auditRecord is an audit log entry; its JSON fields are kept as the text
// its hash covers.
type auditRecord struct {
	Kind         string `json:"kind"`
	Seq          int64  `json:"seq"`
	At           string `json:"at"`
	OperatorID   string `json:"operator_id"`
	OperatorName string `json:"operator_name"`
	ClientAddr   string `json:"client_addr"`
	Action       string `json:"action"`
	BrandID      string `json:"brand_id"`
	Target       string `json:"target"`
	Request      string `json:"request"`
	Outcome      string `json:"outcome"`
	Message      string `json:"message"`
	Before       string `json:"before"`
	After        string `json:"after"`
	PrevHash     string `json:"prev_hash"`
	Hash         string `json:"hash"`
}

func auditOut(e audit.Entry) auditRecord {
	return auditRecord{Kind: kindAudit, Seq: e.Seq, At: stamp(e.At), OperatorID: e.OperatorID, OperatorName: e.OperatorName,
		ClientAddr: e.ClientAddr, Action: e.Action, BrandID: e.BrandID, Target: e.Target, Request: string(e.Request),
		Outcome: e.Outcome, Message: e.Message, Before: string(e.Before), After: string(e.After), PrevHash: e.PrevHash,
		Hash: e.Hash}
}

func (r auditRecord) entry() (audit.Entry, error) {
	at, err := parseStamp("at", r.At)
	raw := func(s string) json.RawMessage {
		if s == "" {
			return nil
		}
		return json.RawMessage(s)
	}
	return audit.Entry{Seq: r.Seq, At: at, OperatorID: r.OperatorID, OperatorName: r.OperatorName, ClientAddr: r.ClientAddr,
		Action: r.Action, BrandID: r.BrandID, Target: r.Target, Request: raw(r.Request), Outcome: r.Outcome,
		Message: r.Message, Before: raw(r.Before), After: raw(r.After), PrevHash: r.PrevHash, Hash: r.Hash}, err
}

// operatorRecord is an operator: its password's hash, never a password.
type operatorRecord struct {
	Kind              string   `json:"kind"`
	OperatorID        string   `json:"operator_id"`
	Name              string   `json:"name"`
	Role              string   `json:"role"`
	Brands            []string `json:"brands"`
	Limit             int64    `json:"limit"`
	Disabled          bool     `json:"disabled"`
	PasswordHash      string   `json:"password_hash"`
	PasswordChangedAt string   `json:"password_changed_at"`
	FailedSignIns     int      `json:"failed_sign_ins"`
	LockedUntil       string   `json:"locked_until"`
	CreatedAt         string   `json:"created_at"`
	UpdatedAt         string   `json:"updated_at"`
}

func operatorOut(o operator.Operator) operatorRecord {
	return operatorRecord{Kind: kindOperator, OperatorID: o.ID, Name: o.Name, Role: string(o.Role), Brands: o.Brands,
		Limit: o.Limit, Disabled: o.Disabled, PasswordHash: o.PasswordHash, PasswordChangedAt: stamp(o.PasswordChangedAt),
		FailedSignIns: o.FailedSignIns, LockedUntil: stamp(o.LockedUntil), CreatedAt: stamp(o.CreatedAt), UpdatedAt: stamp(o.UpdatedAt)}
}

func (r operatorRecord) operator() (operator.Operator, error) {
	o := operator.Operator{ID: r.OperatorID, Name: r.Name, Role: operator.Role(r.Role), Brands: r.Brands, Limit: r.Limit,
		Disabled: r.Disabled, PasswordHash: r.PasswordHash, FailedSignIns: r.FailedSignIns}
	if len(o.Brands) == 0 {
		o.Brands = nil
	}
	var errs [4]error
	o.PasswordChangedAt, errs[0] = parseStamp("password_changed_at", r.PasswordChangedAt)
	o.LockedUntil, errs[1] = parseStamp("locked_until", r.LockedUntil)
	o.CreatedAt, errs[2] = parseStamp("created_at", r.CreatedAt)
	o.UpdatedAt, errs[3] = parseStamp("updated_at", r.UpdatedAt)
	return o, errors.Join(errs[:]...)
}

// tokenRecord is an operator's API token: the hash of its secret (hex),
// never the secret.
type tokenRecord struct {
	Kind       string `json:"kind"`
	TokenID    string `json:"token_id"`
	OperatorID string `json:"operator_id"`
	Name       string `json:"name"`
	Hash       string `json:"hash"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	RevokedAt  string `json:"revoked_at"`
}

func tokenOut(t OperatorToken) tokenRecord {
	return tokenRecord{Kind: kindToken, TokenID: t.ID, OperatorID: t.OperatorID, Name: t.Name, Hash: hex.EncodeToString(t.Hash),
		CreatedAt: stamp(t.CreatedAt), LastUsedAt: stamp(t.LastUsedAt), RevokedAt: stamp(t.RevokedAt)}
}

func (r tokenRecord) token() (OperatorToken, error) {
	t := OperatorToken{Token: operator.Token{ID: r.TokenID, OperatorID: r.OperatorID, Name: r.Name}}
	var errs [4]error
	t.Hash, errs[0] = hex.DecodeString(r.Hash)
	if errs[0] != nil || len(t.Hash) == 0 {
		errs[0] = fmt.Errorf("hash: not a token's hash in hex: %q", r.Hash)
	}
	t.CreatedAt, errs[1] = parseStamp("created_at", r.CreatedAt)
	t.LastUsedAt, errs[2] = parseStamp("last_used_at", r.LastUsedAt)
	t.RevokedAt, errs[3] = parseStamp("revoked_at", r.RevokedAt)
	return t, errors.Join(errs[:]...)
}

// webhookRecord is a webhook endpoint's configuration, with its secret.
type webhookRecord struct {
	Kind           string   `json:"kind"`
	WebhookID      string   `json:"webhook_id"`
	URL            string   `json:"url"`
	Secret         string   `json:"secret"`
	Brands         []string `json:"brands"`
	Events         []string `json:"events"`
	DisabledAt     string   `json:"disabled_at"`
	DisabledReason string   `json:"disabled_reason"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	// Cursor is where delivery resumes: the position of the last event
	// not to send again (version 5; absent before).
	Cursor *int64 `json:"cursor,omitempty"`
}

func webhookOut(w webhook.Endpoint) webhookRecord {
	cursor := w.ScheduledPos
	return webhookRecord{Kind: kindWebhook, WebhookID: w.ID, URL: w.URL, Secret: w.Secret, Brands: w.Brands, Events: w.Events,
		DisabledAt: stamp(w.DisabledAt), DisabledReason: w.DisabledReason, CreatedAt: stamp(w.CreatedAt), UpdatedAt: stamp(w.UpdatedAt),
		Cursor: &cursor}
}

func (r webhookRecord) webhook() (webhook.Endpoint, error) {
	w := webhook.Endpoint{Webhook: points.Webhook{ID: r.WebhookID, URL: r.URL, Secret: r.Secret, Brands: r.Brands, Events: r.Events},
		DisabledReason: r.DisabledReason}
	if r.Cursor != nil {
		w.ScheduledPos = *r.Cursor
	}
	var errs [3]error
	w.DisabledAt, errs[0] = parseStamp("disabled_at", r.DisabledAt)
	w.CreatedAt, errs[1] = parseStamp("created_at", r.CreatedAt)
	w.UpdatedAt, errs[2] = parseStamp("updated_at", r.UpdatedAt)
	w.Disabled = !w.DisabledAt.IsZero()
	return w, errors.Join(errs[:]...)
}

// maxEventPos bounds an event's position in a dump: far beyond any
// ledger, and far enough below the stores' 64-bit limit that numbering
// goes on after it.
const maxEventPos = 1 << 53

// eventRecord is one event of the log, at its position.
type eventRecord struct {
	Kind    string          `json:"kind"`
	Pos     int64           `json:"pos"`
	BrandID string          `json:"brand_id"`
	EventID string          `json:"event_id"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Time    string          `json:"time"`
	Data    json.RawMessage `json:"data"`
}

func eventOut(e points.Event) eventRecord {
	return eventRecord{Kind: kindEvent, Pos: e.Pos, BrandID: e.BrandID, EventID: e.ID, Type: e.Type, Subject: e.Subject,
		Time: stamp(e.Time), Data: e.Data}
}

func (r eventRecord) event() (points.Event, error) {
	e := points.Event{Pos: r.Pos, ID: r.EventID, BrandID: r.BrandID, Type: r.Type, Subject: r.Subject, Data: r.Data}
	var err error
	switch {
	case r.Pos <= 0 || r.Pos > maxEventPos:
		return e, fmt.Errorf("pos %d: an event's position is 1 to %d", r.Pos, int64(maxEventPos))
	case r.EventID == "":
		return e, errors.New("event_id is empty")
	case r.BrandID == "":
		return e, errors.New("brand_id is empty")
	case !slices.Contains(points.EventTypes(), r.Type):
		return e, fmt.Errorf("type %q is not an event type (%s)", r.Type, strings.Join(points.EventTypes(), ", "))
	case len(r.Data) == 0 || r.Data[0] != '{':
		return e, errors.New("data is not a JSON object")
	}
	if e.Time, err = parseStamp("time", r.Time); err == nil && e.Time.IsZero() {
		err = errors.New("time is empty")
	}
	return e, err
}

// approvalRecord is a four-eyes approval as stored: the request it
// executes once approved, and its decision and result once it has them.
type approvalRecord struct {
	Kind          string          `json:"kind"`
	ApprovalID    string          `json:"approval_id"`
	BrandID       string          `json:"brand_id"`
	ApprovalKind  string          `json:"approval_kind"`
	Request       json.RawMessage `json:"request"`
	Points        int64           `json:"points"`
	RequestID     string          `json:"request_id"`
	RequesterID   string          `json:"requester_id"`
	RequesterName string          `json:"requester_name"`
	CreatedAt     string          `json:"created_at"`
	ExpiresAt     string          `json:"expires_at"`
	State         string          `json:"state"`
	DecidedByID   string          `json:"decided_by_id"`
	DecidedByName string          `json:"decided_by_name"`
	DecidedAt     string          `json:"decided_at"`
	Reason        string          `json:"reason"`
	Result        string          `json:"result"`
}

func approvalOut(a approval.Approval) approvalRecord {
	return approvalRecord{Kind: kindApproval, ApprovalID: a.ID, BrandID: a.BrandID, ApprovalKind: string(a.Kind), Request: a.Request,
		Points: a.Points, RequestID: a.RequestID, RequesterID: a.RequesterID, RequesterName: a.RequesterName,
		CreatedAt: stamp(a.CreatedAt), ExpiresAt: stamp(a.ExpiresAt), State: string(a.State), DecidedByID: a.DeciderID,
		DecidedByName: a.DeciderName, DecidedAt: stamp(a.DecidedAt), Reason: a.Reason, Result: a.Result}
}

func (r approvalRecord) approval() (approval.Approval, error) {
	a := approval.Approval{ID: r.ApprovalID, BrandID: r.BrandID, Kind: approval.Kind(r.ApprovalKind), Request: r.Request,
		Points: r.Points, RequestID: r.RequestID, RequesterID: r.RequesterID, RequesterName: r.RequesterName,
		State: approval.State(r.State), DeciderID: r.DecidedByID, DeciderName: r.DecidedByName, Reason: r.Reason, Result: r.Result}
	switch {
	case a.ID == "" || a.BrandID == "" || a.RequestID == "" || a.RequesterID == "":
		return a, errors.New("approval_id, brand_id, request_id and requester_id must not be empty")
	case a.Kind != approval.Reversal && a.Kind != approval.Adjustment:
		return a, fmt.Errorf("approval_kind %q: want %s or %s", r.ApprovalKind, approval.Reversal, approval.Adjustment)
	case !a.State.Valid():
		return a, fmt.Errorf("state %q: want one of %v", r.State, approval.States())
	case a.Points <= 0:
		return a, fmt.Errorf("points %d: an approval moves 1 or more", a.Points)
	case len(r.Request) == 0 || r.Request[0] != '{':
		return a, errors.New("request is not a JSON object")
	}
	var errs [3]error
	a.CreatedAt, errs[0] = parseStamp("created_at", r.CreatedAt)
	a.ExpiresAt, errs[1] = parseStamp("expires_at", r.ExpiresAt)
	a.DecidedAt, errs[2] = parseStamp("decided_at", r.DecidedAt)
	return a, errors.Join(errs[:]...)
}
