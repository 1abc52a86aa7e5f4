// Package tenant reads and writes the tenant file: the YAML that
// provisions apps, brands (with shops, settings and rules), customers and
// webhooks. Its pieces encode to JSON under the same names (the admin
// API takes them as JSON, and the audit log records them so).
// Integrators' own tooling writes it, so its shape is fixed; unknown keys
// are refused so a typo never passes silently.
package tenant

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"jifen/ledger"
	"jifen/points"
)

// File is the tenant file.
type File struct {
	Apps      []App      `yaml:"apps" json:"apps"`
	Brands    []Brand    `yaml:"brands" json:"brands"`
	Customers []Customer `yaml:"customers" json:"customers"`
	Webhooks  []Webhook  `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
}

// Webhook is an HTTP endpoint told of events (package webhook).
type Webhook struct {
	WebhookID string `yaml:"webhook_id" json:"webhook_id"`
	URL       string `yaml:"url" json:"url"`
	// Secret is "whsec_" and base64; generated (and printed once) when
	// absent for a new webhook, kept when absent for one that exists.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// Brands limits the events to these brands; absent or empty: every
	// brand.
	Brands []string `yaml:"brands,omitempty" json:"brands,omitempty"`
	// Events lists the event types; absent, empty or "*": every type.
	Events   []string `yaml:"events,omitempty" json:"events,omitempty"`
	Disabled bool     `yaml:"disabled,omitempty" json:"disabled,omitempty"`
}

// App is one calling system.
type App struct {
	AppKey    string   `yaml:"app_key" json:"app_key"`
	Secret    string   `yaml:"secret,omitempty" json:"secret,omitempty"`
	Name      string   `yaml:"name" json:"name"`
	Channels  []string `yaml:"channels" json:"channels"`
	Brands    []string `yaml:"brands" json:"brands"`
	RateLimit float64  `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	Disabled  bool     `yaml:"disabled,omitempty" json:"disabled,omitempty"`
}

// Brand is a brand with its shops, settings and rule.
type Brand struct {
	BrandID  string            `yaml:"brand_id" json:"brand_id"`
	Name     string            `yaml:"name" json:"name"`
	TimeZone string            `yaml:"time_zone,omitempty" json:"time_zone,omitempty"`
	OutIDs   map[string]string `yaml:"out_ids,omitempty" json:"out_ids,omitempty"`
	Shops    []Shop            `yaml:"shops,omitempty" json:"shops,omitempty"`
	Settings *Settings         `yaml:"settings,omitempty" json:"settings,omitempty"`
	Rule     *Rule             `yaml:"rule,omitempty" json:"rule,omitempty"`
}

// Shop is one shop of a brand.
type Shop struct {
	ShopID string            `yaml:"shop_id" json:"shop_id"`
	Name   string            `yaml:"name" json:"name"`
	OutIDs map[string]string `yaml:"out_ids,omitempty" json:"out_ids,omitempty"`
}

// Settings are a brand's ledger policies.
type Settings struct {
	RefundOfExpired   string `yaml:"refund_of_expired,omitempty" json:"refund_of_expired,omitempty"`
	GraceDays         *int   `yaml:"grace_days,omitempty" json:"grace_days,omitempty"`
	ClawbackShortfall string `yaml:"clawback_shortfall,omitempty" json:"clawback_shortfall,omitempty"`
	HoldTimeout       string `yaml:"hold_timeout,omitempty" json:"hold_timeout,omitempty"`
	// ExpiryReminders: days before a lot expires to send point.expiring.
	ExpiryReminders []int `yaml:"expiry_reminders,omitempty" json:"expiry_reminders,omitempty"`
	// ApprovalAbove: a support operator's refund or adjustment of more
	// points than this waits for another operator's approval; absent: off.
	ApprovalAbove *int64 `yaml:"approval_above,omitempty" json:"approval_above,omitempty"`
}

