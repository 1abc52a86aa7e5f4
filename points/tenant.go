package points

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"jifen/ledger"
)

// Tenant is everything a brand provisions: the apps that call jifen, the
// brands with their shops and rules, and customers. jifen apply reads it
// from a YAML file; the admin API takes the same shape.
type Tenant struct {
	Apps      []ledger.App
	Brands    []TenantBrand
	Customers []ledger.Customer
	// Webhooks are the endpoints told of events; a webhook applied
	// becomes active unless it says Disabled.
	Webhooks []Webhook
}

// TenantBrand is a brand with its shops and, optionally, its rule.
type TenantBrand struct {
	ledger.Brand
	Shops []ledger.Shop
	// Rule, when set, becomes a new rule version if it differs from the
	// one in force.
	Rule *ledger.Rule
}

// ApplyReport says what Apply did.
type ApplyReport struct {
	Apps, Brands, Shops, Customers, Rules, Webhooks int
	// Secrets holds the secrets Apply generated, by app key.
	Secrets map[string]string
	// WebhookSecrets holds the webhook secrets Apply generated, by
	// webhook id.
	WebhookSecrets map[string]string
}

// Apply creates or updates everything in t, idempotently, in one
// transaction: either all of it is stored or none.
func (s *Service) Apply(ctx context.Context, t Tenant) (ApplyReport, error) {
	rep := ApplyReport{Secrets: map[string]string{}, WebhookSecrets: map[string]string{}}
	if err := validateTenant(t); err != nil {
		return rep, err
	}
	if err := s.checkWebhookBrands(ctx, t); err != nil {
		return rep, err
	}
	if len(t.Webhooks) > 0 {
		// A new webhook is told of the events committed after it. A store
		// that places events after their commit (PostgreSQL) places those
		// committed so far, so that they are before it.
		if _, err := s.store.Events(ctx, EventQuery{After: math.MaxInt64, Limit: 1}); err != nil {
			return rep, err
		}
	}
	err := s.write(ctx, func(tx Tx) error {
		rep = ApplyReport{Secrets: map[string]string{}, WebhookSecrets: map[string]string{}}
		now := s.Now()
		// Webhooks first: a new one is told of what the rest of this
		// write emits.
		for _, w := range t.Webhooks {
			if err := putWebhook(ctx, tx, w, now, rep.WebhookSecrets); err != nil {
				return err
			}
			rep.Webhooks++
		}
		for _, b := range t.Brands {
			if b.TimeZone == "" {
				b.TimeZone = "Asia/Shanghai"
			}
			if err := tx.PutBrand(ctx, b.Brand); err != nil {
				return err
			}
			rep.Brands++
			for _, sh := range b.Shops {
				sh.BrandID = b.ID
				if err := tx.PutShop(ctx, sh); err != nil {
					return err
				}
				rep.Shops++
			}
			if b.Rule != nil {
				changed, err := s.putRule(ctx, tx, b.ID, *b.Rule, now)
				if err != nil {
					return err
				}
				if changed {
					rep.Rules++
				}
			}
		}
		for _, a := range t.Apps {
			if a.Secret == "" {
				// Keep the secret of an app that exists; make one otherwise.
				if old, err := tx.App(ctx, a.Key); err == nil {
					a.Secret = old.Secret
				} else if errors.Is(err, ErrNotFound) {
					a.Secret = NewSecret()
					rep.Secrets[a.Key] = a.Secret
				} else {
					return err
				}
			}
			if err := tx.PutApp(ctx, a); err != nil {
				return err
			}
			rep.Apps++
		}
		for _, c := range t.Customers {
			old, err := tx.Customer(ctx, c.ID)
			event := EventCustomerCreated
			switch {
			case err == nil:
				event = EventCustomerUpdated
				if old.BrandID != c.BrandID {
					return ledger.Invalidf("customers."+c.ID+".brand_id", "顾客已属于品牌 %s", old.BrandID)
				}
				c.CreatedAt = old.CreatedAt
			case errors.Is(err, ErrNotFound):
				c.CreatedAt = now
			default:
				return err
			}
			if c.CustomerType == 0 {
				c.CustomerType = 1
			}
			if event == EventCustomerUpdated && c == old {
				rep.Customers++
				continue // unchanged: nothing to store, nothing to tell
			}
			if err := tx.PutCustomer(ctx, c); err != nil {
				return err
			}
			if err := tx.Emit(ctx, s.customerEvent(event, c, now)); err != nil {
				return err
			}
			rep.Customers++
		}
		return nil
	})
	s.cache.clear()
	return rep, err
}

