package ledger

import (
	"math"
	"time"
)

// Clear rule types (point_clear_rule_type).
const (
	ClearNever         = "NEVER"
	ClearDaysAfterEarn = "DAYS_AFTER_EARN"
	ClearYearEnd       = "YEAR_END"
)

// ClearRule decides when earned points expire.
type ClearRule struct {
	Type string `json:"point_clear_rule_type"`
	Days int    `json:"days"`
}

// ExpiresAt is the expiry of points earned at earned in loc: the zero time
// for NEVER; for DAYS_AFTER_EARN the end of the day Days after the earn;
// for YEAR_END the end of the calendar year Days years after the earn
// (Days=1: the end of next year). "The end of a day" is the first instant
// of the next day: points are spendable through the whole day.
func (c ClearRule) ExpiresAt(earned time.Time, loc *time.Location) time.Time {
	switch c.Type {
	case ClearDaysAfterEarn:
		return EndOfDay(earned.In(loc).AddDate(0, 0, c.Days), loc)
	case ClearYearEnd:
		y := earned.In(loc).Year() + c.Days
		return time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
	default:
		return time.Time{}
	}
}

// EndOfDay is the first instant after the calendar day of t in loc.
func EndOfDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
}

// DeductionRule is one level's rule for paying with points
// (MemberPointDeductionRuleOpenInfo). ConsumeMoney is in fen.
type DeductionRule struct {
	LevelID       string `json:"level_id"`
	DeductedPoint int64  `json:"deducted_point"`
	ConsumeMoney  int64  `json:"consume_money"` // fen
	Enable        bool   `json:"enable"`
	HasUpperLimit bool   `json:"has_upper_limit"`
	MaxPoint      int64  `json:"max_point"`
	Deleted       bool   `json:"deleted"`
}

// AdditionRule is one level's rule for earning points
// (MemberPointAdditionRuleOpenInfo). ConsumeMoney is in fen.
type AdditionRule struct {
	LevelID      string `json:"level_id"`
	ConsumeMoney int64  `json:"consume_money"` // fen
	RewardPoint  int64  `json:"reward_point"`
	Enable       bool   `json:"enable"`
	Deleted      bool   `json:"deleted"`
}

// Rule is one version of a brand's point rule (PointRuleOpenInfo).
type Rule struct {
	BrandID    string
	RuleID     string
	Version    int64 // 0: the built-in default (never expires, no limits)
	Name       string
	Clear      ClearRule
	WithCoupon bool
	Deduction  []DeductionRule
	Addition   []AdditionRule
	CreatedAt  time.Time
	UpdatedAt  time.Time
	CreatedBy  string
	UpdatedBy  string
}

// DeductionFor is the deduction rule of level, else the brand default
// (level ""); ok is false where the brand has neither.
func (r Rule) DeductionFor(level string) (DeductionRule, bool) {
	var def *DeductionRule
	for i := range r.Deduction {
		d := &r.Deduction[i]
		if d.Deleted {
			continue
		}
		if d.LevelID == level {
			return *d, true
		}
		if d.LevelID == "" {
			def = d
		}
	}
	if def != nil {
		return *def, true
	}
	return DeductionRule{}, false
}

// CheckDeduction decides whether a member of level may pay amount points
// now under r (ledger rules §4): the level may pay with points, the amount
// is within the cap, and available covers it.
func (r Rule) CheckDeduction(level string, amount, available int64) error {
	if d, ok := r.DeductionFor(level); ok {
		if !d.Enable {
			return Business(CodeDeductionDisabled, "该会员等级不可使用积分抵现",
				"members of level %q may not pay with points", level)
		}
		if d.HasUpperLimit && amount > d.MaxPoint {
			return Business(CodeExceedsMaxPoint, "超过单次积分抵扣上限",
				"one use may take at most %d points, %d asked", d.MaxPoint, amount)
		}
	}
	if amount > available {
		return Business(CodePointNotEnough, "积分不足",
			"available points %d are fewer than the %d asked for", available, amount)
	}
	return nil
}

// Deduction is the result of point.cal.
type Deduction struct {
	ConsumePoint  int64 // points used
	DeductedMoney int64 // fen
}

// Calculate is point.cal's pure arithmetic: with DeductedPoint points worth
// ConsumeMoney fen, asking for p points uses floor(p/DeductedPoint) steps,
// capped by MaxPoint, and deducts steps × ConsumeMoney fen. It does not
// look at any balance. A level with no usable rule deducts nothing.
//
// The answer is never negative or wrapped, whatever the rule holds: the
// service refuses rules whose product could leave int64 for any accepted
// p (points.MaxConsumeMoney), but a rule stored before those bounds may
// still hold one, and for it only as many steps are used as the amount in
// fen can hold — the answer stays consistent (DeductedMoney is
// ConsumePoint/DeductedPoint steps of ConsumeMoney), just smaller.
func (r Rule) Calculate(level string, p int64) Deduction {
	d, ok := r.DeductionFor(level)
	if !ok || !d.Enable || d.DeductedPoint <= 0 || d.ConsumeMoney <= 0 || p <= 0 {
		return Deduction{}
	}
	if d.HasUpperLimit && p > d.MaxPoint {
		p = max(d.MaxPoint, 0)
	}
	steps := min(p/d.DeductedPoint, math.MaxInt64/d.ConsumeMoney)
	return Deduction{ConsumePoint: steps * d.DeductedPoint, DeductedMoney: steps * d.ConsumeMoney}
}