// Rule is shaped like PointRuleOpenInfo of rule.get.
type Rule struct {
	Name           string         `yaml:"name" json:"name"`
	PointClearRule ClearRule      `yaml:"point_clear_rule" json:"point_clear_rule"`
	Deduction      DeductionRules `yaml:"point_deduction_rule" json:"point_deduction_rule"`
	Addition       AdditionRules  `yaml:"point_addition_rule" json:"point_addition_rule"`
}

// ClearRule is PointClearRuleOpenInfo.
type ClearRule struct {
	Type string `yaml:"point_clear_rule_type" json:"point_clear_rule_type"`
	Days int    `yaml:"days,omitempty" json:"days,omitempty"`
}

// DeductionRules is PointDeductionRuleOpenInfo.
type DeductionRules struct {
	WithCoupon bool            `yaml:"with_coupon" json:"with_coupon"`
	Members    []DeductionRule `yaml:"member_point_deduction_rules" json:"member_point_deduction_rules"`
}

// DeductionRule is MemberPointDeductionRuleOpenInfo; consume_money in yuan.
type DeductionRule struct {
	LevelID       string `yaml:"level_id" json:"level_id"`
	DeductedPoint int64  `yaml:"deducted_point" json:"deducted_point"`
	ConsumeMoney  Yuan   `yaml:"consume_money" json:"consume_money"`
	Enable        bool   `yaml:"enable" json:"enable"`
	HasUpperLimit bool   `yaml:"has_upper_limit,omitempty" json:"has_upper_limit,omitempty"`
	MaxPoint      int64  `yaml:"max_point,omitempty" json:"max_point,omitempty"`
}

// AdditionRules is PointAdditionRuleOpenInfo.
type AdditionRules struct {
	Members []AdditionRule `yaml:"member_point_addition_rules" json:"member_point_addition_rules"`
}

// AdditionRule is MemberPointAdditionRuleOpenInfo; consume_money in yuan.
type AdditionRule struct {
	LevelID      string `yaml:"level_id" json:"level_id"`
	ConsumeMoney Yuan   `yaml:"consume_money" json:"consume_money"`
	RewardPoint  int64  `yaml:"reward_point" json:"reward_point"`
	Enable       bool   `yaml:"enable" json:"enable"`
}

// Customer is one member.
type Customer struct {
	CustomerID string `yaml:"customer_id" json:"customer_id"`
	BrandID    string `yaml:"brand_id" json:"brand_id"`
	Mobile     string `yaml:"mobile,omitempty" json:"mobile,omitempty"`
	Name       string `yaml:"name,omitempty" json:"name,omitempty"`
	LevelID    string `yaml:"level_id,omitempty" json:"level_id,omitempty"`
	OuterType  string `yaml:"outer_type,omitempty" json:"outer_type,omitempty"`
	OuterID    string `yaml:"outer_id,omitempty" json:"outer_id,omitempty"`
}

// Yuan is an amount of money written in yuan (fractions to the fen
// allowed) and kept in fen.
type Yuan int64

// UnmarshalYAML reads 50, 12.5 or "0.01" exactly, without floats.
func (y *Yuan) UnmarshalYAML(n *yaml.Node) error {
	fen, err := ParseYuan(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: consume_money: %w", n.Line, err)
	}
	*y = Yuan(fen)
	return nil
}

// MarshalYAML writes fen back as yuan.
func (y Yuan) MarshalYAML() (any, error) { return FormatYuan(int64(y)), nil }

// MarshalJSON writes y as a number of yuan, as the admin API shows money
// (a negative amount, which no tenant file holds, as a string).
func (y Yuan) MarshalJSON() ([]byte, error) {
	if y < 0 {
		return []byte(strconv.Quote(strconv.FormatInt(int64(y), 10) + " fen")), nil
	}
	return []byte(FormatYuan(int64(y))), nil
}

