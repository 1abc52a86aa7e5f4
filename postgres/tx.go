package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/ledger"
	"jifen/points"
	"jifen/webhook"
)

// Idempotency returns the record of (appKey, requestID); ErrNotFound if
// none. The read does not lock: a concurrent duplicate is caught by the
// primary key when this write stores its own record.
func (t *Tx) Idempotency(ctx context.Context, brandID, appKey, requestID string) (ledger.Idempotency, error) {
	var rec ledger.Idempotency
	var found bool
	if err := t.send(ctx, idemQuery(brandID, appKey, requestID, &rec, &found)); err != nil {
		return rec, err
	}
	if !found {
		t.absent = &[3]string{brandID, appKey, requestID}
		return rec, notFound("idempotency %s/%s", appKey, requestID)
	}
	return rec, nil
}

// PutIdempotency stores a new record. It is sent with the commit: a
// record stored under the key meanwhile fails the commit with a conflict,
// and the write runs again to replay it.
func (t *Tx) PutIdempotency(ctx context.Context, rec ledger.Idempotency) error {
	return t.queue(putIdemQuery(rec))
}

func putIdemQuery(rec ledger.Idempotency) *pgx.QueuedQuery {
	return execQuery(insertFailed("idempotency %s/%s/%s", rec.BrandID, rec.AppKey, rec.RequestID), nil,
		"INSERT INTO idempotency ("+idemCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		rec.BrandID, rec.AppKey, rec.RequestID, rec.Method, rec.Fingerprint, rec.FlowID, rec.Result, micros(rec.CreatedAt))
}

// Reversal returns the refund named reverseOrderID; ErrNotFound if none.
func (t *Tx) Reversal(ctx context.Context, brandID, reverseOrderID string) (ledger.Reversal, error) {
	var rv ledger.Reversal
	var found bool
	err := t.send(ctx, one(d("reversal %s/%s", brandID, reverseOrderID), &rv, &found, scanReversal,
		"SELECT "+reversalCols+" FROM reversals WHERE brand_id = $1 AND reverse_order_id = $2", brandID, reverseOrderID))
	if err != nil {
		return rv, err
	}
	if !found {
		return rv, notFound("reversal %s/%s", brandID, reverseOrderID)
	}
	return rv, nil
}

// Orders lists every customer's position in the order, by customer.
func (t *Tx) Orders(ctx context.Context, brandID, outBizID string) ([]ledger.Order, error) {
	var os []ledger.Order
	err := t.send(ctx, all(d("order %s/%s", brandID, outBizID), &os, scanOrder,
		"SELECT "+orderCols+" FROM orders WHERE brand_id = $1 AND out_biz_id = $2 ORDER BY customer_id", brandID, outBizID))
	return os, err
}

// Account reads and locks the account; a missing one has Exists false,
// its key set and zero values (and is not locked: see Write). The ledger's
// writes lock it through LoadAccount; this and the reads below serve the
// tests that build a write from parts.
func (t *Tx) Account(ctx context.Context, brandID, customerID string) (ledger.Account, error) {
	var a ledger.Account
	var found bool
	err := t.send(ctx, one(d("lock account %s/%s", brandID, customerID), &a, &found, scanAccount,
		"SELECT "+accountCols+" FROM accounts WHERE brand_id = $1 AND customer_id = $2 FOR UPDATE", brandID, customerID))
	if err != nil || !found {
		return ledger.Account{BrandID: brandID, CustomerID: customerID}, err
	}
	return a, nil
}

// idemAppeared queues a check whether the idempotency key read as absent
// is present now.
func (t *Tx) idemAppeared(dup *bool) *pgx.QueuedQuery {
	return exists(d("recheck idempotency"), dup,
		"SELECT 1 FROM idempotency WHERE brand_id = $1 AND app_key = $2 AND request_id = $3", t.absent[0], t.absent[1], t.absent[2])
}

// LiveLots are the account's lots with points remaining, by creation.
func (t *Tx) LiveLots(ctx context.Context, brandID, customerID string) ([]ledger.Lot, error) {
	var lots []ledger.Lot
	err := t.send(ctx, liveLotsQuery(brandID, customerID, &lots))
	return lots, err
}

