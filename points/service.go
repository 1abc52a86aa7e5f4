// Package points is jifen's service: it resolves who is asking and for
// which brand, shop and customer, enforces idempotency, and runs each
// ledger operation as load → decide (package ledger) → write (a Store).
//
// It knows nothing of HTTP or SQL: the TOP gateway and the operators'
// side (package backoffice, behind the admin API and console) call it; the
// SQLite and PostgreSQL stores implement its Store contract. Operators'
// writes are service methods like a POS's (Adjust and Reverse under
// AdminAppKey, ReleaseHold), so every ledger write takes the one path
// below.
//
// # One write
//
// A ledger write asks its store three things (see Tx): Lookup, without
// locks, reads the request's stored answer, the refund of the same name and
// whose order it is — a replay ends there; LoadAccount locks the member's
// account and then reads what the decision needs of it; the decision (a
// ledger.Book) is pure; Apply writes its changes together with the
// request's idempotency record. Previews of operators' actions run the
// same decision over the same reads and write nothing (a dry run:
// PreviewReverse).
//
// # What guards what
//
// What must never be stored is refused twice over where a guard is cheap:
// by the database, whatever the code above it does, and by the decision,
// taken under the account's lock. Stores keep these, in both layouts:
//
//  1. A second effect of one request: the idempotency record's key
//     (brand_id, app_key, request_id) is unique; a concurrent duplicate
//     fails at commit and its write runs again and replays.
//  2. A second refund under one name: reversals' key (brand_id,
//     reverse_order_id) is unique.
//  3. Refunding more than was spent, clawing back more than was granted:
//     CHECK (reversed <= spent) and CHECK (clawed_back <= granted) on the
//     order's row; the decision refuses first (REVERSE_EXCEEDS_SPENT).
//  4. Negative remainders and balances: CHECK (0 <= remaining <= granted)
//     on lots, CHECK (>= 0) on an account's available, frozen and debt, a
//     hold's remaining; the decision refuses first (POINT_NOT_ENOUGH).
//  5. Two flows at one place in an account's chain: flows' key (brand_id,
//     customer_id, seq) is unique; two lots with one number likewise.
//  6. A write on a stale reading: conditional updates (an account's and
//     an order's version, a lot's remaining as read) fail and the write
//     runs again; on PostgreSQL the failed condition fails its own
//     statement, so the COMMIT sent with it cannot commit the rest.
//  7. An allocation of a lot that does not exist: a foreign key.
//  8. A flow without its event, or an event without its write: the event
//     is recorded by the write's own transaction (Service.apply, Tx.Emit),
//     committed with it or not at all; its id is the flow's, unique per
//     brand. The conformance suite checks every test's flows against their
//     events (storetest.CheckFlowEvents).
//  9. What no key can check cheaply — that an allocation's and an
//     idempotency record's flow exist, that balances equal their lots, that
//     hash chains are intact — jifen verify checks (Verify).
package points

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"jifen/ledger"
)

// Service runs the ledger's operations over a Store.
type Service struct {
	store Store
	clock Clock
	log   *slog.Logger

	idMu    sync.Mutex
	entropy *ulid.MonotonicEntropy
	cache   tenantCache

	observer Observer // nil: no one is told
	events   eventBell
	reminded reminders
	// seenEvent is the highest event position a read has returned: every
	// position up to it is an event's (see CheckCursor).
	seenEvent atomic.Int64
}

// Clock tells the ledger's time. Production uses the wall clock; the
// sandbox clock can be moved forward by operators.
type Clock interface{ Now() time.Time }

// WallClock is the real clock.
type WallClock struct{}

// Now is time.Now.
func (WallClock) Now() time.Time { return time.Now() }

// New returns a Service over store. A nil clock is the wall clock.
func New(store Store, clock Clock, log *slog.Logger) *Service {
	if clock == nil {
		clock = WallClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, clock: clock, log: log, entropy: ulid.Monotonic(rand.Reader, 0)}
}

// Store is the service's store.
func (s *Service) Store() Store { return s.store }

// Now is the ledger's current time, truncated to the microsecond that the
// stores keep.
func (s *Service) Now() time.Time { return s.clock.Now().Truncate(time.Microsecond) }

// NewID makes a time-ordered, random, globally unique id (a ULID): ids need
// no central counter, so several servers and distributed databases can
// make them independently.
func (s *Service) NewID() string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(time.Now()), s.entropy).String()
}