// putRule stores r as a new version unless it equals the one in force.
func (s *Service) putRule(ctx context.Context, tx Tx, brandID string, r ledger.Rule, now time.Time) (bool, error) {
	cur, err := tx.Rule(ctx, brandID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	r.BrandID = brandID
	if err == nil {
		if sameRule(cur, r) {
			return false, nil
		}
		// A level rule that disappeared is kept, logically deleted, so
		// incremental sync can tell clients to drop it.
		for _, d := range cur.Deduction {
			if !hasDeduction(r.Deduction, d.LevelID) {
				d.Deleted = true
				r.Deduction = append(r.Deduction, d)
			}
		}
		for _, a := range cur.Addition {
			if !hasAddition(r.Addition, a.LevelID) {
				a.Deleted = true
				r.Addition = append(r.Addition, a)
			}
		}
		r.Version = cur.Version + 1
		r.CreatedAt = cur.CreatedAt
		if r.RuleID == "" {
			r.RuleID = cur.RuleID
		}
	} else {
		r.Version = 1
		r.CreatedAt = now
	}
	if r.RuleID == "" {
		r.RuleID = brandID + "-rule"
	}
	r.UpdatedAt = now
	if err := tx.PutRule(ctx, r); err != nil {
		return false, err
	}
	return true, tx.Emit(ctx, s.ruleEvent(r, now))
}

func hasDeduction(rs []ledger.DeductionRule, level string) bool {
	for _, r := range rs {
		if r.LevelID == level {
			return true
		}
	}
	return false
}

func hasAddition(rs []ledger.AdditionRule, level string) bool {
	for _, r := range rs {
		if r.LevelID == level {
			return true
		}
	}
	return false
}

func sameRule(a, b ledger.Rule) bool {
	live := func(r ledger.Rule) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%s|%v|%v|", r.Name, r.Clear, r.WithCoupon)
		for _, d := range r.Deduction {
			if !d.Deleted {
				fmt.Fprintf(&sb, "%v;", d)
			}
		}
		for _, d := range r.Addition {
			if !d.Deleted {
				fmt.Fprintf(&sb, "%v;", d)
			}
		}
		return sb.String()
	}
	return live(a) == live(b)
}

// NewSecret makes an app secret: 32 random hex characters.
func NewSecret() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// checkID refuses an id an operator could create but nobody could use:
// blank, too long, with control characters (required) or with spaces
// around it (lookups trim what they are given).
func checkID(field, id string) error {
	if err := Required(field, id); err != nil {
		return err
	}
	if strings.TrimSpace(id) != id {
		return ledger.Invalidf(field, "首尾不可有空白: %q", id)
	}
	return nil
}