// LotsToSpend is LiveLots cut to what an operation taking need points at
// now touches (ledger.LotsToSpend).
func (t *Tx) LotsToSpend(ctx context.Context, brandID, customerID string, need int64, now time.Time) ([]ledger.Lot, error) {
	live, err := t.LiveLots(ctx, brandID, customerID)
	if err != nil {
		return nil, err
	}
	return ledger.LotsToSpend(live, need, now), nil
}

// Lots returns the lots with ids (each once), by account and creation.
// An id that names no lot is ErrNotFound: callers ask for lots that
// allocations refer to, which must exist.
func (t *Tx) Lots(ctx context.Context, ids []string) ([]ledger.Lot, error) {
	seen := make(map[string]bool, len(ids))
	uniq := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	var lots []ledger.Lot
	if len(uniq) == 0 {
		return lots, nil
	}
	if err := t.send(ctx, all(d("lots"), &lots, scanLot, "SELECT "+lotCols+
		" FROM lots WHERE lot_id = ANY($1) ORDER BY brand_id, customer_id, seq", uniq)); err != nil {
		return nil, err
	}
	if len(lots) != len(uniq) {
		got := make(map[string]bool, len(lots))
		for _, l := range lots {
			got[l.ID] = true
		}
		for _, id := range uniq {
			if !got[id] {
				return nil, notFound("lot %q", id)
			}
		}
	}
	return lots, nil
}

// OrderAllocations are the account's allocations under orderRef, in
// writing order.
func (t *Tx) OrderAllocations(ctx context.Context, brandID, customerID, orderRef string) ([]ledger.Allocation, error) {
	var as []ledger.Allocation
	err := t.send(ctx, orderAllocsQuery([3]string{brandID, customerID, orderRef}, &as))
	return as, err
}

// orderAllocsQuery reads the allocations of account key[0]/key[1] under
// order key[2].
func orderAllocsQuery(key [3]string, dst *[]ledger.Allocation) *pgx.QueuedQuery {
	return all(d("allocations of %s/%s order %q", key[0], key[1], key[2]), dst, scanAlloc,
		"SELECT "+allocCols+" FROM allocations WHERE brand_id = $1 AND customer_id = $2 AND order_ref = $3 ORDER BY seq",
		key[0], key[1], key[2])
}

// Hold reads and locks the hold of an order; a missing one has Exists
// false and its key set.
func (t *Tx) Hold(ctx context.Context, brandID, outerOrderID string) (ledger.Hold, error) {
	var h ledger.Hold
	var found bool
	err := t.send(ctx, one(d("lock hold %s/%s", brandID, outerOrderID), &h, &found, scanHold,
		"SELECT "+holdCols+" FROM holds WHERE brand_id = $1 AND outer_order_id = $2 FOR UPDATE", brandID, outerOrderID))
	if err != nil {
		return h, err
	}
	if !found {
		return ledger.Hold{BrandID: brandID, OuterOrderID: outerOrderID}, nil
	}
	return h, nil
}

