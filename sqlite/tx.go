package sqlite

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// Tx is one write's view of the write transaction. The write connection
// is exclusive to the writer, so every read here sees the latest state,
// including what earlier writes of the same batch wrote, and nothing can
// change it before the commit.
//
// A Tx is valid only during the fn it was given to, on fn's goroutine.
// Its methods ignore ctx cancellation: see Write.
type Tx struct {
	w    *writer
	done bool
}

var errTxDone = errors.New("sqlite: Tx used after its write returned")

func (t *Tx) check() error {
	if t.done {
		return errTxDone
	}
	return nil
}

// Idempotency returns the brand's record of (appKey, requestID);
// ErrNotFound if none.
func (t *Tx) Idempotency(ctx context.Context, brandID, appKey, requestID string) (ledger.Idempotency, error) {
	if err := t.check(); err != nil {
		return ledger.Idempotency{}, err
	}
	r, ok, err := one(ctx, t.w, scanIdem, "SELECT "+idemCols+
		" FROM idempotency WHERE brand_id = +? AND app_key = +? AND request_id = +?", brandID, appKey, requestID)
	if err != nil {
		return r, fmt.Errorf("sqlite: idempotency %s/%s: %w", appKey, requestID, err)
	}
	if !ok {
		return r, notFound("idempotency %s/%s", appKey, requestID)
	}
	return r, nil
}

// PutIdempotency stores a new record. A record already stored under the
// key is a conflict: it appeared after this write looked.
func (t *Tx) PutIdempotency(ctx context.Context, rec ledger.Idempotency) error {
	if err := t.check(); err != nil {
		return err
	}
	_, err := t.w.exec("INSERT INTO idempotency ("+idemCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		rec.BrandID, rec.AppKey, rec.RequestID, rec.Method, rec.Fingerprint, rec.FlowID, rec.Result, micros(rec.CreatedAt))
	return insertErr(err, "idempotency %s/%s", rec.AppKey, rec.RequestID)
}

// Reversal returns the refund named reverseOrderID; ErrNotFound if none.
func (t *Tx) Reversal(ctx context.Context, brandID, reverseOrderID string) (ledger.Reversal, error) {
	if err := t.check(); err != nil {
		return ledger.Reversal{}, err
	}
	r, ok, err := one(ctx, t.w, scanReversal, "SELECT "+reversalCols+
		" FROM reversals WHERE brand_id = +? AND reverse_order_id = +?", brandID, reverseOrderID)
	if err != nil {
		return r, fmt.Errorf("sqlite: reversal %s/%s: %w", brandID, reverseOrderID, err)
	}
	if !ok {
		return r, notFound("reversal %s/%s", brandID, reverseOrderID)
	}
	return r, nil
}

// Orders lists every customer's position in the order, by customer.
func (t *Tx) Orders(ctx context.Context, brandID, outBizID string) ([]ledger.Order, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	os, err := all(ctx, t.w, scanOrder, "SELECT "+orderCols+
		" FROM orders WHERE brand_id = +? AND out_biz_id = +? ORDER BY customer_id", brandID, outBizID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: order %s/%s: %w", brandID, outBizID, err)
	}
	return os, nil
}

// Account returns the account; a missing one has Exists false, its key
// set and zero values.
func (t *Tx) Account(ctx context.Context, brandID, customerID string) (ledger.Account, error) {
	if err := t.check(); err != nil {
		return ledger.Account{}, err
	}
	a, ok, err := loadAccount(ctx, t.w, brandID, customerID)
	if err != nil {
		return a, err
	}
	if !ok {
		return ledger.Account{BrandID: brandID, CustomerID: customerID}, nil
	}
	return a, nil
}

// LiveLots are the account's lots with points remaining, by creation.
func (t *Tx) LiveLots(ctx context.Context, brandID, customerID string) ([]ledger.Lot, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	return loadLiveLots(ctx, t.w, brandID, customerID)
}