// ParseYuan turns a decimal yuan amount into fen; more than two decimals
// is an error rather than a silent rounding.
func ParseYuan(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, fmt.Errorf("%q is not an amount in yuan", s)
	}
	if hasFrac && (len(frac) == 0 || len(frac) > 2) {
		return 0, fmt.Errorf("%q: yuan take at most two decimals (fen)", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1e12 {
		return 0, fmt.Errorf("%q is not an amount in yuan", s)
	}
	var f int64
	if hasFrac {
		for len(frac) < 2 {
			frac += "0"
		}
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, fmt.Errorf("%q is not an amount in yuan", s)
		}
	}
	return w*100 + f, nil
}

// FormatYuan writes fen as yuan: 5000 → "50", 1250 → "12.5", 1 → "0.01".
func FormatYuan(fen int64) string {
	s := strconv.FormatInt(fen/100, 10)
	if r := fen % 100; r != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%02d", r), "0")
	}
	return s
}

// Parse reads a tenant file; unknown keys are errors with their line.
func Parse(r io.Reader) (File, error) {
	var f File
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return f, errors.New("tenant file is empty")
		}
		return f, fmt.Errorf("tenant file: %w", err)
	}
	return f, nil
}

// Tenant converts the file into what the service applies.
func (f File) Tenant() (points.Tenant, error) {
	var t points.Tenant
	for _, a := range f.Apps {
		t.Apps = append(t.Apps, ledger.App{Key: a.AppKey, Secret: a.Secret, Name: a.Name, Active: !a.Disabled,
			Channels: a.Channels, Brands: a.Brands, RateLimit: a.RateLimit})
	}
	for i, b := range f.Brands {
		tb := points.TenantBrand{Brand: ledger.Brand{ID: b.BrandID, Name: b.Name, TimeZone: b.TimeZone,
			OutIDs: b.OutIDs, Settings: ledger.DefaultSettings()}}
		if s := b.Settings; s != nil {
			if s.RefundOfExpired != "" {
				tb.Settings.RefundOfExpired = s.RefundOfExpired
			}
			if s.GraceDays != nil {
				// 0 would read as "not set" (30 days) wherever settings
				// travel; no grace at all is what forfeit is for.
				if *s.GraceDays < 1 && tb.Settings.RefundOfExpired == ledger.RefundGrace {
					return t, ledger.Invalidf(fmt.Sprintf("brands[%d].settings.grace_days", i),
						"宽限天数至少为 1, 收到 %d; 不宽限请用 refund_of_expired: forfeit", *s.GraceDays)
				}
				tb.Settings.GraceDays = *s.GraceDays
			}
			if s.ClawbackShortfall != "" {
				tb.Settings.ClawbackShortfall = s.ClawbackShortfall
			}
			if s.HoldTimeout != "" {
				d, err := time.ParseDuration(s.HoldTimeout)
				if err != nil || d <= 0 {
					return t, ledger.Invalidf(fmt.Sprintf("brands[%d].settings.hold_timeout", i), "应为正的时长如 30m, 收到 %q", s.HoldTimeout)
				}
				tb.Settings.HoldTimeout = d
			}
			tb.Settings.ExpiryReminders = s.ExpiryReminders
			if s.ApprovalAbove != nil {
				// 0 would read as "off", which is what leaving it out says.
				if *s.ApprovalAbove < 1 {
					return t, ledger.Invalidf(fmt.Sprintf("brands[%d].settings.approval_above", i),
						"应为正整数 (积分), 收到 %d; 不需审批请删去此项", *s.ApprovalAbove)
				}
				tb.Settings.ApprovalAbove = *s.ApprovalAbove
			}
		}
		for _, s := range b.Shops {
			tb.Shops = append(tb.Shops, ledger.Shop{ID: s.ShopID, BrandID: b.BrandID, Name: s.Name, OutIDs: s.OutIDs})
		}
		if r := b.Rule; r != nil {
			lr := ledger.Rule{Name: r.Name, Clear: ledger.ClearRule{Type: r.PointClearRule.Type, Days: r.PointClearRule.Days},
				WithCoupon: r.Deduction.WithCoupon}
			if lr.Clear.Type == "" {
				lr.Clear.Type = ledger.ClearNever
			}
			for _, d := range r.Deduction.Members {
				lr.Deduction = append(lr.Deduction, ledger.DeductionRule{LevelID: d.LevelID, DeductedPoint: d.DeductedPoint,
					ConsumeMoney: int64(d.ConsumeMoney), Enable: d.Enable, HasUpperLimit: d.HasUpperLimit, MaxPoint: d.MaxPoint})
			}
			for _, a := range r.Addition.Members {
				lr.Addition = append(lr.Addition, ledger.AdditionRule{LevelID: a.LevelID, ConsumeMoney: int64(a.ConsumeMoney),
					RewardPoint: a.RewardPoint, Enable: a.Enable})
			}
			tb.Rule = &lr
		}
		t.Brands = append(t.Brands, tb)
	}
	for _, c := range f.Customers {
		t.Customers = append(t.Customers, ledger.Customer{ID: c.CustomerID, BrandID: c.BrandID, Mobile: c.Mobile,
			Name: c.Name, LevelID: c.LevelID, CustomerType: 1, OuterType: c.OuterType, OuterID: c.OuterID})
	}
	for _, w := range f.Webhooks {
		t.Webhooks = append(t.Webhooks, points.Webhook{ID: w.WebhookID, URL: w.URL, Secret: w.Secret, Brands: w.Brands,
			Events: w.Events, Disabled: w.Disabled})
	}
	return t, nil
}