func validateTenant(t Tenant) error {
	brands := map[string]bool{}
	for i, b := range t.Brands {
		where := fmt.Sprintf("brands[%d]", i)
		if err := checkID(where+".brand_id", b.ID); err != nil {
			return err
		}
		if brands[b.ID] {
			return ledger.Invalidf(where+".brand_id", "重复的品牌 %s", b.ID)
		}
		brands[b.ID] = true
		if b.TimeZone != "" {
			if _, err := time.LoadLocation(b.TimeZone); err != nil {
				return ledger.Invalidf(where+".time_zone", "未知时区 %q", b.TimeZone)
			}
		}
		if err := CheckText(where+".name", b.Name); err != nil {
			return err
		}
		for ch, id := range b.OutIDs {
			if !KnownChannel(ch) {
				return ledger.Invalidf(where+".out_ids", "未知渠道 %q", ch)
			}
			if err := checkID(where+".out_ids."+ch, id); err != nil {
				return err
			}
		}
		if err := validateSettings(where+".settings", b.Settings); err != nil {
			return err
		}
		for j, sh := range b.Shops {
			w := fmt.Sprintf("%s.shops[%d]", where, j)
			if err := checkID(w+".shop_id", sh.ID); err != nil {
				return err
			}
			if sh.BrandID != "" && sh.BrandID != b.ID {
				return ledger.Invalidf(w+".brand_id", "门店属于品牌 %s", b.ID)
			}
			if err := CheckText(w+".name", sh.Name); err != nil {
				return err
			}
			for ch, id := range sh.OutIDs {
				if !KnownChannel(ch) {
					return ledger.Invalidf(w+".out_ids", "未知渠道 %q", ch)
				}
				if err := checkID(w+".out_ids."+ch, id); err != nil {
					return err
				}
			}
		}
		if b.Rule != nil {
			if err := ValidateRule(where+".rule", *b.Rule); err != nil {
				return err
			}
		}
	}
	for i, a := range t.Apps {
		where := fmt.Sprintf("apps[%d]", i)
		if err := checkID(where+".app_key", a.Key); err != nil {
			return err
		}
		if ReservedAppKey(a.Key) {
			return ledger.Invalidf(where+".app_key", "以 @ 开头的 app_key 保留给 jifen 自身 (如运营后台的 %s), 收到 %q", AdminAppKey, a.Key)
		}
		if err := check(nil, field{where + ".secret", a.Secret}, field{where + ".name", a.Name}); err != nil {
			return err
		}
		for _, ch := range a.Channels {
			if ch != "*" && !KnownChannel(ch) {
				return ledger.Invalidf(where+".channels", "未知渠道 %q", ch)
			}
		}
		for j, b := range a.Brands {
			if err := CheckText(fmt.Sprintf("%s.brands[%d]", where, j), b); err != nil {
				return err
			}
		}
		if a.RateLimit < 0 {
			return ledger.Invalid(where+".rate_limit", "不可为负")
		}
	}
	webhooks := map[string]bool{}
	for i, w := range t.Webhooks {
		where := fmt.Sprintf("webhooks[%d]", i)
		if err := validateWebhook(where, w); err != nil {
			return err
		}
		if webhooks[w.ID] {
			return ledger.Invalidf(where+".webhook_id", "重复的 webhook %s", w.ID)
		}
		webhooks[w.ID] = true
	}
	for i, c := range t.Customers {
		where := fmt.Sprintf("customers[%d]", i)
		if err := checkID(where+".customer_id", c.ID); err != nil {
			return err
		}
		if err := Required(where+".brand_id", c.BrandID); err != nil {
			return err
		}
		for _, f := range []field{{"mobile", c.Mobile}, {"name", c.Name}, {"level_id", c.LevelID}, {"outer_type", c.OuterType},
			{"outer_id", c.OuterID}, {"gender", c.Gender}, {"email", c.Email}, {"birthday", c.Birthday},
			{"address", c.Address}, {"remark", c.Remark}, {"shop_id", c.ShopID}, {"channel", c.Channel}} {
			if err := CheckText(where+"."+f.name, f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateSettings(where string, s ledger.Settings) error {
	switch s.RefundOfExpired {
	case "", ledger.RefundGrace, ledger.RefundForfeit, ledger.RefundReissue:
	default:
		return ledger.Invalidf(where+".refund_of_expired", "应为 grace, forfeit 或 reissue, 收到 %q", s.RefundOfExpired)
	}
	switch s.ClawbackShortfall {
	case "", ledger.ShortfallReject, ledger.ShortfallDebt:
	default:
		return ledger.Invalidf(where+".clawback_shortfall", "应为 reject 或 debt, 收到 %q", s.ClawbackShortfall)
	}
	if s.GraceDays < 0 {
		return ledger.Invalid(where+".grace_days", "不可为负")
	}
	if s.RefundOfExpired == ledger.RefundGrace && s.GraceDays == 0 {
		// 0 would read as "not set" (30 days) where settings travel.
		return ledger.Invalid(where+".grace_days", "宽限天数至少为 1; 不宽限请用 refund_of_expired: forfeit")
	}
	if s.HoldTimeout < 0 {
		return ledger.Invalid(where+".hold_timeout", "不可为负")
	}
	if s.ApprovalAbove < 0 || s.ApprovalAbove > MaxPoints {
		return ledger.Invalidf(where+".approval_above", "应为 1 到 %d 的积分数 (0 或不填: 不需审批), 收到 %d", int64(MaxPoints), s.ApprovalAbove)
	}
	seen := map[int]bool{}
	for i, d := range s.ExpiryReminders {
		field := fmt.Sprintf("%s.expiry_reminders[%d]", where, i)
		if d < 1 || d > MaxReminderDays {
			return ledger.Invalidf(field, "应为 1 到 %d 天, 收到 %d", MaxReminderDays, d)
		}
		if seen[d] {
			return ledger.Invalidf(field, "重复的提醒天数 %d", d)
		}
		seen[d] = true
	}
	return nil
}

// MaxConsumeMoney bounds a deduction rule's consume_money, in fen (10,000
// yuan), and MaxPoints its deducted_point: point.cal deducts up to
// MaxPoints/deducted_point steps of consume_money fen, so with these
// bounds no accepted request can make the amount leave int64 (the
// constant below fails to compile if they ever could).
const MaxConsumeMoney = 1_000_000

const _ = uint64(math.MaxInt64 - MaxPoints*MaxConsumeMoney) // MaxPoints × MaxConsumeMoney fits in int64

// ValidateRule checks a rule's values.
func ValidateRule(where string, r ledger.Rule) error {
	if err := check(nil, field{where + ".name", r.Name}, field{where + ".rule_id", r.RuleID},
		field{where + ".create_by", r.CreatedBy}, field{where + ".update_by", r.UpdatedBy}); err != nil {
		return err
	}
	switch r.Clear.Type {
	case "", ledger.ClearNever:
	case ledger.ClearDaysAfterEarn, ledger.ClearYearEnd:
		if r.Clear.Days < 0 || r.Clear.Days > 36500 {
			return ledger.Invalidf(where+".point_clear_rule.days", "超出范围: %d", r.Clear.Days)
		}
	default:
		return ledger.Invalidf(where+".point_clear_rule.point_clear_rule_type", "应为 NEVER, DAYS_AFTER_EARN 或 YEAR_END, 收到 %q", r.Clear.Type)
	}
	seen := map[string]bool{}
	for i, d := range r.Deduction {
		w := fmt.Sprintf("%s.point_deduction_rule.member_point_deduction_rules[%d]", where, i)
		if err := CheckText(w+".level_id", d.LevelID); err != nil {
			return err
		}
		if seen[d.LevelID] {
			return ledger.Invalidf(w+".level_id", "重复的等级 %q", d.LevelID)
		}
		seen[d.LevelID] = true
		// Disabled levels may leave both 0; no level may hold a value
		// whose arithmetic could overflow were it enabled.
		if d.DeductedPoint < 0 || d.DeductedPoint > MaxPoints || (d.Enable && d.DeductedPoint == 0) {
			return ledger.Invalidf(w+".deducted_point", "必须在 1 到 %d 之间, 收到 %d", int64(MaxPoints), d.DeductedPoint)
		}
		if d.ConsumeMoney < 0 || d.ConsumeMoney > MaxConsumeMoney || (d.Enable && d.ConsumeMoney == 0) {
			return ledger.Invalidf(w+".consume_money", "必须在 0.01 到 %s 元之间, 收到 %s 元", yuan(MaxConsumeMoney), yuan(d.ConsumeMoney))
		}
		if d.HasUpperLimit && d.MaxPoint <= 0 {
			return ledger.Invalid(w+".max_point", "有上限时必须为正")
		}
	}
	seen = map[string]bool{}
	for i, a := range r.Addition {
		w := fmt.Sprintf("%s.point_addition_rule.member_point_addition_rules[%d]", where, i)
		if err := CheckText(w+".level_id", a.LevelID); err != nil {
			return err
		}
		if seen[a.LevelID] {
			return ledger.Invalidf(w+".level_id", "重复的等级 %q", a.LevelID)
		}
		seen[a.LevelID] = true
		if a.Enable && (a.ConsumeMoney <= 0 || a.RewardPoint <= 0) {
			return ledger.Invalid(w, "consume_money 与 reward_point 必须为正")
		}
	}
	return nil
}

// yuan writes fen as yuan for messages: 5000 → "50", 1250 → "12.50".
func yuan(fen int64) string {
	sign, u := "", uint64(fen)
	if fen < 0 {
		sign, u = "-", -u // two's complement: right for math.MinInt64 too
	}
	if u%100 == 0 {
		return fmt.Sprintf("%s%d", sign, u/100)
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}