// Statements of Apply.
const (
	sqlInsertAccount = "INSERT INTO accounts (" + accountCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1)"
	sqlUpdateAccount = `UPDATE accounts SET available = $1, frozen = $2, debt = $3, total_earned = $4, total_used = $5,
		total_expired = $6, seq = $7, last_hash = $8, lot_seq = $9, alloc_seq = $10, version = version + 1
		WHERE brand_id = $11 AND customer_id = $12 AND version = $13`
	sqlInsertLot  = "INSERT INTO lots (" + lotCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	sqlUpdateLot  = "UPDATE lots SET remaining = $1, expires_at = $2 WHERE brand_id = $3 AND lot_id = $4 AND remaining = $5"
	sqlInsertFlow = "INSERT INTO flows (" + flowCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
		$13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`
	sqlInsertAlloc = "INSERT INTO allocations (" + allocCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	sqlInsertOrder = "INSERT INTO orders (" + orderCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, 1)"
	sqlUpdateOrder = `UPDATE orders SET spent = $1, reversed = $2, granted = $3, clawed_back = $4, version = version + 1
		WHERE brand_id = $5 AND out_biz_id = $6 AND customer_id = $7 AND version = $8`
	sqlInsertHold = "INSERT INTO holds (" + holdCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)"
	sqlUpdateHold = `UPDATE holds SET customer_id = $1, amount = $2, remaining = $3, verified = $4, status = $5,
		created_at = $6, expires_at = $7, flow_id = $8, version = version + 1
		WHERE brand_id = $9 AND outer_order_id = $10 AND version = $11`
	sqlInsertReversal = "INSERT INTO reversals (" + reversalCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)

// ApplyChanges writes a Book's changes — the account, lots, flows,
// allocations, order, hold and reversal, in that order — as one batch of
// statements in one round trip, and reads their answers. Rows that existed
// when read are updated only if they are still as read, else ErrConflict;
// a row the write read as absent and finds present (a unique violation)
// is ErrConflict too. Any other constraint the database refuses (a lot's
// remaining below zero, an order reversing more than it spent) is an
// error wrapping the database's, and the transaction can only be rolled
// back. (Apply queues the same statements for the commit instead.)
func (t *Tx) ApplyChanges(ctx context.Context, c ledger.Changes) error {
	qs := applyQueries(c, false)
	if len(qs) == 0 {
		return nil
	}
	return t.send(ctx, qs...)
}

// applyQueries are the statements that write c. Guarded, a conditional
// update that matches no row fails its statement (see guarded); else the
// client checks the rows it changed.
func applyQueries(c ledger.Changes, guard bool) []*pgx.QueuedQuery {
	var qs []*pgx.QueuedQuery
	update := func(describe string, args []any, sql string, vals ...any) {
		if guard {
			qs = append(qs, execQuery(conflictGuard(describe, args...), nil, guarded(sql), vals...))
			return
		}
		qs = append(qs, execQuery(failedTo(describe, args...), changedOne, sql, vals...))
	}
	if a := c.Account; a.BrandID != "" || a.CustomerID != "" {
		if !a.Exists {
			qs = append(qs, execQuery(insertFailed("account %s/%s", a.BrandID, a.CustomerID), nil, sqlInsertAccount,
				a.BrandID, a.CustomerID, a.Available, a.Frozen, a.Debt, a.TotalEarned, a.TotalUsed, a.TotalExpired,
				a.Seq, a.LastHash, a.LotSeq, a.AllocSeq))
		} else {
			update("update account %s/%s version %d", []any{a.BrandID, a.CustomerID, a.Version},
				sqlUpdateAccount, a.Available, a.Frozen, a.Debt, a.TotalEarned, a.TotalUsed,
				a.TotalExpired, a.Seq, a.LastHash, a.LotSeq, a.AllocSeq, a.BrandID, a.CustomerID, a.Version)
		}
	}
	for _, l := range c.Lots {
		if l.IsNew() {
			qs = append(qs, execQuery(insertFailed("lot %q", l.ID), nil, sqlInsertLot, l.ID, l.BrandID, l.CustomerID,
				l.Granted, l.Remaining, micros(l.EarnedAt), micros(l.ExpiresAt), l.FlowID, l.OutBizID, l.Seq))
			continue
		}
		update("update lot %q with %d remaining", []any{l.ID, l.LoadedRemaining()},
			sqlUpdateLot, l.Remaining, micros(l.ExpiresAt), l.BrandID, l.ID, l.LoadedRemaining())
	}
	for _, f := range c.Flows {
		qs = append(qs, execQuery(failedTo("insert flow %q", f.ID), nil, sqlInsertFlow, f.ID, f.BrandID, f.CustomerID,
			f.Seq, string(f.Type), f.Amount, f.DeltaAvailable, f.DeltaFrozen, f.DeltaDebt, f.RemainPoint, f.OutBizID,
			f.ReverseOrderID, f.ShopID, f.ShopName, f.Channel, f.AppKey, f.RequestID, f.OperatorID, f.OperatorName,
			f.Reason, f.RuleVersion, f.Policy, micros(f.CreatedAt), f.PrevHash, f.Hash))
	}
	for _, a := range c.Allocations {
		qs = append(qs, execQuery(failedTo("insert allocation of %s/%s on lot %q", a.BrandID, a.CustomerID, a.LotID), nil,
			sqlInsertAlloc, a.FlowID, a.LotID, a.BrandID, a.CustomerID, a.OrderRef, a.Kind, a.Amount, a.Seq))
	}
	if o := c.Order; o != nil {
		if !o.Exists {
			qs = append(qs, execQuery(insertFailed("order %s/%s of %s", o.BrandID, o.OutBizID, o.CustomerID), nil,
				sqlInsertOrder, o.BrandID, o.OutBizID, o.CustomerID, o.Spent, o.Reversed, o.Granted, o.ClawedBack))
		} else {
			update("update order %s/%s of %s version %d", []any{o.BrandID, o.OutBizID, o.CustomerID, o.Version},
				sqlUpdateOrder, o.Spent, o.Reversed, o.Granted, o.ClawedBack, o.BrandID, o.OutBizID, o.CustomerID, o.Version)
		}
	}
	if h := c.Hold; h != nil {
		if !h.Exists {
			qs = append(qs, execQuery(insertFailed("hold %s/%s", h.BrandID, h.OuterOrderID), nil, sqlInsertHold,
				h.BrandID, h.OuterOrderID, h.CustomerID, h.Amount, h.Remaining, h.Verified, h.Status,
				micros(h.CreatedAt), micros(h.ExpiresAt), h.FlowID))
		} else {
			update("update hold %s/%s version %d", []any{h.BrandID, h.OuterOrderID, h.Version},
				sqlUpdateHold, h.CustomerID, h.Amount, h.Remaining, h.Verified, h.Status,
				micros(h.CreatedAt), micros(h.ExpiresAt), h.FlowID, h.BrandID, h.OuterOrderID, h.Version)
		}
	}
	if r := c.Reversal; r != nil {
		qs = append(qs, execQuery(insertFailed("reversal %s/%s", r.BrandID, r.ReverseOrderID), nil, sqlInsertReversal,
			r.BrandID, r.ReverseOrderID, r.OutBizID, r.CustomerID, string(r.Type), r.Requested, r.Amount, r.FlowID,
			micros(r.CreatedAt)))
	}
	return qs
}

// PutApp creates or replaces an app. Like every Put, it is sent with the
// write's next statement.
func (t *Tx) PutApp(ctx context.Context, a ledger.App) error {
	channels, err := jsonList(a.Channels)
	if err != nil {
		return fmt.Errorf("postgres: app %q channels: %w", a.Key, err)
	}
	brands, err := jsonList(a.Brands)
	if err != nil {
		return fmt.Errorf("postgres: app %q brands: %w", a.Key, err)
	}
	return t.queue(execQuery(failedTo("put app %q", a.Key), nil, `INSERT INTO apps (`+appCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (app_key) DO UPDATE SET secret = excluded.secret, name = excluded.name, active = excluded.active,
		channels = excluded.channels, brands = excluded.brands, rate_limit = excluded.rate_limit`,
		a.Key, a.Secret, a.Name, a.Active, channels, brands, a.RateLimit))
}

