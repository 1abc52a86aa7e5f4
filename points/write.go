package points

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"jifen/ledger"
)

// MaxPoints bounds change_point: far above any real order, far below the
// point where sums of many of them could overflow int64.
const MaxPoints = 1_000_000_000_000

// Outcome is the answer to an accepted write.
type Outcome struct {
	// Result is the business result returned to the caller: the flow id
	// of the operation for ledger writes, the customer id for customer
	// creation. A replay returns the stored Result unchanged.
	Result   string
	FlowID   string
	Replayed bool
}

// checkPoints validates a change_point that must be present.
func checkPoints(n int64) error {
	switch {
	case n <= 0:
		return ledger.Invalidf("change_point", "必须是正整数, 收到 %d", n)
	case n > MaxPoints:
		return ledger.Invalidf("change_point", "超出范围: 最大 %d, 收到 %d", int64(MaxPoints), n)
	}
	return nil
}

// The longest text a request may carry, in bytes: identifiers (request_id,
// out_biz_id, reverse_order_id, customer and operator ids, …) and free text
// (reason, names, addresses). Longer is refused, naming the field, before
// anything is read or written: the ledger keeps what it accepts forever,
// and an index cannot hold an arbitrarily long key.
const (
	MaxIDBytes   = 128
	MaxTextBytes = 512
)

// textFields are the fields of free text; every other field is an
// identifier. shop_name is a flow's copy of a shop's name.
var textFields = map[string]bool{"reason": true, "operator_name": true, "name": true, "address": true, "remark": true,
	"shop_name": true}

// required refuses a blank value of field, or one checkText refuses.
func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return ledger.Invalid(field, "不可为空")
	}
	return checkText(field, v)
}

// checkText is the one check of a piece of text before it is looked up or
// stored: not longer than field may be, and CheckChars. field may be a
// path such as customers[0].name, whose last part says what it is.
func checkText(field, v string) error {
	limit := MaxIDBytes
	if isFreeText(field) {
		limit = MaxTextBytes
	}
	if len(v) > limit {
		return ledger.Invalidf(field, "过长: 最多 %d 字节, 收到 %d 字节", limit, len(v))
	}
	return CheckChars(field, v)
}

func isFreeText(field string) bool { return textFields[field[strings.LastIndexByte(field, '.')+1:]] }

// CheckChars refuses text that both stores cannot keep alike, or that an
// operator could not read back: bytes that are not UTF-8 and NUL, which
// PostgreSQL refuses (where SQLite would store them, and a later import
// into PostgreSQL fail), and every other control character (C0, DEL, C1) —
// except tab, CR and LF in free text (reason, names, remark, address),
// where a line break is ordinary. field names the value as in checkText;
// the export format (package dump) applies the same rule on import.
func CheckChars(field, v string) error {
	if !utf8.ValidString(v) {
		return ledger.Invalid(field, "不是有效的 UTF-8 文本")
	}
	free := isFreeText(field)
	for i, r := range v {
		if unicode.IsControl(r) && !(free && (r == '\t' || r == '\n' || r == '\r')) {
			return ledger.Invalidf(field, "不可含控制字符: 第 %d 字节是 %U", i+1, r)
		}
	}
	return nil
}

// field is a request field by its wire name, for the checks above.
type field struct{ name, v string }

