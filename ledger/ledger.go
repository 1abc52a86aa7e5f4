// Package ledger is jifen's pure domain core: lots, flows, allocations,
// holds, expiry, spending order, reversal and redemption arithmetic.
//
// Nothing here does I/O. The service (package points) loads a customer's
// State from a store, asks a Book built over it to perform one operation,
// and writes the Changes the Book recorded in the same transaction. The
// rules implemented here are those of the project's docs/ledger.md.
package ledger

import (
	"sync"
	"time"
)

// FlowType is a ledger entry's business type (point_flow_type / biz_type).
type FlowType string

// Flow types (ledger rules §2).
const (
	ExtraCharge        FlowType = "EXTRA_CHARGE"
	DeductFromConsume  FlowType = "DEDUCT_FROM_CONSUME"
	DeductReverse      FlowType = "DEDUCT_FROM_CONSUME_REVERSE"
	ExtraConsume       FlowType = "EXTRA_CONSUME"
	ExtraChargeReverse FlowType = "EXTRA_CHARGE_REVERSE"
	Charge             FlowType = "CHARGE"
	Freeze             FlowType = "FREEZE"
	Verify             FlowType = "VERIFY"
	Unfreeze           FlowType = "UNFREEZE"
	Decrease           FlowType = "DECREASE"
	Expire             FlowType = "EXPIRE"
	Adjust             FlowType = "ADJUST"
	DebtRepay          FlowType = "DEBT_REPAY"
)

var flowDescriptions = map[FlowType]string{
	ExtraCharge:        "积分补录",
	DeductFromConsume:  "积分抵现",
	DeductReverse:      "积分消费回退",
	ExtraConsume:       "积分补扣",
	ExtraChargeReverse: "积分补录回退",
	Charge:             "积分增加",
	Freeze:             "积分冻结",
	Verify:             "冻结核销",
	Unfreeze:           "冻结释放",
	Decrease:           "积分扣减",
	Expire:             "积分过期",
	Adjust:             "后台调整",
	DebtRepay:          "欠分抵扣",
}

// Description is the Chinese name shown as biz_type_description.
func (t FlowType) Description() string { return flowDescriptions[t] }

// Valid reports whether t is a known flow type.
func (t FlowType) Valid() bool { _, ok := flowDescriptions[t]; return ok }

// FlowTypes lists every flow type, in the order of the rules' table.
func FlowTypes() []FlowType {
	return []FlowType{ExtraCharge, DeductFromConsume, DeductReverse, ExtraConsume, ExtraChargeReverse,
		Charge, Freeze, Verify, Unfreeze, Decrease, Expire, Adjust, DebtRepay}
}

// App is a calling system (a POS vendor's integration, or the brand's own).
type App struct {
	Key       string
	Secret    string
	Name      string
	Active    bool
	Channels  []string // biz_channel values it may claim
	Brands    []string // brand ids it may act for
	RateLimit float64  // requests per second; 0 = unlimited
}

// MayActFor reports whether the app may act for brand.
func (a App) MayActFor(brand string) bool {
	return contains(a.Brands, brand) || contains(a.Brands, "*")
}