// LotsToSpend reads the account's live lots in spend order, stopping at
// the first lot not expired at now once the lots read hold need points
// (see points.Tx). The index lots_spend serves that order, so a member's
// other lots are never read.
func (t *Tx) LotsToSpend(ctx context.Context, brandID, customerID string, need int64, now time.Time) ([]ledger.Lot, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var lots []ledger.Lot
	var have int64
	err := each(ctx, t.w, scanLot, func(l ledger.Lot) error {
		expired := l.Expired(now)
		if !expired && have >= need {
			return errEnough
		}
		lots = append(lots, l)
		if !expired {
			have += l.Remaining
		}
		return nil
	}, sqlLotsToSpend, brandID, customerID)
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("sqlite: lots to spend of %s/%s: %w", brandID, customerID, err)
	}
	slices.SortFunc(lots, func(a, b ledger.Lot) int { return cmp.Compare(a.Seq, b.Seq) })
	return lots, nil
}

// errEnough ends a scan that has read what it needs.
var errEnough = errors.New("sqlite: enough rows")

// sqlLotsToSpend lists live lots in the ledger's spend order (earliest
// expiry first, never-expiring last, then by creation).
const sqlLotsToSpend = "SELECT " + lotCols + ` FROM lots INDEXED BY lots_spend
	WHERE brand_id = +? AND customer_id = +? AND remaining > 0 ORDER BY expires_at = 0, expires_at, seq`

// Lots returns the lots with ids (each once), by account and creation.
// An id that names no lot is ErrNotFound: callers ask for lots that
// allocations refer to, which must exist.
func (t *Tx) Lots(ctx context.Context, ids []string) ([]ledger.Lot, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(ids))
	lots := make([]ledger.Lot, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		l, ok, err := one(ctx, t.w, scanLot, "SELECT "+lotCols+" FROM lots WHERE lot_id = +?", id)
		if err != nil {
			return nil, fmt.Errorf("sqlite: lot %q: %w", id, err)
		}
		if !ok {
			return nil, notFound("lot %q", id)
		}
		lots = append(lots, l)
	}
	sort.Slice(lots, func(i, j int) bool {
		a, b := lots[i], lots[j]
		if a.BrandID != b.BrandID {
			return a.BrandID < b.BrandID
		}
		if a.CustomerID != b.CustomerID {
			return a.CustomerID < b.CustomerID
		}
		return a.Seq < b.Seq
	})
	return lots, nil
}

// OrderAllocations are the account's allocations under orderRef, in
// writing order.
func (t *Tx) OrderAllocations(ctx context.Context, brandID, customerID, orderRef string) ([]ledger.Allocation, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	as, err := all(ctx, t.w, scanAlloc, "SELECT "+allocCols+
		" FROM allocations WHERE brand_id = +? AND customer_id = +? AND order_ref = +? ORDER BY seq",
		brandID, customerID, orderRef)
	if err != nil {
		return nil, fmt.Errorf("sqlite: allocations of %s/%s order %q: %w", brandID, customerID, orderRef, err)
	}
	return as, nil
}

// Hold returns the hold of an order; a missing one has Exists false and
// its key set.
func (t *Tx) Hold(ctx context.Context, brandID, outerOrderID string) (ledger.Hold, error) {
	if err := t.check(); err != nil {
		return ledger.Hold{}, err
	}
	h, ok, err := one(ctx, t.w, scanHold, "SELECT "+holdCols+
		" FROM holds WHERE brand_id = +? AND outer_order_id = +?", brandID, outerOrderID)
	if err != nil {
		return h, fmt.Errorf("sqlite: hold %s/%s: %w", brandID, outerOrderID, err)
	}
	if !ok {
		return ledger.Hold{BrandID: brandID, OuterOrderID: outerOrderID}, nil
	}
	return h, nil
}