// check runs required on each of req and checkText on each of opt.
func check(req []field, opt ...field) error {
	for _, f := range req {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range opt {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// fingerprint identifies a request's business content: the method and
// every parameter but the idempotency key itself.
func fingerprint(method string, payload any) string {
	b, err := json.Marshal(payload)
	if err != nil {
		// Payloads are plain structs of strings and numbers.
		panic(fmt.Sprintf("points: fingerprint: %v", err))
	}
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// idempotent runs do inside a write transaction keyed by (app, requestID)
// (ledger rules §8): a stored answer with the same fingerprint is replayed
// without running do; another fingerprint is IDEMPOTENCY_CONFLICT; a
// business failure is not stored, so the same request_id may be retried.
func (s *Service) idempotent(ctx context.Context, appKey, requestID, method, fp string,
	do func(tx Tx, now time.Time) (Outcome, error)) (Outcome, error) {
	var out Outcome
	err := s.store.Write(ctx, func(tx Tx) error {
		out = Outcome{}
		rec, err := tx.Idempotency(ctx, appKey, requestID)
		switch {
		case err == nil:
			out, err = replay(rec, appKey, requestID, method, fp)
			return err
		case !errors.Is(err, ErrNotFound):
			return err
		}
		now := s.Now()
		o, err := do(tx, now)
		if err != nil {
			return err
		}
		out = o
		// A refund replayed by its reverse_order_id under a new request_id
		// stores that request_id too: reused for another request, it is
		// then IDEMPOTENCY_CONFLICT like any other.
		return tx.PutIdempotency(ctx, ledger.Idempotency{AppKey: appKey, RequestID: requestID, Method: method,
			Fingerprint: fp, FlowID: o.FlowID, Result: o.Result, CreatedAt: now})
	})
	s.noteReplay(method, out, err)
	return out, err
}

// replay answers a request whose (app, request_id) is stored: the stored
// answer when it is the same request, IDEMPOTENCY_CONFLICT otherwise.
func replay(rec ledger.Idempotency, appKey, requestID, method, fp string) (Outcome, error) {
	if rec.Method != method || rec.Fingerprint != fp {
		return Outcome{}, ledger.Business(ledger.CodeIdempotencyConflict, "请求号重复且内容不同",
			"request_id %s was already used by app %s for a different request (%s)", requestID, appKey, rec.Method)
	}
	return Outcome{Result: rec.Result, FlowID: rec.FlowID, Replayed: true}, nil
}

// isBusiness reports whether err is a business refusal.
func isBusiness(err error) bool {
	e, ok := ledger.AsError(err)
	return ok && e.Kind == ledger.KindBusiness
}

// loadBook reads one account's state inside tx and opens a Book on it,
// with expired lots written off first.
func (s *Service) loadBook(ctx context.Context, tx Tx, brand ledger.Brand, customerID string, now time.Time,
	orderRef string) (*ledger.Book, ledger.Rule, error) {
	return s.loadBookFor(ctx, tx, brand, customerID, now, orderRef, allLots, nil)
}

// loadBookWith is loadBook with a last adjustment of the state.
func (s *Service) loadBookWith(ctx context.Context, tx Tx, brand ledger.Brand, customerID string, now time.Time,
	orderRef string, adjust func(*ledger.State)) (*ledger.Book, ledger.Rule, error) {
	return s.loadBookFor(ctx, tx, brand, customerID, now, orderRef, allLots, adjust)
}

// allLots asks loadBookFor for every live lot of the account.
const allLots = math.MaxInt64

// loadBookFor is loadBookWith for an operation that takes at most need
// points from the account's lots in spend order (0: none, as a grant or
// a refund into the order's own lots), so only those lots are loaded
// (Tx.LotsToSpend); allLots loads them all.
func (s *Service) loadBookFor(ctx context.Context, tx Tx, brand ledger.Brand, customerID string, now time.Time,
	orderRef string, need int64, adjust func(*ledger.State)) (*ledger.Book, ledger.Rule, error) {
	// The account's lock first: where the database reads what is committed
	// when each statement runs, the rule read after it is the one in force
	// once this write may go ahead, not one replaced while it waited.
	acct, err := tx.Account(ctx, brand.ID, customerID)
	if err != nil {
		return nil, ledger.Rule{}, err
	}
	rule, err := s.txRule(ctx, tx, brand.ID)
	if err != nil {
		return nil, rule, err
	}
	st := ledger.State{Brand: brand, Rule: rule, Account: acct}
	if need == allLots {
		st.Lots, err = tx.LiveLots(ctx, brand.ID, customerID)
	} else {
		st.Lots, err = tx.LotsToSpend(ctx, brand.ID, customerID, need, now)
	}
	if err != nil {
		return nil, rule, err
	}
	if orderRef != "" {
		orders, err := tx.Orders(ctx, brand.ID, orderRef)
		if err != nil {
			return nil, rule, err
		}
		st.Order = ledger.Order{BrandID: brand.ID, OutBizID: orderRef, CustomerID: customerID}
		for _, o := range orders {
			if o.CustomerID == customerID {
				st.Order = o
			}
		}
		if st.Allocs, err = tx.OrderAllocations(ctx, brand.ID, customerID, orderRef); err != nil {
			return nil, rule, err
		}
		have := map[string]bool{}
		for _, l := range st.Lots {
			have[l.ID] = true
		}
		var missing []string
		for _, a := range st.Allocs {
			if !have[a.LotID] {
				have[a.LotID] = true
				missing = append(missing, a.LotID)
			}
		}
		if len(missing) > 0 {
			more, err := tx.Lots(ctx, missing)
			if err != nil {
				return nil, rule, err
			}
			st.Lots = append(st.Lots, more...)
		}
	}
	if adjust != nil {
		adjust(&st)
	}
	b := ledger.NewBook(st, now, s.NewID)
	b.ExpireDue()
	return b, rule, nil
}

func (s *Service) txRule(ctx context.Context, tx Tx, brandID string) (ledger.Rule, error) {
	return orDefaultRule(tx.Rule(ctx, brandID))
}

// OrderRequest is a points operation for one order of one customer:
// consumepoint, extracharge and extra.consume.
type OrderRequest struct {
	Target
	CustomerID   string
	Points       int64
	OutBizID     string
	OperatorID   string
	OperatorName string
	Reason       string
	RequestID    string `json:"-"`
}

func (r OrderRequest) validate() error {
	if err := check([]field{{"request_id", r.RequestID}, {"out_biz_id", r.OutBizID},
		{"customer_id", r.CustomerID}, {"operator_id", r.OperatorID}},
		field{"operator_name", r.OperatorName}, field{"reason", r.Reason}); err != nil {
		return err
	}
	return checkPoints(r.Points)
}

func (r OrderRequest) info(c Caller, res Resolved) ledger.Info {
	return ledger.Info{OutBizID: r.OutBizID, ShopID: res.Shop.ID, ShopName: res.Shop.Name, Channel: r.Channel,
		AppKey: c.App.Key, RequestID: r.RequestID, OperatorID: r.OperatorID, OperatorName: r.OperatorName, Reason: r.Reason}
}

// Consume pays for an order with points (point.consumepoint,
// DEDUCT_FROM_CONSUME): the level's deduction rule applies, lots are
// taken earliest expiry first.
func (s *Service) Consume(ctx context.Context, c Caller, r OrderRequest) (Outcome, error) {
	return s.orderOp(ctx, c, r, "consume", ledger.DeductFromConsume)
}

// ExtraConsume takes points for an order after the fact
// (point.extra.consume, EXTRA_CONSUME).
func (s *Service) ExtraConsume(ctx context.Context, c Caller, r OrderRequest) (Outcome, error) {
	return s.orderOp(ctx, c, r, "extra_consume", ledger.ExtraConsume)
}

// ExtraCharge grants points for an order (point.extracharge,
// EXTRA_CHARGE) in a new lot.
func (s *Service) ExtraCharge(ctx context.Context, c Caller, r OrderRequest) (Outcome, error) {
	return s.orderOp(ctx, c, r, "extra_charge", ledger.ExtraCharge)
}

func (s *Service) orderOp(ctx context.Context, c Caller, r OrderRequest, method string, t ledger.FlowType) (Outcome, error) {
	if err := r.validate(); err != nil {
		return Outcome{}, err
	}
	res, err := s.resolve(ctx, c, r.Target, true)
	if err != nil {
		return Outcome{}, err
	}
	cust, err := s.customerOf(ctx, res.Brand, r.CustomerID)
	if err != nil {
		return Outcome{}, err
	}
	return s.idempotent(ctx, c.App.Key, r.RequestID, method, fingerprint(method, r), func(tx Tx, now time.Time) (Outcome, error) {
		need := r.Points // a spend takes this much in spend order
		if t == ledger.ExtraCharge {
			need = 0 // a grant makes its own lot
		}
		b, rule, err := s.loadBookFor(ctx, tx, res.Brand, cust.ID, now, r.OutBizID, need, nil)
		if err != nil {
			return Outcome{}, err
		}
		var f ledger.Flow
		switch t {
		case ledger.ExtraCharge:
			f = b.Grant(t, r.Points, r.info(c, res))
		case ledger.DeductFromConsume:
			// The member's level as stored now, not as cached: the
			// deduction rule is decided per level.
			stored, err := tx.Customer(ctx, cust.ID)
			if err != nil {
				return Outcome{}, err
			}
			if err := rule.CheckDeduction(stored.LevelID, r.Points, b.Account().Available); err != nil {
				return Outcome{}, err
			}
			fallthrough
		default:
			if f, err = b.Spend(t, r.Points, r.info(c, res)); err != nil {
				return Outcome{}, err
			}
		}
		if err := tx.Apply(ctx, b.Changes()); err != nil {
			return Outcome{}, err
		}
		return Outcome{Result: f.ID, FlowID: f.ID}, nil
	})
}

// ReverseRequest is point.reversepoint.
type ReverseRequest struct {
	Target
	Type           ledger.FlowType // DEDUCT_FROM_CONSUME_REVERSE or EXTRA_CHARGE_REVERSE
	CustomerID     string
	Points         *int64 // nil: everything still reversible
	OutBizID       string
	ReverseOrderID string
	OperatorID     string
	OperatorName   string
	Reason         string
	RequestID      string `json:"-"`
}

func (r ReverseRequest) validate() error {
	if err := check([]field{{"request_id", r.RequestID}, {"out_biz_id", r.OutBizID},
		{"reverse_order_id", r.ReverseOrderID}, {"operator_id", r.OperatorID}, {"operator_name", r.OperatorName}},
		field{"customer_id", r.CustomerID}, field{"reason", r.Reason}); err != nil {
		return err
	}
	switch r.Type {
	case ledger.DeductReverse, ledger.ExtraChargeReverse:
	case "":
		return ledger.Invalid("biz_type", "不可为空")
	default:
		return ledger.Invalidf("biz_type", "不支持的业务场景 %q, 应为 DEDUCT_FROM_CONSUME_REVERSE 或 EXTRA_CHARGE_REVERSE", string(r.Type))
	}
	if r.Points != nil {
		return checkPoints(*r.Points)
	}
	return nil
}

// Reverse refunds points spent for an order, or claws back points an
// order earned (ledger rules §5, §6). The result is the reversal's flow id.
func (s *Service) Reverse(ctx context.Context, c Caller, r ReverseRequest) (Outcome, error) {
	if err := r.validate(); err != nil {
		return Outcome{}, err
	}
	res, err := s.resolve(ctx, c, r.Target, true)
	if err != nil {
		return Outcome{}, err
	}
	if r.CustomerID != "" {
		if _, err := s.customerOf(ctx, res.Brand, r.CustomerID); err != nil {
			return Outcome{}, err
		}
	}
	var requested int64
	if r.Points != nil {
		requested = *r.Points
	}
	method := "reverse"
	return s.idempotent(ctx, c.App.Key, r.RequestID, method, fingerprint(method, r), func(tx Tx, now time.Time) (Outcome, error) {
		// A refund is named by its reverse_order_id (rule §5.3).
		if o, done, err := s.priorReversal(ctx, tx, res.Brand.ID, r, requested); done {
			return o, err
		}
		custID, err := s.orderCustomer(ctx, tx, res.Brand.ID, r)
		if err != nil {
			return Outcome{}, err
		}
		// A refund puts points back into the lots the order took them
		// from (loaded with its allocations). A claw-back takes from the
		// lot the order granted first, which no allocation names, then
		// from the member's other lots: it loads every live lot.
		need := int64(0)
		if r.Type == ledger.ExtraChargeReverse {
			need = allLots
		}
		b, _, err := s.loadBookFor(ctx, tx, res.Brand, custID, now, r.OutBizID, need, nil)
		if err != nil {
			return Outcome{}, err
		}
		info := ledger.Info{OutBizID: r.OutBizID, ReverseOrderID: r.ReverseOrderID, ShopID: res.Shop.ID,
			ShopName: res.Shop.Name, Channel: r.Channel, AppKey: c.App.Key, RequestID: r.RequestID,
			OperatorID: r.OperatorID, OperatorName: r.OperatorName, Reason: r.Reason}
		var f ledger.Flow
		if r.Type == ledger.DeductReverse {
			f, err = b.ReverseSpend(requested, info)
		} else {
			f, err = b.Clawback(requested, info)
		}
		if isBusiness(err) {
			// Another server may have committed this very refund while
			// this one waited for the account's lock, leaving nothing to
			// reverse: where the database reads committed rows per
			// statement, look again now that the lock is held, so the
			// refund is replayed rather than refused.
			if o, done, err := s.priorReversal(ctx, tx, res.Brand.ID, r, requested); done {
				return o, err
			}
		}
		if err != nil {
			return Outcome{}, err
		}
		ch := b.Changes()
		ch.Reversal.Requested = requested
		if err := tx.Apply(ctx, ch); err != nil {
			return Outcome{}, err
		}
		return Outcome{Result: f.ID, FlowID: f.ID}, nil
	})
}

// priorReversal answers a refund whose reverse_order_id is already stored:
// the same refund is replayed, another one is a conflict. done is false
// when there is none.
func (s *Service) priorReversal(ctx context.Context, tx Tx, brandID string, r ReverseRequest, requested int64) (Outcome, bool, error) {
	prev, err := tx.Reversal(ctx, brandID, r.ReverseOrderID)
	switch {
	case err == nil:
		if prev.OutBizID == r.OutBizID && prev.Requested == requested && prev.Type == r.Type &&
			(r.CustomerID == "" || strings.TrimSpace(r.CustomerID) == prev.CustomerID) {
			return Outcome{Result: prev.FlowID, FlowID: prev.FlowID, Replayed: true}, true, nil
		}
		return Outcome{}, true, ledger.Business(ledger.CodeReverseOrderConflict, "退单号已用于其他退款",
			"reverse_order_id %s was already used for order %s of customer %s (%d points asked, %d reversed)",
			r.ReverseOrderID, prev.OutBizID, prev.CustomerID, prev.Requested, prev.Amount)
	case errors.Is(err, ErrNotFound):
		return Outcome{}, false, nil
	default:
		return Outcome{}, true, err
	}
}

// orderCustomer finds whose position in the order a reversal acts on
// (rule §5.1–§5.2).
func (s *Service) orderCustomer(ctx context.Context, tx Tx, brandID string, r ReverseRequest) (string, error) {
	orders, err := tx.Orders(ctx, brandID, r.OutBizID)
	if err != nil {
		return "", err
	}
	var who []string
	for _, o := range orders {
		if (r.Type == ledger.DeductReverse && o.Spent > 0) || (r.Type == ledger.ExtraChargeReverse && o.Granted > 0) {
			who = append(who, o.CustomerID)
		}
	}
	if len(who) == 0 {
		if r.Type == ledger.DeductReverse {
			return "", ledger.Business(ledger.CodeConsumeOrderNotFound, "未找到该订单的积分消费",
				"no points were spent for order %s", r.OutBizID)
		}
		return "", ledger.Business(ledger.CodeChargeOrderNotFound, "未找到该订单的积分发放",
			"no points were granted for order %s", r.OutBizID)
	}
	if r.CustomerID != "" {
		for _, id := range who {
			if id == r.CustomerID {
				return id, nil
			}
		}
		return "", ledger.Invalidf("customer_id", "顾客 %s 不是订单 %s 的顾客", r.CustomerID, r.OutBizID)
	}
	if len(who) > 1 {
		return "", ledger.Invalidf("customer_id", "订单 %s 涉及多位顾客, customer_id 不可为空", r.OutBizID)
	}
	return who[0], nil
}