// MayClaim reports whether the app may claim the channel namespace.
func (a App) MayClaim(channel string) bool {
	return contains(a.Channels, channel) || contains(a.Channels, "*")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Refund-of-expired policies (ledger rules §5.8).
const (
	RefundGrace   = "grace"
	RefundForfeit = "forfeit"
	RefundReissue = "reissue"
)

// Claw-back shortfall policies (ledger rules §6).
const (
	ShortfallReject = "reject"
	ShortfallDebt   = "debt"
)

// Settings are a brand's ledger policies.
type Settings struct {
	RefundOfExpired   string        `json:"refund_of_expired"`
	GraceDays         int           `json:"grace_days"`
	ClawbackShortfall string        `json:"clawback_shortfall"`
	HoldTimeout       time.Duration `json:"hold_timeout"`
	// ExpiryReminders are the days before a lot expires (in the brand's
	// time zone) on which a point.expiring event is sent; none if empty.
	ExpiryReminders []int `json:"expiry_reminders,omitempty"`
	// ApprovalAbove, when positive, is the most points a support
	// operator's refund or adjustment may move without a second operator
	// approving it (package approval); 0: no approval is ever needed.
	ApprovalAbove int64 `json:"approval_above,omitempty"`
}

// DefaultSettings are the policies of a brand that sets none.
func DefaultSettings() Settings {
	return Settings{RefundOfExpired: RefundGrace, GraceDays: 30, ClawbackShortfall: ShortfallReject, HoldTimeout: 30 * time.Minute}
}

// Brand is a restaurant or retail brand; it owns shops, customers, rules.
type Brand struct {
	ID       string
	Name     string
	TimeZone string
	OutIDs   map[string]string // channel → out_brand_id
	Settings Settings
}

// Location is the brand's time zone (Asia/Shanghai when unset or unknown).
func (b Brand) Location() *time.Location {
	if b.TimeZone == "" {
		return Shanghai
	}
	if loc, ok := locations.Load(b.TimeZone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(b.TimeZone)
	if err != nil {
		loc = Shanghai
	}
	locations.Store(b.TimeZone, loc)
	return loc
}

// locations remembers time.LoadLocation's answers, which read the zone
// database each time (a grant computes an expiry in the brand's zone).
// The zone names are the brands' own: a handful.
var locations sync.Map // string → *time.Location

// Shanghai is the TOP platform's time zone (GMT+8).
var Shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("GMT+8", 8*3600)
	}
	return loc
}()

// Shop belongs to exactly one brand.
type Shop struct {
	ID      string
	BrandID string
	Name    string
	OutIDs  map[string]string // channel → out_shop_id
}

// Customer is a member of one brand.
type Customer struct {
	ID           string
	BrandID      string
	Mobile       string
	Name         string
	LevelID      string
	CustomerType int // 1 member, 0 customer
	Channel      string
	OuterType    string
	OuterID      string
	Gender       string
	Email        string
	Birthday     string
	Address      string
	Remark       string
	ShopID       string
	CreatedAt    time.Time
}

// Account is the points position of one member, kept on a row for speed
// and always equal to what the lots and holds say.
type Account struct {
	BrandID      string
	CustomerID   string
	Available    int64 // Σ remaining of lots not yet written off as expired
	Frozen       int64 // Σ remaining of active holds
	Debt         int64 // claw-back shortfall still owed
	TotalEarned  int64
	TotalUsed    int64
	TotalExpired int64
	Seq          int64  // number of flows written for this account
	LastHash     string // hash of the newest flow, "" before the first
	LotSeq       int64  // highest Seq given to one of the account's lots
	AllocSeq     int64  // highest Seq given to one of the account's allocations
	Version      int64  // optimistic concurrency: bumped on every write
	Exists       bool   // false for an account not yet stored
}

// Lot is points granted together.
type Lot struct {
	ID         string
	BrandID    string
	CustomerID string
	Granted    int64
	Remaining  int64
	EarnedAt   time.Time
	ExpiresAt  time.Time // zero: never expires
	FlowID     string    // the flow that granted it
	OutBizID   string    // the order it was granted for, if any
	Seq        int64     // creation order among the account's lots
	stored     int64     // Remaining as loaded, for the conditional update
	new        bool
}

// Expired reports whether the lot's points may no longer be spent at now.
func (l Lot) Expired(now time.Time) bool { return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt) }

// LoadedRemaining is the remaining as read from the store (the value a
// conditional update must still find).
func (l Lot) LoadedRemaining() int64 { return l.stored }

// IsNew reports whether the lot was created by this Book.
func (l Lot) IsNew() bool { return l.new }

// Loaded marks a lot as read from the store with its current remaining.
func (l Lot) Loaded() Lot { l.stored = l.Remaining; l.new = false; return l }