// Statements of Apply, prepared once on the write connection.
const (
	sqlInsertAccount = "INSERT INTO accounts (" + accountCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
	sqlUpdateAccount = `UPDATE accounts SET available = ?, frozen = ?, debt = ?, total_earned = ?, total_used = ?,
		total_expired = ?, seq = ?, last_hash = ?, lot_seq = ?, alloc_seq = ?, version = version + 1
		WHERE brand_id = +? AND customer_id = +? AND version = +?`
	sqlInsertLot  = "INSERT INTO lots (" + lotCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	sqlUpdateLot  = "UPDATE lots SET remaining = ?, expires_at = ? WHERE lot_id = ? AND remaining = ?"
	sqlInsertFlow = "INSERT INTO flows (" + flowCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, " +
		"?, ?, ?, ?, ?, ?, ?, ?)"
	sqlInsertAlloc = "INSERT INTO allocations (" + allocCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	sqlInsertOrder = "INSERT INTO orders (" + orderCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
	sqlUpdateOrder = `UPDATE orders SET spent = ?, reversed = ?, granted = ?, clawed_back = ?, version = version + 1
		WHERE brand_id = +? AND out_biz_id = +? AND customer_id = +? AND version = +?`
	sqlInsertHold = "INSERT INTO holds (" + holdCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
	sqlUpdateHold = `UPDATE holds SET customer_id = ?, amount = ?, remaining = ?, verified = ?, status = ?,
		created_at = ?, expires_at = ?, flow_id = ?, version = version + 1
		WHERE brand_id = +? AND outer_order_id = +? AND version = +?`
	sqlInsertReversal = "INSERT INTO reversals (" + reversalCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

// ApplyChanges writes a Book's changes: the account, lots, flows, allocations,
// order, hold and reversal, in that order, numbered as the Book numbered
// them (after the account's counters). Rows that existed when read
// are updated only if they are still as read, else ErrConflict; a row the
// write read as absent and finds present is ErrConflict too. Any other
// constraint the database refuses (a lot's remaining below zero, an order
// reversing more than it spent) is an error wrapping the database's.
func (t *Tx) ApplyChanges(ctx context.Context, c ledger.Changes) error {
	if err := t.check(); err != nil {
		return err
	}
	w := t.w
	if a := c.Account; a.BrandID != "" || a.CustomerID != "" {
		if !a.Exists {
			_, err := w.exec(sqlInsertAccount, a.BrandID, a.CustomerID, a.Available, a.Frozen, a.Debt,
				a.TotalEarned, a.TotalUsed, a.TotalExpired, a.Seq, a.LastHash, a.LotSeq, a.AllocSeq)
			if err := insertErr(err, "account %s/%s", a.BrandID, a.CustomerID); err != nil {
				return err
			}
		} else {
			n, err := w.exec(sqlUpdateAccount, a.Available, a.Frozen, a.Debt, a.TotalEarned, a.TotalUsed,
				a.TotalExpired, a.Seq, a.LastHash, a.LotSeq, a.AllocSeq, a.BrandID, a.CustomerID, a.Version)
			if err := updateErr(n, err, "account %s/%s version %d", a.BrandID, a.CustomerID, a.Version); err != nil {
				return err
			}
		}
	}
	for _, l := range c.Lots {
		if l.IsNew() {
			_, err := w.exec(sqlInsertLot, l.ID, l.BrandID, l.CustomerID, l.Granted, l.Remaining, micros(l.EarnedAt),
				micros(l.ExpiresAt), l.FlowID, l.OutBizID, l.Seq)
			if err != nil {
				return fmt.Errorf("sqlite: insert lot %q: %w", l.ID, err)
			}
			continue
		}
		n, err := w.exec(sqlUpdateLot, l.Remaining, micros(l.ExpiresAt), l.ID, l.LoadedRemaining())
		if err := updateErr(n, err, "lot %q with %d remaining", l.ID, l.LoadedRemaining()); err != nil {
			return err
		}
	}
	for _, f := range c.Flows {
		_, err := w.exec(sqlInsertFlow, f.ID, f.BrandID, f.CustomerID, f.Seq, string(f.Type), f.Amount,
			f.DeltaAvailable, f.DeltaFrozen, f.DeltaDebt, f.RemainPoint, f.OutBizID, f.ReverseOrderID, f.ShopID,
			f.ShopName, f.Channel, f.AppKey, f.RequestID, f.OperatorID, f.OperatorName, f.Reason, f.RuleVersion,
			f.Policy, micros(f.CreatedAt), f.PrevHash, f.Hash)
		if err != nil {
			return fmt.Errorf("sqlite: insert flow %q: %w", f.ID, err)
		}
	}
	for _, a := range c.Allocations {
		_, err := w.exec(sqlInsertAlloc, a.FlowID, a.LotID, a.BrandID, a.CustomerID, a.OrderRef, a.Kind, a.Amount, a.Seq)
		if err != nil {
			return fmt.Errorf("sqlite: insert allocation %d of %s/%s on lot %q: %w", a.Seq, a.BrandID, a.CustomerID, a.LotID, err)
		}
	}
	if o := c.Order; o != nil {
		if !o.Exists {
			_, err := w.exec(sqlInsertOrder, o.BrandID, o.OutBizID, o.CustomerID, o.Spent, o.Reversed, o.Granted, o.ClawedBack)
			if err := insertErr(err, "order %s/%s of %s", o.BrandID, o.OutBizID, o.CustomerID); err != nil {
				return err
			}
		} else {
			n, err := w.exec(sqlUpdateOrder, o.Spent, o.Reversed, o.Granted, o.ClawedBack,
				o.BrandID, o.OutBizID, o.CustomerID, o.Version)
			if err := updateErr(n, err, "order %s/%s of %s version %d", o.BrandID, o.OutBizID, o.CustomerID, o.Version); err != nil {
				return err
			}
		}
	}
	if h := c.Hold; h != nil {
		if !h.Exists {
			_, err := w.exec(sqlInsertHold, h.BrandID, h.OuterOrderID, h.CustomerID, h.Amount, h.Remaining, h.Verified,
				h.Status, micros(h.CreatedAt), micros(h.ExpiresAt), h.FlowID)
			if err := insertErr(err, "hold %s/%s", h.BrandID, h.OuterOrderID); err != nil {
				return err
			}
		} else {
			n, err := w.exec(sqlUpdateHold, h.CustomerID, h.Amount, h.Remaining, h.Verified, h.Status,
				micros(h.CreatedAt), micros(h.ExpiresAt), h.FlowID, h.BrandID, h.OuterOrderID, h.Version)
			if err := updateErr(n, err, "hold %s/%s version %d", h.BrandID, h.OuterOrderID, h.Version); err != nil {
				return err
			}
		}
	}
	if r := c.Reversal; r != nil {
		_, err := w.exec(sqlInsertReversal, r.BrandID, r.ReverseOrderID, r.OutBizID, r.CustomerID, string(r.Type),
			r.Requested, r.Amount, r.FlowID, micros(r.CreatedAt))
		if err := insertErr(err, "reversal %s/%s", r.BrandID, r.ReverseOrderID); err != nil {
			return err
		}
	}
	return nil
}

// insertErr describes a failed INSERT of a row the write read as absent:
// finding it present means another write created it since, ErrConflict.
func insertErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	if isUnique(err) {
		return fmt.Errorf("sqlite: insert %s: %w (%w)", what, points.ErrConflict, err)
	}
	return fmt.Errorf("sqlite: insert %s: %w", what, err)
}