// The tenant file's entries of stored records (the inverse of Tenant):
// what the console asks for, recorded in the audit log as the admin API
// records the same piece of a tenant file.

// BrandOf is b's entry, with its settings (not its shops or rule).
func BrandOf(b ledger.Brand) Brand {
	s := b.Settings
	grace := s.GraceDays
	ts := &Settings{RefundOfExpired: s.RefundOfExpired, GraceDays: &grace, ClawbackShortfall: s.ClawbackShortfall,
		ExpiryReminders: s.ExpiryReminders}
	if s.HoldTimeout > 0 {
		ts.HoldTimeout = s.HoldTimeout.String()
	}
	if s.ApprovalAbove != 0 {
		above := s.ApprovalAbove
		ts.ApprovalAbove = &above
	}
	return Brand{BrandID: b.ID, Name: b.Name, TimeZone: b.TimeZone, OutIDs: b.OutIDs, Settings: ts}
}

// ShopOf is s's entry.
func ShopOf(s ledger.Shop) Shop { return Shop{ShopID: s.ID, Name: s.Name, OutIDs: s.OutIDs} }

// RuleOf is r's entry, without its logically deleted levels.
func RuleOf(r ledger.Rule) Rule {
	out := Rule{Name: r.Name, PointClearRule: ClearRule{Type: r.Clear.Type, Days: r.Clear.Days},
		Deduction: DeductionRules{WithCoupon: r.WithCoupon}}
	for _, d := range r.Deduction {
		if !d.Deleted {
			out.Deduction.Members = append(out.Deduction.Members, DeductionRule{LevelID: d.LevelID, DeductedPoint: d.DeductedPoint,
				ConsumeMoney: Yuan(d.ConsumeMoney), Enable: d.Enable, HasUpperLimit: d.HasUpperLimit, MaxPoint: d.MaxPoint})
		}
	}
	for _, a := range r.Addition {
		if !a.Deleted {
			out.Addition.Members = append(out.Addition.Members, AdditionRule{LevelID: a.LevelID, ConsumeMoney: Yuan(a.ConsumeMoney),
				RewardPoint: a.RewardPoint, Enable: a.Enable})
		}
	}
	return out
}

// AppOf is a's entry, without its secret.
func AppOf(a ledger.App) App {
	return App{AppKey: a.Key, Name: a.Name, Channels: a.Channels, Brands: a.Brands, RateLimit: a.RateLimit, Disabled: !a.Active}
}

// WebhookOf is w's entry, without its secret.
func WebhookOf(w points.Webhook) Webhook {
	return Webhook{WebhookID: w.ID, URL: w.URL, Brands: w.Brands, Events: w.Events, Disabled: w.Disabled}
}

// Marshal writes f as YAML.
func (f File) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