// Caller is the app on whose behalf the service acts.
type Caller struct {
	App ledger.App
	// Operator is set when a person acts through the admin API or
	// console: their name, and their id (OperatorCaller).
	Operator   string
	OperatorID string
}

// Target names a brand and optionally a shop, as a POS knows them.
type Target struct {
	BrandID    string
	OutBrandID string
	ShopID     string
	OutShopID  string
	Channel    string // biz_channel: the namespace of the out_* ids
}

// Resolved is a Target resolved to stored records.
type Resolved struct {
	Brand ledger.Brand
	Shop  ledger.Shop // zero when no shop was named and none was needed
}

// resolve applies ledger rules §3: brand by id or external id, shop
// likewise and belonging to the brand, then the caller's permissions.
func (s *Service) resolve(ctx context.Context, c Caller, t Target, needShop bool) (Resolved, error) {
	var r Resolved
	if err := check(nil, field{"brand_id", t.BrandID}, field{"out_brand_id", t.OutBrandID}, field{"shop_id", t.ShopID},
		field{"out_shop_id", t.OutShopID}, field{"biz_channel", t.Channel}); err != nil {
		return r, err
	}
	t.BrandID, t.OutBrandID = strings.TrimSpace(t.BrandID), strings.TrimSpace(t.OutBrandID)
	t.ShopID, t.OutShopID = strings.TrimSpace(t.ShopID), strings.TrimSpace(t.OutShopID)
	if t.BrandID == "" && t.OutBrandID == "" {
		return r, ledger.Invalid("brand_id", "brand_id 与 out_brand_id 不可同时为空")
	}
	if (t.OutBrandID != "" || t.OutShopID != "") && t.Channel == "" {
		ch, err := s.guessChannel(ctx, c, t)
		if err != nil {
			return r, err
		}
		t.Channel = ch
	}
	if t.Channel != "" && !KnownChannel(t.Channel) {
		return r, ledger.Invalidf("biz_channel", "未知渠道 %q", t.Channel)
	}
	var err error
	if t.BrandID != "" {
		r.Brand, err = s.Brand(ctx, t.BrandID)
		if err != nil {
			return r, notFound(err, "brand_id", "品牌不存在: "+t.BrandID)
		}
		if t.OutBrandID != "" {
			other, err := s.brandByOutID(ctx, t.Channel, t.OutBrandID)
			if err != nil {
				return r, notFound(err, "out_brand_id", "外部品牌不存在: "+t.OutBrandID)
			}
			if other.ID != r.Brand.ID {
				return r, ledger.Invalidf("out_brand_id", "out_brand_id %s 与 brand_id %s 不是同一品牌", t.OutBrandID, t.BrandID)
			}
		}
	} else {
		r.Brand, err = s.brandByOutID(ctx, t.Channel, t.OutBrandID)
		if err != nil {
			return r, notFound(err, "out_brand_id", "外部品牌不存在: "+t.OutBrandID)
		}
	}
	if t.ShopID == "" && t.OutShopID == "" {
		if needShop {
			return r, ledger.Invalid("shop_id", "shop_id 与 out_shop_id 不可同时为空")
		}
	} else {
		if t.ShopID != "" {
			r.Shop, err = s.Shop(ctx, t.ShopID)
			if err != nil {
				return r, notFound(err, "shop_id", "门店不存在: "+t.ShopID)
			}
			if t.OutShopID != "" {
				other, err := s.shopByOutID(ctx, t.Channel, t.OutShopID)
				if err != nil {
					return r, notFound(err, "out_shop_id", "外部门店不存在: "+t.OutShopID)
				}
				if other.ID != r.Shop.ID {
					return r, ledger.Invalidf("out_shop_id", "out_shop_id %s 与 shop_id %s 不是同一门店", t.OutShopID, t.ShopID)
				}
			}
		} else {
			r.Shop, err = s.shopByOutID(ctx, t.Channel, t.OutShopID)
			if err != nil {
				return r, notFound(err, "out_shop_id", "外部门店不存在: "+t.OutShopID)
			}
		}
		if r.Shop.BrandID != r.Brand.ID {
			field := "shop_id"
			if t.ShopID == "" {
				field = "out_shop_id"
			}
			return r, ledger.Invalidf(field, "门店 %s 不属于品牌 %s", r.Shop.ID, r.Brand.ID)
		}
	}
	// Resolution comes before permission (ledger rules §3).
	if c.Operator == "" {
		if !c.App.MayActFor(r.Brand.ID) {
			return r, ledger.Denied("brand_id", fmt.Sprintf("app %s may not act for brand %s", c.App.Key, r.Brand.ID))
		}
		if t.Channel != "" && !c.App.MayClaim(t.Channel) {
			return r, ledger.Denied("biz_channel", fmt.Sprintf("app %s may not use channel %s", c.App.Key, t.Channel))
		}
	}
	return r, nil
}