// EndSession records an ended console session and forgets those expired.
func (t *Tx) EndSession(ctx context.Context, nonce string, until, now time.Time) error {
	if err := t.queue(execQuery(failedTo("forget ended sessions"), nil,
		"DELETE FROM console_sessions_ended WHERE expires_at <= $1", micros(now))); err != nil {
		return err
	}
	return t.queue(execQuery(failedTo("end session"), nil, `INSERT INTO console_sessions_ended (nonce, expires_at)
		VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING`, nonce, micros(until)))
}

// jsonList is a list as stored: a JSON array, null for none (as the
// SQLite store stores it).
func jsonList(l []string) ([]byte, error) { return json.Marshal(l) }

// PutBrand creates or replaces a brand and its external ids.
func (t *Tx) PutBrand(ctx context.Context, b ledger.Brand) error {
	settings, err := json.Marshal(b.Settings)
	if err != nil {
		return fmt.Errorf("postgres: brand %q settings: %w", b.ID, err)
	}
	if err := t.queue(execQuery(failedTo("put brand %q", b.ID), nil, `INSERT INTO brands (brand_id, name, time_zone, settings)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (brand_id) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone,
		settings = excluded.settings`, b.ID, b.Name, b.TimeZone, settings)); err != nil {
		return err
	}
	if err := t.queue(execQuery(failedTo("put brand %q external ids", b.ID), nil,
		"DELETE FROM brand_out_ids WHERE brand_id = $1", b.ID)); err != nil {
		return err
	}
	for _, ch := range sortedKeys(b.OutIDs) {
		if err := t.queue(execQuery(failedTo("put brand %q external id %s:%s", b.ID, ch, b.OutIDs[ch]), nil,
			"INSERT INTO brand_out_ids (channel, out_id, brand_id) VALUES ($1, $2, $3)",
			ch, b.OutIDs[ch], b.ID)); err != nil {
			return err
		}
	}
	return nil
}