// updateErr describes a conditional UPDATE: no row matched means the row
// is no longer as read, ErrConflict.
func updateErr(n int, err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if err != nil {
		return fmt.Errorf("sqlite: update %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: update %s: %w", what, points.ErrConflict)
	}
	return nil
}

// PutApp creates or replaces an app.
func (t *Tx) PutApp(ctx context.Context, a ledger.App) error {
	if err := t.check(); err != nil {
		return err
	}
	channels, err := json.Marshal(a.Channels)
	if err != nil {
		return fmt.Errorf("sqlite: app %q channels: %w", a.Key, err)
	}
	brands, err := json.Marshal(a.Brands)
	if err != nil {
		return fmt.Errorf("sqlite: app %q brands: %w", a.Key, err)
	}
	_, err = t.w.exec(`INSERT INTO apps (`+appCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_key) DO UPDATE SET secret = excluded.secret, name = excluded.name, active = excluded.active,
		channels = excluded.channels, brands = excluded.brands, rate_limit = excluded.rate_limit`,
		a.Key, a.Secret, a.Name, a.Active, string(channels), string(brands), a.RateLimit)
	if err != nil {
		return fmt.Errorf("sqlite: put app %q: %w", a.Key, err)
	}
	return nil
}

// EndSession records an ended console session and forgets those expired.
func (t *Tx) EndSession(ctx context.Context, nonce string, until, now time.Time) error {
	if err := t.check(); err != nil {
		return err
	}
	if _, err := t.w.exec("DELETE FROM console_sessions_ended WHERE expires_at <= ?", micros(now)); err != nil {
		return fmt.Errorf("sqlite: forget ended sessions: %w", err)
	}
	if _, err := t.w.exec(`INSERT INTO console_sessions_ended (nonce, expires_at) VALUES (?, ?)
		ON CONFLICT (nonce) DO NOTHING`, nonce, micros(until)); err != nil {
		return fmt.Errorf("sqlite: end session: %w", err)
	}
	return nil
}

// PutBrand creates or replaces a brand and its external ids.
func (t *Tx) PutBrand(ctx context.Context, b ledger.Brand) error {
	if err := t.check(); err != nil {
		return err
	}
	settings, err := json.Marshal(b.Settings)
	if err != nil {
		return fmt.Errorf("sqlite: brand %q settings: %w", b.ID, err)
	}
	if _, err := t.w.exec(`INSERT INTO brands (`+brandCols+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (brand_id) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone,
		settings = excluded.settings`, b.ID, b.Name, b.TimeZone, string(settings)); err != nil {
		return fmt.Errorf("sqlite: put brand %q: %w", b.ID, err)
	}
	if _, err := t.w.exec("DELETE FROM brand_out_ids WHERE brand_id = ?", b.ID); err != nil {
		return fmt.Errorf("sqlite: put brand %q external ids: %w", b.ID, err)
	}
	for _, ch := range sortedKeys(b.OutIDs) {
		if _, err := t.w.exec("INSERT INTO brand_out_ids (channel, out_id, brand_id) VALUES (?, ?, ?)",
			ch, b.OutIDs[ch], b.ID); err != nil {
			return fmt.Errorf("sqlite: put brand %q external id %s:%s: %w", b.ID, ch, b.OutIDs[ch], err)
		}
	}
	return nil
}