// guessChannel finds the namespace of out_* ids for methods that carry no
// biz_channel (customer.get, point.cal, …): the one channel of the calling
// app in which the id is known. None or several → an error naming why.
func (s *Service) guessChannel(ctx context.Context, c Caller, t Target) (string, error) {
	field, id := "out_brand_id", t.OutBrandID
	lookup := func(ch string) (string, error) {
		b, err := s.brandByOutID(ctx, ch, id)
		return b.ID, err
	}
	if id == "" {
		field, id = "out_shop_id", t.OutShopID
		lookup = func(ch string) (string, error) {
			sh, err := s.shopByOutID(ctx, ch, id)
			return sh.ID, err
		}
	}
	found, match := "", ""
	for _, ch := range c.App.Channels {
		if ch == "*" || !KnownChannel(ch) {
			continue
		}
		got, err := lookup(ch)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if found != "" && got != match {
			return "", ledger.Invalidf("biz_channel", "%s %s 在多个渠道中存在, 请指明 biz_channel", field, id)
		}
		found, match = ch, got
	}
	if found == "" {
		return "", ledger.Invalidf(field, "外部 id %s 在调用方的渠道中不存在", id)
	}
	return found, nil
}

// Channels are the biz_channel namespaces jifen knows: Chensen and Keruyun.
var Channels = []string{"CS", "KRY"}

// KnownChannel reports whether ch is one of Channels; the operators'
// flow filter (package backoffice) refuses any other.
func KnownChannel(ch string) bool {
	for _, c := range Channels {
		if c == ch {
			return true
		}
	}
	return false
}

// notFound turns a store's ErrNotFound into an invalid-parameter error
// naming field; any other error passes through.
func notFound(err error, field, reason string) error {
	if errors.Is(err, ErrNotFound) {
		return ledger.Invalid(field, reason)
	}
	return err
}

// CustomerOf loads customer id of the brand. A customer of another brand
// is answered exactly as an id that matches nothing — same error, and
// like it never cached (the cache is per brand and keeps only the brand's
// own customers) — so an app learns nothing about the customers of brands
// it may not act for (ledger rules §3).
func (s *Service) CustomerOf(ctx context.Context, brand ledger.Brand, id string) (ledger.Customer, error) {
	if err := Required("customer_id", id); err != nil {
		return ledger.Customer{}, err
	}
	id = strings.TrimSpace(id)
	c, err := cached(&s.cache, customerKey(brand.ID, id), func() (ledger.Customer, error) {
		c, err := s.store.Customer(ctx, id)
		if err == nil && c.BrandID != brand.ID {
			return ledger.Customer{}, ErrNotFound
		}
		return c, err
	})
	if err != nil {
		return ledger.Customer{}, notFound(err, "customer_id", "顾客不存在: "+id)
	}
	return c, nil
}

// customerKey is the cache key of a brand's customer.
func customerKey(brandID, id string) string { return "customer\x00" + brandID + "\x00" + id }

// Rule is the brand's rule in force, or the built-in default, through
// the cache (the operators' totals value points under it).
func (s *Service) Rule(ctx context.Context, brandID string) (ledger.Rule, error) {
	return cached(&s.cache, "rule\x00"+brandID, func() (ledger.Rule, error) { return orDefaultRule(s.store.Rule(ctx, brandID)) })
}

// orDefaultRule turns "no rule" into the built-in default: points never
// expire and any level may pay with any number of points.
func orDefaultRule(r ledger.Rule, err error) (ledger.Rule, error) {
	if errors.Is(err, ErrNotFound) {
		return defaultRule(), nil
	}
	return r, err
}

// defaultRule is the rule of a brand that has none.
func defaultRule() ledger.Rule { return ledger.Rule{Clear: ledger.ClearRule{Type: ledger.ClearNever}} }