// PutShop creates or replaces a shop and its external ids.
func (t *Tx) PutShop(ctx context.Context, s ledger.Shop) error {
	if err := t.queue(execQuery(failedTo("put shop %q", s.ID), nil, `INSERT INTO shops (shop_id, brand_id, name)
		VALUES ($1, $2, $3)
		ON CONFLICT (shop_id) DO UPDATE SET brand_id = excluded.brand_id, name = excluded.name`,
		s.ID, s.BrandID, s.Name)); err != nil {
		return err
	}
	if err := t.queue(execQuery(failedTo("put shop %q external ids", s.ID), nil,
		"DELETE FROM shop_out_ids WHERE shop_id = $1", s.ID)); err != nil {
		return err
	}
	for _, ch := range sortedKeys(s.OutIDs) {
		if err := t.queue(execQuery(failedTo("put shop %q external id %s:%s", s.ID, ch, s.OutIDs[ch]), nil,
			"INSERT INTO shop_out_ids (channel, out_id, shop_id) VALUES ($1, $2, $3)",
			ch, s.OutIDs[ch], s.ID)); err != nil {
			return err
		}
	}
	return nil
}

// PutCustomer creates or replaces a customer.
func (t *Tx) PutCustomer(ctx context.Context, c ledger.Customer) error {
	return t.queue(execQuery(failedTo("put customer %q", c.ID), nil, `INSERT INTO customers (`+customerCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (customer_id) DO UPDATE SET brand_id = excluded.brand_id, mobile = excluded.mobile,
		name = excluded.name, level_id = excluded.level_id, customer_type = excluded.customer_type,
		channel = excluded.channel, outer_type = excluded.outer_type, outer_id = excluded.outer_id,
		gender = excluded.gender, email = excluded.email, birthday = excluded.birthday,
		address = excluded.address, remark = excluded.remark, shop_id = excluded.shop_id,
		created_at = excluded.created_at`,
		c.ID, c.BrandID, c.Mobile, c.Name, c.LevelID, c.CustomerType, c.Channel, c.OuterType, c.OuterID, c.Gender,
		c.Email, c.Birthday, c.Address, c.Remark, c.ShopID, micros(c.CreatedAt)))
}

// PutRule stores r as a new version of its brand's rule; a version stored
// meanwhile by another write is a conflict, and the write runs again.
func (t *Tx) PutRule(ctx context.Context, r ledger.Rule) error {
	body, err := json.Marshal(ruleBody{Name: r.Name, Clear: r.Clear, WithCoupon: r.WithCoupon, Deduction: r.Deduction,
		Addition: r.Addition, CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy})
	if err != nil {
		return fmt.Errorf("postgres: rule %s v%d: %w", r.BrandID, r.Version, err)
	}
	return t.queue(execQuery(insertFailed("rule %s v%d", r.BrandID, r.Version), nil,
		"INSERT INTO rules ("+ruleCols+") VALUES ($1, $2, $3, $4, $5, $6)",
		r.BrandID, r.Version, r.RuleID, body, micros(r.CreatedAt), micros(r.UpdatedAt)))
}

// CustomerForUpdate returns the customer with id and locks its row until
// the write ends (FOR NO KEY UPDATE: it does not block the foreign key
// checks of other writes). customer.update reads a customer to store it
// changed: under READ COMMITTED two updates would each change the row as
// it was before the other, and the later would put back what the earlier
// changed; with the lock the later waits, then reads the row the earlier
// committed.
func (t *Tx) CustomerForUpdate(ctx context.Context, id string) (ledger.Customer, error) {
	var c ledger.Customer
	var found bool
	if err := t.send(ctx, one(d("lock customer %q", id), &c, &found, scanCustomer,
		"SELECT "+customerCols+" FROM customers WHERE customer_id = $1 FOR NO KEY UPDATE", id)); err != nil {
		return c, err
	}
	if !found {
		return c, notFound("customer %q", id)
	}
	return c, nil
}

// Customer returns the customer with id.
func (t *Tx) Customer(ctx context.Context, id string) (ledger.Customer, error) {
	var c ledger.Customer
	var found bool
	if err := t.send(ctx, customerQuery(id, &c, &found)); err != nil {
		return c, err
	}
	if !found {
		return c, notFound("customer %q", id)
	}
	return c, nil
}

// CustomerByOuterID returns the brand's earliest customer known to an
// outside system as outerType/outerID.
//
// The service looks a customer up this way before creating one, and
// nothing unique stops two creations of one outer id: so the lookup
// first locks the brand's row (FOR NO KEY UPDATE, which does not block
// the foreign key checks of other writes), making creations in a brand
// take turns. Like Account, it then returns ErrConflict when a duplicate
// of this write's request committed while it waited.
func (t *Tx) CustomerByOuterID(ctx context.Context, brandID, outerType, outerID string) (ledger.Customer, error) {
	var c ledger.Customer
	var found, locked, dup bool
	qs := []*pgx.QueuedQuery{
		exists(d("lock brand %q", brandID), &locked, "SELECT 1 FROM brands WHERE brand_id = $1 FOR NO KEY UPDATE", brandID),
	}
	if t.absent != nil {
		qs = append(qs, t.idemAppeared(&dup))
	}
	qs = append(qs, customerByOuterIDQuery(brandID, outerType, outerID, &c, &found))
	if err := t.send(ctx, qs...); err != nil {
		return c, err
	}
	if dup {
		return c, fmt.Errorf("postgres: idempotency %s/%s/%s stored meanwhile: %w", t.absent[0], t.absent[1], t.absent[2], points.ErrConflict)
	}
	if !found {
		return c, notFound("customer of brand %q by %s %q", brandID, outerType, outerID)
	}
	return c, nil
}

// App returns the app with key.
func (t *Tx) App(ctx context.Context, key string) (ledger.App, error) {
	var a ledger.App
	var found bool
	if err := t.send(ctx, appQuery(key, &a, &found)); err != nil {
		return a, err
	}
	if !found {
		return a, notFound("app %q", key)
	}
	return a, nil
}

// Rule is the brand's newest rule version.
func (t *Tx) Rule(ctx context.Context, brandID string) (ledger.Rule, error) {
	var r ledger.Rule
	var found bool
	if err := t.send(ctx, ruleQuery(brandID, &r, &found)); err != nil {
		return r, err
	}
	if !found {
		return r, notFound("rule of brand %q", brandID)
	}
	return r, nil
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
	var e webhook.Endpoint
	var found bool
	if err := t.send(ctx, webhookQuery(id, &e, &found)); err != nil {
		return e.Webhook, err
	}
	if !found {
		return e.Webhook, notFound("webhook %q", id)
	}
	return e.Webhook, nil
}

// webhookLists are w's brands and events as the webhooks table keeps
// them (JSON).
func webhookLists(w points.Webhook) (brands, events []byte, err error) {
	if brands, err = jsonList(w.Brands); err != nil {
		return nil, nil, fmt.Errorf("postgres: webhook %q brands: %w", w.ID, err)
	}
	if events, err = jsonList(w.Events); err != nil {
		return nil, nil, fmt.Errorf("postgres: webhook %q events: %w", w.ID, err)
	}
	return brands, events, nil
}

// PutWebhook creates or replaces a webhook's configuration; it is sent
// with the write's next statement. A new one starts after the last event
// placed so far (events committed and not yet placed come after it).
func (t *Tx) PutWebhook(ctx context.Context, w points.Webhook, now time.Time) error {
	brands, events, err := webhookLists(w)
	if err != nil {
		return err
	}
	var disabledAt int64
	reason := ""
	if w.Disabled {
		disabledAt, reason = micros(now), points.WebhookDisabledByOperator
	}
	return t.queue(execQuery(failedTo("put webhook %q", w.ID), nil, sqlPutWebhook,
		w.ID, w.URL, w.Secret, brands, events, disabledAt, reason, micros(now)))
}