// PutShop creates or replaces a shop and its external ids.
func (t *Tx) PutShop(ctx context.Context, s ledger.Shop) error {
	if err := t.check(); err != nil {
		return err
	}
	if _, err := t.w.exec(`INSERT INTO shops (`+shopCols+`) VALUES (?, ?, ?)
		ON CONFLICT (shop_id) DO UPDATE SET brand_id = excluded.brand_id, name = excluded.name`,
		s.ID, s.BrandID, s.Name); err != nil {
		return fmt.Errorf("sqlite: put shop %q: %w", s.ID, err)
	}
	if _, err := t.w.exec("DELETE FROM shop_out_ids WHERE shop_id = ?", s.ID); err != nil {
		return fmt.Errorf("sqlite: put shop %q external ids: %w", s.ID, err)
	}
	for _, ch := range sortedKeys(s.OutIDs) {
		if _, err := t.w.exec("INSERT INTO shop_out_ids (channel, out_id, shop_id) VALUES (?, ?, ?)",
			ch, s.OutIDs[ch], s.ID); err != nil {
			return fmt.Errorf("sqlite: put shop %q external id %s:%s: %w", s.ID, ch, s.OutIDs[ch], err)
		}
	}
	return nil
}

// PutCustomer creates or replaces a customer.
func (t *Tx) PutCustomer(ctx context.Context, c ledger.Customer) error {
	if err := t.check(); err != nil {
		return err
	}
	_, err := t.w.exec(`INSERT INTO customers (`+customerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (customer_id) DO UPDATE SET brand_id = excluded.brand_id, mobile = excluded.mobile,
		name = excluded.name, level_id = excluded.level_id, customer_type = excluded.customer_type,
		channel = excluded.channel, outer_type = excluded.outer_type, outer_id = excluded.outer_id,
		gender = excluded.gender, email = excluded.email, birthday = excluded.birthday,
		address = excluded.address, remark = excluded.remark, shop_id = excluded.shop_id,
		created_at = excluded.created_at`,
		c.ID, c.BrandID, c.Mobile, c.Name, c.LevelID, c.CustomerType, c.Channel, c.OuterType, c.OuterID, c.Gender,
		c.Email, c.Birthday, c.Address, c.Remark, c.ShopID, micros(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put customer %q: %w", c.ID, err)
	}
	return nil
}

// PutRule stores r as a new version of its brand's rule; r.Version must
// not be stored yet.
func (t *Tx) PutRule(ctx context.Context, r ledger.Rule) error {
	if err := t.check(); err != nil {
		return err
	}
	body, err := json.Marshal(ruleBody{Name: r.Name, Clear: r.Clear, WithCoupon: r.WithCoupon, Deduction: r.Deduction,
		Addition: r.Addition, CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy})
	if err != nil {
		return fmt.Errorf("sqlite: rule %s v%d: %w", r.BrandID, r.Version, err)
	}
	_, err = t.w.exec("INSERT INTO rules ("+ruleCols+") VALUES (?, ?, ?, ?, ?, ?)",
		r.BrandID, r.Version, r.RuleID, string(body), micros(r.CreatedAt), micros(r.UpdatedAt))
	return insertErr(err, "rule %s v%d", r.BrandID, r.Version)
}

// Customer returns the customer with id.
func (t *Tx) Customer(ctx context.Context, id string) (ledger.Customer, error) {
	if err := t.check(); err != nil {
		return ledger.Customer{}, err
	}
	return loadCustomer(ctx, t.w, id)
}

// CustomerForUpdate returns the customer with id, to be stored changed:
// the one writer runs writes one at a time, so no other write changes it
// before this one ends.
func (t *Tx) CustomerForUpdate(ctx context.Context, id string) (ledger.Customer, error) {
	return t.Customer(ctx, id)
}

// CustomerByOuterID returns the brand's earliest customer known to an
// outside system as outerType/outerID.
func (t *Tx) CustomerByOuterID(ctx context.Context, brandID, outerType, outerID string) (ledger.Customer, error) {
	if err := t.check(); err != nil {
		return ledger.Customer{}, err
	}
	return loadCustomerByOuterID(ctx, t.w, brandID, outerType, outerID)
}

// App returns the app with key.
func (t *Tx) App(ctx context.Context, key string) (ledger.App, error) {
	if err := t.check(); err != nil {
		return ledger.App{}, err
	}
	return loadApp(ctx, t.w, key)
}

// Rule is the brand's newest rule version.
func (t *Tx) Rule(ctx context.Context, brandID string) (ledger.Rule, error) {
	if err := t.check(); err != nil {
		return ledger.Rule{}, err
	}
	return loadRule(ctx, t.w, brandID)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Webhook returns the stored webhook's configuration; ErrNotFound if none.
func (t *Tx) Webhook(ctx context.Context, id string) (points.Webhook, error) {
	if err := t.check(); err != nil {
		return points.Webhook{}, err
	}
	return loadWebhook(ctx, t.w, id)
}

// PutWebhook creates or replaces a webhook's configuration. A new one
// starts after the last event committed so far: the writer is the only
// one, so that is every event before this write.
func (t *Tx) PutWebhook(ctx context.Context, w points.Webhook, now time.Time) error {
	if err := t.check(); err != nil {
		return err
	}
	brands, events, err := webhookLists(w)
	if err != nil {
		return err
	}
	var disabledAt int64
	reason := ""
	if w.Disabled {
		disabledAt, reason = micros(now), points.WebhookDisabledByOperator
	}
	if _, err := t.w.exec(sqlPutWebhook, w.ID, w.URL, w.Secret, brands, events, disabledAt, reason,
		micros(now)); err != nil {
		return fmt.Errorf("sqlite: put webhook %q: %w", w.ID, err)
	}
	return nil
}

// webhookLists are w's brands and events as the webhooks table keeps
// them (JSON).
func webhookLists(w points.Webhook) (brands, events string, err error) {
	b, err := json.Marshal(w.Brands)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: webhook %q brands: %w", w.ID, err)
	}
	e, err := json.Marshal(w.Events)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: webhook %q events: %w", w.ID, err)
	}
	return string(b), string(e), nil
}

// sqlPutWebhook is PutWebhook's upsert (the same text on both stores but
// for placeholders): disabling keeps an earlier disablement's time and
// reason; enabling clears it and, for an endpoint that was disabled, its
// failing streak.
const sqlPutWebhook = `INSERT INTO webhooks (webhook_id, url, secret, brands, events, disabled_at, disabled_reason,
		failing_since, scheduled_pos, created_at, updated_at)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, (SELECT COALESCE(MAX(pos), 0) FROM events), ?8, ?8)
	ON CONFLICT (webhook_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, brands = excluded.brands,
		events = excluded.events,
		disabled_at = CASE WHEN excluded.disabled_at = 0 THEN 0 WHEN webhooks.disabled_at <> 0 THEN webhooks.disabled_at
			ELSE excluded.disabled_at END,
		disabled_reason = CASE WHEN excluded.disabled_at = 0 THEN '' WHEN webhooks.disabled_at <> 0 THEN webhooks.disabled_reason
			ELSE excluded.disabled_reason END,
		failing_since = CASE WHEN excluded.disabled_at = 0 AND webhooks.disabled_at <> 0 THEN 0 ELSE webhooks.failing_since END,
		updated_at = excluded.updated_at`
