package points

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// CheckPoints validates a change_point that must be present. It is
// exported for the operators' side (package backoffice), whose requests
// carry points too and are refused in the same words.
func CheckPoints(n int64) error {
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
// identifier. shop_name is a flow's copy of a shop's name; invoice (an
// invoice title) and ext_info come with customer.update.
var textFields = map[string]bool{"reason": true, "operator_name": true, "name": true, "address": true, "remark": true,
	"shop_name": true, "invoice": true, "ext_info": true}

// Required refuses a blank value of field, or one CheckText refuses.
// Exported, like CheckText, so that every path into the ledger — the
// operators' side included (package backoffice) — refuses text alike.
func Required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return ledger.Invalid(field, "不可为空")
	}
	return CheckText(field, v)
}

// CheckText is the one check of a piece of text before it is looked up or
// stored: not longer than field may be, and CheckChars. field may be a
// path such as customers[0].name, whose last part says what it is.
func CheckText(field, v string) error {
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
// where a line break is ordinary. field names the value as in CheckText;
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

// check runs Required on each of req and CheckText on each of opt.
func check(req []field, opt ...field) error {
	for _, f := range req {
		if err := Required(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range opt {
		if err := CheckText(f.name, f.v); err != nil {
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

// write is one attempt of a ledger write inside a store's transaction:
// what its Lookup found, the time it decides at, and the key under which
// its answer is stored.
type write struct {
	s     *Service
	ctx   context.Context
	tx    Tx
	key   Lookup // what Lookup was asked; its absent parts are rechecked under the lock
	found Found
	now   time.Time
	// book and snap are the last account load's, for a preview.
	book *ledger.Book
	snap Snapshot
}

// errReplay ends a write whose key was stored by another write while it
// waited for the account's lock: the stored answer is replayed.
type errReplay struct{ rec ledger.Idempotency }

func (e errReplay) Error() string { return "points: request stored meanwhile: replay it" }

// idempotent runs one ledger write keyed by (app, requestID) (ledger rules
// §8), in a store's transaction: Lookup reads the key (and whatever else
// q names) without locks; a stored answer with the same fingerprint is
// replayed without running do, another fingerprint is
// IDEMPOTENCY_CONFLICT. Otherwise do decides (LoadAccount → a Book) and
// returns the changes, which are applied together with the key's record.
// A business failure is not stored, so the same request_id may be retried.
func (s *Service) idempotent(ctx context.Context, appKey, requestID, method, fp string, q Lookup,
	do func(w *write) (Outcome, ledger.Changes, error)) (Outcome, error) {
	var out Outcome
	q.AppKey, q.RequestID = appKey, requestID
	err := s.write(ctx, func(tx Tx) error {
		out = Outcome{}
		found, err := tx.Lookup(ctx, q)
		if err != nil {
			return err
		}
		if found.Idempotency != nil {
			out, err = replay(*found.Idempotency, appKey, requestID, method, fp)
			return err
		}
		now := s.Now()
		o, ch, err := do(&write{s: s, ctx: ctx, tx: tx, key: q, found: found, now: now})
		var again errReplay
		if errors.As(err, &again) {
			out, err = replay(again.rec, appKey, requestID, method, fp)
			return err
		}
		if err != nil {
			return err
		}
		out = o
		// A refund replayed by its reverse_order_id under a new request_id
		// stores that request_id too: reused for another request, it is
		// then IDEMPOTENCY_CONFLICT like any other.
		return s.apply(ctx, tx, ch, &ledger.Idempotency{BrandID: q.BrandID, AppKey: appKey, RequestID: requestID, Method: method,
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

// load locks one account and opens a Book on it, with expired lots
// written off first. q names the account and what to read; its time and
// recheck are the write's. A request stored under the write's key while
// it waited for the lock ends the write with errReplay.
func (w *write) load(brand ledger.Brand, q AccountQuery) (*ledger.Book, Snapshot, error) {
	q.BrandID, q.Now = brand.ID, w.now
	if w.found.Idempotency == nil {
		q.Recheck.AppKey, q.Recheck.RequestID = w.key.AppKey, w.key.RequestID
	}
	if w.found.Reversal == nil {
		q.Recheck.ReverseOrderID = w.key.ReverseOrderID
	}
	q.Recheck.BrandID = brand.ID
	snap, err := w.tx.LoadAccount(w.ctx, q)
	if err != nil {
		return nil, snap, err
	}
	if !snap.RuleFound {
		snap.Rule = defaultRule()
	}
	if snap.Idempotency != nil {
		return nil, snap, errReplay{*snap.Idempotency}
	}
	w.book, w.snap = openBook(brand, q, snap, w.now, w.s.NewID), snap
	return w.book, snap, nil
}

// errDryRun ends a preview's transaction: nothing it decided is written.
// It is a business outcome so that every store hands it back unchanged,
// without retrying or wrapping it; it never leaves the service.
var errDryRun = ledger.Business("DRY_RUN", "预览", "dry run: nothing is written")

// dryRun runs do as a write would, over the same reads, and writes
// nothing: the preview of an operator's action is its own decision, not a
// copy of it. It ignores the idempotency key (a preview has none).
func (s *Service) dryRun(ctx context.Context, q Lookup, do func(w *write) (Outcome, ledger.Changes, error)) (*write, Outcome, ledger.Changes, error) {
	var (
		w   *write
		out Outcome
		ch  ledger.Changes
	)
	q.AppKey, q.RequestID = "", ""
	err := s.store.Write(ctx, func(tx Tx) error {
		found, err := tx.Lookup(ctx, q)
		if err != nil {
			return err
		}
		w = &write{s: s, ctx: ctx, tx: tx, key: q, found: found, now: s.Now()}
		if out, ch, err = do(w); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return w, out, ch, err
}

// openBook is the Book over a snapshot (its rule set: see load), the
// decision's whole input.
func openBook(brand ledger.Brand, q AccountQuery, snap Snapshot, now time.Time, newID func() string) *ledger.Book {
	st := ledger.State{Brand: brand, Rule: snap.Rule, Account: snap.Account, Lots: snap.Lots, Allocs: snap.Allocs, Hold: snap.Hold}
	if !st.Account.Exists {
		st.Account = ledger.Account{BrandID: brand.ID, CustomerID: q.CustomerID}
	}
	if q.OrderRef != "" {
		st.Order = snap.Order
		if !st.Order.Exists {
			st.Order = ledger.Order{BrandID: brand.ID, OutBizID: q.OrderRef, CustomerID: q.CustomerID}
		}
	}
	if q.Hold && !st.Hold.Exists {
		st.Hold = ledger.Hold{BrandID: brand.ID, OuterOrderID: q.OrderRef}
	}
	b := ledger.NewBook(st, now, newID)
	b.ExpireDue()
	return b
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
	return CheckPoints(r.Points)
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
	cust, err := s.CustomerOf(ctx, res.Brand, r.CustomerID)
	if err != nil {
		return Outcome{}, err
	}
	return s.idempotent(ctx, c.App.Key, r.RequestID, method, fingerprint(method, r), Lookup{BrandID: res.Brand.ID},
		func(w *write) (Outcome, ledger.Changes, error) {
			q := AccountQuery{CustomerID: cust.ID, OrderRef: r.OutBizID, Need: r.Points} // a spend takes this much in spend order
			switch t {
			case ledger.ExtraCharge:
				q.Need = 0 // a grant makes its own lot
			case ledger.DeductFromConsume:
				// The member's level as stored now, not as cached: the
				// deduction rule is decided per level.
				q.Customer = true
			}
			b, snap, err := w.load(res.Brand, q)
			if err != nil {
				return Outcome{}, ledger.Changes{}, err
			}
			var f ledger.Flow
			switch t {
			case ledger.ExtraCharge:
				f = b.Grant(t, r.Points, r.info(c, res))
			case ledger.DeductFromConsume:
				if err := snap.Rule.CheckDeduction(snap.Customer.LevelID, r.Points, b.Account().Available); err != nil {
					return Outcome{}, ledger.Changes{}, err
				}
				fallthrough
			default:
				if f, err = b.Spend(t, r.Points, r.info(c, res)); err != nil {
					return Outcome{}, ledger.Changes{}, err
				}
			}
			return Outcome{Result: f.ID, FlowID: f.ID}, b.Changes(), nil
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
		return CheckPoints(*r.Points)
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
		if _, err := s.CustomerOf(ctx, res.Brand, r.CustomerID); err != nil {
			return Outcome{}, err
		}
	}
	method := "reverse"
	return s.idempotent(ctx, c.App.Key, r.RequestID, method, fingerprint(method, r), r.lookup(res.Brand.ID), reversal(c, res, r))
}

// lookup is what a reversal reads before it locks anything.
func (r ReverseRequest) lookup(brandID string) Lookup {
	return Lookup{BrandID: brandID, ReverseOrderID: r.ReverseOrderID, OutBizID: r.OutBizID}
}

// reversal is the decision of a refund or claw-back, shared by the write
// and the operators' preview.
func reversal(c Caller, res Resolved, r ReverseRequest) func(w *write) (Outcome, ledger.Changes, error) {
	var requested int64
	if r.Points != nil {
		requested = *r.Points
	}
	return func(w *write) (Outcome, ledger.Changes, error) {
		// A refund is named by its reverse_order_id (rule §5.3).
		if o, done, err := priorReversal(w.found.Reversal, r, requested); done {
			return o, ledger.Changes{}, err
		}
		custID, err := orderCustomer(w.found.Orders, r.Type, r.CustomerID, r.OutBizID)
		if err != nil {
			return Outcome{}, ledger.Changes{}, err
		}
		// A refund puts points back into the lots the order took them
		// from (loaded with its allocations). A claw-back takes from the
		// lot the order granted first, which no allocation names, then
		// from the member's other lots: it loads every live lot.
		aq := AccountQuery{CustomerID: custID, OrderRef: r.OutBizID}
		if r.Type == ledger.ExtraChargeReverse {
			aq.Need = AllLots
		}
		b, snap, err := w.load(res.Brand, aq)
		if err != nil {
			return Outcome{}, ledger.Changes{}, err
		}
		// Another server may have committed this very refund while this
		// one waited for the account's lock: it is replayed, not done again.
		if o, done, err := priorReversal(snap.Reversal, r, requested); done {
			return o, ledger.Changes{}, err
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
		if err != nil {
			return Outcome{}, ledger.Changes{}, err
		}
		ch := b.Changes()
		ch.Reversal.Requested = requested
		return Outcome{Result: f.ID, FlowID: f.ID}, ch, nil
	}
}

// priorReversal answers a refund whose reverse_order_id is already stored
// (prev; nil for none): the same refund is replayed, another one is a
// conflict. done is false when there is none.
func priorReversal(prev *ledger.Reversal, r ReverseRequest, requested int64) (Outcome, bool, error) {
	if prev == nil {
		return Outcome{}, false, nil
	}
	if prev.OutBizID == r.OutBizID && prev.Requested == requested && prev.Type == r.Type &&
		(r.CustomerID == "" || strings.TrimSpace(r.CustomerID) == prev.CustomerID) {
		return Outcome{Result: prev.FlowID, FlowID: prev.FlowID, Replayed: true}, true, nil
	}
	return Outcome{}, true, ledger.Business(ledger.CodeReverseOrderConflict, "退单号已用于其他退款",
		"reverse_order_id %s was already used for order %s of customer %s (%d points asked, %d reversed)",
		r.ReverseOrderID, prev.OutBizID, prev.CustomerID, prev.Requested, prev.Amount)
}

// orderCustomer finds whose position in the order a reversal of type typ
// acts on (rule §5.1–§5.2), from every customer's position in it.
func orderCustomer(orders []ledger.Order, typ ledger.FlowType, customerID, outBizID string) (string, error) {
	var who []string
	for _, o := range orders {
		if (typ == ledger.DeductReverse && o.Spent > 0) || (typ == ledger.ExtraChargeReverse && o.Granted > 0) {
			who = append(who, o.CustomerID)
		}
	}
	if len(who) == 0 {
		if typ == ledger.DeductReverse {
			return "", ledger.Business(ledger.CodeConsumeOrderNotFound, "未找到该订单的积分消费",
				"no points were spent for order %s", outBizID)
		}
		return "", ledger.Business(ledger.CodeChargeOrderNotFound, "未找到该订单的积分发放",
			"no points were granted for order %s", outBizID)
	}
	if customerID != "" {
		for _, id := range who {
			if id == customerID {
				return id, nil
			}
		}
		return "", ledger.Invalidf("customer_id", "顾客 %s 不是订单 %s 的顾客", customerID, outBizID)
	}
	if len(who) > 1 {
		return "", ledger.Invalidf("customer_id", "订单 %s 涉及多位顾客, customer_id 不可为空", outBizID)
	}
	return who[0], nil
}