// Flow is one immutable ledger entry.
type Flow struct {
	ID             string
	BrandID        string
	CustomerID     string
	Seq            int64
	Type           FlowType
	Amount         int64 // the operation's size, always ≥ 0
	DeltaAvailable int64 // change to the available balance
	DeltaFrozen    int64 // change to the frozen balance
	DeltaDebt      int64 // change to the debt
	RemainPoint    int64 // available after this flow
	OutBizID       string
	ReverseOrderID string
	ShopID         string
	ShopName       string
	Channel        string
	AppKey         string
	RequestID      string
	OperatorID     string
	OperatorName   string
	Reason         string
	RuleVersion    int64
	Policy         string // refund-of-expired policy applied, if any
	CreatedAt      time.Time
	PrevHash       string
	Hash           string
}

// ChangePoint is the flow's amount signed by its direction on the member's
// points: negative for what leaves the member (spends, freezes, expiry,
// claw-back), positive for what comes back or is granted.
func (f Flow) ChangePoint() int64 {
	switch f.Type {
	case DeductFromConsume, ExtraConsume, ExtraChargeReverse, Freeze, Verify, Decrease, Expire, DebtRepay:
		return -f.Amount
	case Adjust:
		return f.DeltaAvailable
	default:
		return f.Amount
	}
}

// Allocation kinds: under which purpose points were taken from a lot.
const (
	AllocSpend    = "spend"    // spent for an order; reversible
	AllocHold     = "hold"     // frozen for an order
	AllocClawback = "clawback" // taken back from what an order earned
	AllocExpire   = "expire"   // written off at expiry
	AllocOther    = "other"    // decrease, adjustment, debt repayment
)

// Allocation records points taken from (Amount > 0) or restored to
// (Amount < 0) one lot by one flow, under an order and a purpose.
type Allocation struct {
	FlowID     string
	LotID      string
	BrandID    string
	CustomerID string
	OrderRef   string // out_biz_id / outer_order_id, "" for none
	Kind       string
	Amount     int64
	Seq        int64 // order of writing within the account
}

// Order is one customer's position in one order: what it spent, what was
// reversed, what it earned and what was clawed back.
type Order struct {
	BrandID    string
	OutBizID   string
	CustomerID string
	Spent      int64
	Reversed   int64
	Granted    int64
	ClawedBack int64
	Version    int64
	Exists     bool
}

// Reversible is what may still be reversed of the order's spending.
func (o Order) Reversible() int64 { return o.Spent - o.Reversed }

// Reversal records one refund by its reverse_order_id, unique per brand.
type Reversal struct {
	BrandID        string
	ReverseOrderID string
	OutBizID       string
	CustomerID     string
	Type           FlowType // DEDUCT_FROM_CONSUME_REVERSE or EXTRA_CHARGE_REVERSE
	Requested      int64    // change_point asked for; 0 when absent
	Amount         int64    // points actually reversed
	FlowID         string
	CreatedAt      time.Time
}

// Hold statuses.
const (
	HoldActive   = "ACTIVE"
	HoldVerified = "VERIFIED"
	HoldReleased = "RELEASED"
)

// Hold is points frozen for an order, pinned to the lots they came from.
type Hold struct {
	BrandID      string
	OuterOrderID string
	CustomerID   string
	Amount       int64 // frozen at the start
	Remaining    int64 // still frozen
	Verified     int64
	Status       string
	CreatedAt    time.Time
	ExpiresAt    time.Time // released by the sweeper after this
	FlowID       string
	Version      int64
	Exists       bool
}

// Idempotency is the stored outcome of an accepted write.
type Idempotency struct {
	BrandID     string // the brand the request acted for: a key is unique within its brand
	AppKey      string
	RequestID   string
	Method      string
	Fingerprint string
	FlowID      string
	Result      string // the business result, stored so a replay answers byte for byte the same
	CreatedAt   time.Time
}
