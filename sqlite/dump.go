package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"jifen/approval"
	"jifen/audit"
	"jifen/dump"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

var (
	_ dump.Source = (*Store)(nil)
	_ dump.Target = (*Store)(nil)
)

// Export and import (package dump): a View reads the whole database in one
// read transaction; a Loader inserts rows as they are, with their ids,
// sequence numbers, versions and hashes, in one write.

// ReadAll calls fn with a view of the whole database as of one moment: a
// read transaction, which WAL keeps consistent while writes go on.
func (s *Store) ReadAll(ctx context.Context, fn func(dump.View) error) error {
	tx, err := s.readTx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(&dumpView{tx: tx})
}

// dumpView is the dump.View of one read transaction. Text keys sort by
// SQLite's default BINARY collation: byte by byte, as dump requires.
type dumpView struct{ tx *sql.Tx }

func (v *dumpView) Apps(ctx context.Context) ([]ledger.App, error) {
	apps, err := all(ctx, v.tx, scanApp, "SELECT "+appCols+" FROM apps ORDER BY app_key")
	if err != nil {
		return nil, fmt.Errorf("sqlite: apps: %w", err)
	}
	return apps, nil
}

func (v *dumpView) Brands(ctx context.Context) ([]ledger.Brand, error) {
	brands, err := all(ctx, v.tx, scanBrand, "SELECT "+brandCols+" FROM brands ORDER BY brand_id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: brands: %w", err)
	}
	if err := brandOutIDs(ctx, v.tx, brands, "SELECT brand_id, channel, out_id FROM brand_out_ids"); err != nil {
		return nil, err
	}
	return brands, nil
}

func (v *dumpView) Shops(ctx context.Context) ([]ledger.Shop, error) {
	shops, err := all(ctx, v.tx, scanShop, "SELECT "+shopCols+" FROM shops ORDER BY brand_id, shop_id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: shops: %w", err)
	}
	if err := shopOutIDs(ctx, v.tx, shops, "SELECT shop_id, channel, out_id FROM shop_out_ids"); err != nil {
		return nil, err
	}
	return shops, nil
}

// EachCustomer lists customers by creation, then in insertion order (the
// tie-break of a lookup by mobile or outer id), which the import keeps.
func (v *dumpView) EachCustomer(ctx context.Context, fn func(ledger.Customer) error) error {
	if err := each(ctx, v.tx, scanCustomer, fn, "SELECT "+customerCols+" FROM customers ORDER BY created_at, rowid"); err != nil {
		return fmt.Errorf("sqlite: each customer: %w", err)
	}
	return nil
}

func (v *dumpView) Rules(ctx context.Context) ([]ledger.Rule, error) {
	rules, err := all(ctx, v.tx, scanRule, "SELECT "+ruleCols+" FROM rules ORDER BY brand_id, version")
	if err != nil {
		return nil, fmt.Errorf("sqlite: rules: %w", err)
	}
	return rules, nil
}

func (v *dumpView) EachAccount(ctx context.Context, fn func(points.AccountRows) error) error {
	err := each(ctx, v.tx, scanAccount, func(a ledger.Account) error {
		rows, err := accountRows(ctx, v.tx, a)
		if err != nil {
			return fmt.Errorf("sqlite: rows of account %s/%s: %w", a.BrandID, a.CustomerID, err)
		}
		return fn(rows)
	}, "SELECT "+accountCols+" FROM accounts ORDER BY brand_id, customer_id")
	if err != nil {
		return fmt.Errorf("sqlite: each account: %w", err)
	}
	return nil
}

func (v *dumpView) EachReversal(ctx context.Context, fn func(ledger.Reversal) error) error {
	if err := each(ctx, v.tx, scanReversal, fn, "SELECT "+reversalCols+" FROM reversals ORDER BY brand_id, reverse_order_id"); err != nil {
		return fmt.Errorf("sqlite: each reversal: %w", err)
	}
	return nil
}

func (v *dumpView) EachIdempotency(ctx context.Context, fn func(ledger.Idempotency) error) error {
	if err := each(ctx, v.tx, scanIdem, fn, "SELECT "+idemCols+" FROM idempotency ORDER BY brand_id, app_key, request_id"); err != nil {
		return fmt.Errorf("sqlite: each idempotency record: %w", err)
	}
	return nil
}

// LoadAll runs fn as one write of the writer: its rows are committed
// together or, if fn fails, undone together. fn runs once, since its input
// is spent, so its batch runs in savepoints (a batch-mate's failure cannot
// make it run again); should SQLite throw the transaction away, a load
// that failed fails again with the same error, and one that succeeded
// fails saying so.
func (s *Store) LoadAll(ctx context.Context, fn func(dump.Loader) error) error {
	ran := false
	var first error
	return s.writeOnce(ctx, func(tx points.Tx) error {
		if ran {
			if first != nil {
				return first
			}
			return errors.New("sqlite: the load's transaction was lost and cannot run again")
		}
		ran = true
		t, ok := tx.(*Tx)
		if !ok {
			return fmt.Errorf("sqlite: unexpected transaction %T", tx)
		}
		first = fn(&dumpLoader{t: t})
		return first
	})
}

// dumpLoader inserts rows on the writer's connection.
type dumpLoader struct {
	t *Tx
	// firstEvent is the position of the first event inserted (0: none):
	// the events before it were removed after the retention period.
	firstEvent int64
}

// dumpTables are the tables Occupied looks at; the external id tables
// cannot hold rows without brands and shops.
var dumpTables = []string{"apps", "brands", "shops", "customers", "rules", "accounts", "lots", "flows",
	"allocations", "holds", "orders", "reversals", "idempotency", "events", "operators", "operator_tokens", "webhooks", "approvals", "audit_log"}

func (l *dumpLoader) Occupied(ctx context.Context) ([]string, error) {
	if err := l.t.check(); err != nil {
		return nil, err
	}
	var held []string
	for _, table := range dumpTables {
		_, ok, err := one(ctx, l.t.w, scanInt, "SELECT 1 FROM "+table+" LIMIT 1")
		if err != nil {
			return nil, fmt.Errorf("sqlite: look into %s: %w", table, err)
		}
		if ok {
			held = append(held, table)
		}
	}
	return held, nil
}

// Flush does nothing: every insert has run.
// Flush sets the horizon just before the first event inserted: a dump
// of a log whose start was removed carries on from where it starts.
func (l *dumpLoader) Flush(ctx context.Context) error {
	if l.firstEvent > 1 {
		if err := l.exec(rowf("the events' horizon"), "UPDATE event_horizon SET pos = ? WHERE id = 1", l.firstEvent-1); err != nil {
			return err
		}
	}
	return l.t.check()
}

// rowDesc describes a row for an error; it is formatted only for one.
type rowDesc struct {
	format string
	args   []any
}

func rowf(format string, args ...any) rowDesc { return rowDesc{format, args} }

func (r rowDesc) String() string { return fmt.Sprintf(r.format, r.args...) }

// exec runs one INSERT of the load.
func (l *dumpLoader) exec(what rowDesc, query string, args ...any) error {
	if err := l.t.check(); err != nil {
		return err
	}
	if _, err := l.t.w.exec(query, args...); err != nil {
		if isUnique(err) {
			return fmt.Errorf("sqlite: insert %s: already stored: %w", what, err)
		}
		return fmt.Errorf("sqlite: insert %s: %w", what, err)
	}
	return nil
}

func (l *dumpLoader) InsertApp(ctx context.Context, a ledger.App) error {
	channels, err := json.Marshal(a.Channels)
	if err != nil {
		return fmt.Errorf("sqlite: app %q channels: %w", a.Key, err)
	}
	brands, err := json.Marshal(a.Brands)
	if err != nil {
		return fmt.Errorf("sqlite: app %q brands: %w", a.Key, err)
	}
	return l.exec(rowf("app %q", a.Key), "INSERT INTO apps ("+appCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		a.Key, a.Secret, a.Name, a.Active, string(channels), string(brands), a.RateLimit)
}

func (l *dumpLoader) InsertBrand(ctx context.Context, b ledger.Brand) error {
	settings, err := json.Marshal(b.Settings)
	if err != nil {
		return fmt.Errorf("sqlite: brand %q settings: %w", b.ID, err)
	}
	if err := l.exec(rowf("brand %q", b.ID), "INSERT INTO brands ("+brandCols+") VALUES (?, ?, ?, ?)",
		b.ID, b.Name, b.TimeZone, string(settings)); err != nil {
		return err
	}
	for _, ch := range sortedKeys(b.OutIDs) {
		if err := l.exec(rowf("brand %q external id %s:%s", b.ID, ch, b.OutIDs[ch]),
			"INSERT INTO brand_out_ids (channel, out_id, brand_id) VALUES (?, ?, ?)", ch, b.OutIDs[ch], b.ID); err != nil {
			return err
		}
	}
	return nil
}

func (l *dumpLoader) InsertShop(ctx context.Context, s ledger.Shop) error {
	if err := l.exec(rowf("shop %q", s.ID), "INSERT INTO shops ("+shopCols+") VALUES (?, ?, ?)",
		s.ID, s.BrandID, s.Name); err != nil {
		return err
	}
	for _, ch := range sortedKeys(s.OutIDs) {
		if err := l.exec(rowf("shop %q external id %s:%s", s.ID, ch, s.OutIDs[ch]),
			"INSERT INTO shop_out_ids (channel, out_id, shop_id) VALUES (?, ?, ?)", ch, s.OutIDs[ch], s.ID); err != nil {
			return err
		}
	}
	return nil
}

func (l *dumpLoader) InsertCustomer(ctx context.Context, c ledger.Customer) error {
	return l.exec(rowf("customer %q", c.ID),
		"INSERT INTO customers ("+customerCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.BrandID, c.Mobile, c.Name, c.LevelID, c.CustomerType, c.Channel, c.OuterType, c.OuterID, c.Gender,
		c.Email, c.Birthday, c.Address, c.Remark, c.ShopID, micros(c.CreatedAt))
}

func (l *dumpLoader) InsertRule(ctx context.Context, r ledger.Rule) error {
	body, err := json.Marshal(ruleBody{Name: r.Name, Clear: r.Clear, WithCoupon: r.WithCoupon, Deduction: r.Deduction,
		Addition: r.Addition, CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy})
	if err != nil {
		return fmt.Errorf("sqlite: rule %s v%d: %w", r.BrandID, r.Version, err)
	}
	return l.exec(rowf("rule %s v%d", r.BrandID, r.Version), "INSERT INTO rules ("+ruleCols+") VALUES (?, ?, ?, ?, ?, ?)",
		r.BrandID, r.Version, r.RuleID, string(body), micros(r.CreatedAt), micros(r.UpdatedAt))
}

// InsertAccount inserts the account, then its lots and flows, then the
// allocations that refer to both, then its holds and orders.
func (l *dumpLoader) InsertAccount(ctx context.Context, r points.AccountRows) error {
	a := r.Account
	key := a.BrandID + "/" + a.CustomerID
	if err := l.exec(rowf("account %s", key), "INSERT INTO accounts ("+accountCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		a.BrandID, a.CustomerID, a.Available, a.Frozen, a.Debt, a.TotalEarned, a.TotalUsed, a.TotalExpired,
		a.Seq, a.LastHash, a.LotSeq, a.AllocSeq, a.Version); err != nil {
		return err
	}
	for _, lot := range r.Lots {
		if err := l.exec(rowf("lot %q of %s", lot.ID, key), sqlInsertLot, lot.ID, lot.BrandID, lot.CustomerID,
			lot.Granted, lot.Remaining, micros(lot.EarnedAt), micros(lot.ExpiresAt), lot.FlowID, lot.OutBizID,
			lot.Seq); err != nil {
			return err
		}
	}
	for _, f := range r.Flows {
		if err := l.exec(rowf("flow %q of %s", f.ID, key), sqlInsertFlow, f.ID, f.BrandID, f.CustomerID, f.Seq,
			string(f.Type), f.Amount, f.DeltaAvailable, f.DeltaFrozen, f.DeltaDebt, f.RemainPoint, f.OutBizID,
			f.ReverseOrderID, f.ShopID, f.ShopName, f.Channel, f.AppKey, f.RequestID, f.OperatorID, f.OperatorName,
			f.Reason, f.RuleVersion, f.Policy, micros(f.CreatedAt), f.PrevHash, f.Hash); err != nil {
			return err
		}
	}
	for _, al := range r.Allocations {
		if err := l.exec(rowf("allocation %d of %s", al.Seq, key), sqlInsertAlloc, al.FlowID, al.LotID,
			al.BrandID, al.CustomerID, al.OrderRef, al.Kind, al.Amount, al.Seq); err != nil {
			return err
		}
	}
	for _, h := range r.Holds {
		if err := l.exec(rowf("hold %s/%s", h.BrandID, h.OuterOrderID),
			"INSERT INTO holds ("+holdCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			h.BrandID, h.OuterOrderID, h.CustomerID, h.Amount, h.Remaining, h.Verified, h.Status,
			micros(h.CreatedAt), micros(h.ExpiresAt), h.FlowID, h.Version); err != nil {
			return err
		}
	}
	for _, o := range r.Orders {
		if err := l.exec(rowf("order %s/%s of %s", o.BrandID, o.OutBizID, o.CustomerID),
			"INSERT INTO orders ("+orderCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			o.BrandID, o.OutBizID, o.CustomerID, o.Spent, o.Reversed, o.Granted, o.ClawedBack, o.Version); err != nil {
			return err
		}
	}
	return nil
}

func (l *dumpLoader) InsertReversal(ctx context.Context, r ledger.Reversal) error {
	return l.exec(rowf("reversal %s/%s", r.BrandID, r.ReverseOrderID), sqlInsertReversal,
		r.BrandID, r.ReverseOrderID, r.OutBizID, r.CustomerID, string(r.Type), r.Requested, r.Amount, r.FlowID,
		micros(r.CreatedAt))
}

func (l *dumpLoader) InsertIdempotency(ctx context.Context, rec ledger.Idempotency) error {
	return l.exec(rowf("idempotency %s/%s/%s", rec.BrandID, rec.AppKey, rec.RequestID),
		"INSERT INTO idempotency ("+idemCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		rec.BrandID, rec.AppKey, rec.RequestID, rec.Method, rec.Fingerprint, rec.FlowID, rec.Result, micros(rec.CreatedAt))
}

// DeriveIdempotencyBrands gives records loaded without a brand (from a
// version-1 dump) that of their flow or of the customer they created.
// No index finds a flow by its id alone (no write path needs one), so one
// is built for the look-ups and dropped after them, inside the import's
// transaction: a look-up per record is then a search, not a scan.
func (l *dumpLoader) DeriveIdempotencyBrands(ctx context.Context) error {
	for _, q := range []string{"CREATE INDEX import_flow_ids ON flows (flow_id)", sqlDeriveIdempotencyBrands,
		"DROP INDEX import_flow_ids"} {
		if err := l.exec(rowf("idempotency brands"), q); err != nil {
			return err
		}
	}
	return nil
}

// sqlDeriveIdempotencyBrands is what migration 0006 does for the
// records of a database made before it.
const sqlDeriveIdempotencyBrands = `UPDATE idempotency SET brand_id = COALESCE(
	(SELECT f.brand_id FROM flows f WHERE f.flow_id = idempotency.flow_id AND idempotency.flow_id <> ''),
	(SELECT c.brand_id FROM customers c WHERE c.customer_id = idempotency.result), '')
	WHERE brand_id = ''`

// EachAudit calls fn with every audit log entry by seq.
func (v *dumpView) EachAudit(ctx context.Context, fn func(audit.Entry) error) (audit.Head, error) {
	return eachAudit(ctx, v.tx, fn)
}

// InsertAudit inserts e as it is and makes it the head.
func (l *dumpLoader) InsertAudit(ctx context.Context, e audit.Entry) error {
	what := rowf("audit entry %d", e.Seq)
	if err := l.exec(what, sqlInsertAudit, auditArgs(e)...); err != nil {
		return err
	}
	return l.exec(what, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", e.Seq, e.Hash)
}

// Operators lists every operator by id.
func (v *dumpView) Operators(ctx context.Context) ([]operator.Operator, error) {
	os, err := all(ctx, v.tx, scanOperator, "SELECT "+operatorCols+" FROM operators ORDER BY operator_id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: operators: %w", err)
	}
	return os, nil
}

// OperatorTokens lists every API token, with its hash, by id.
func (v *dumpView) OperatorTokens(ctx context.Context) ([]dump.OperatorToken, error) {
	ts, err := all(ctx, v.tx, func(sc scanner) (dump.OperatorToken, error) {
		var t dump.OperatorToken
		var created, used, revoked int64
		err := sc.Scan(&t.ID, &t.OperatorID, &t.Name, &created, &used, &revoked, &t.Hash)
		t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMicros(created), fromMicros(used), fromMicros(revoked)
		return t, err
	}, "SELECT "+tokenCols+", hash FROM operator_tokens ORDER BY token_id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: operator tokens: %w", err)
	}
	return ts, nil
}

// EachApproval calls fn with every approval by id.
func (v *dumpView) EachApproval(ctx context.Context, fn func(approval.Approval) error) error {
	if err := each(ctx, v.tx, scanApproval, fn, "SELECT "+approvalCols+" FROM approvals ORDER BY approval_id"); err != nil {
		return fmt.Errorf("sqlite: approvals: %w", err)
	}
	return nil
}

// InsertApproval inserts a as it is.
func (l *dumpLoader) InsertApproval(ctx context.Context, a approval.Approval) error {
	return l.exec(rowf("approval %s", a.ID), "INSERT INTO approvals ("+approvalCols+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		a.ID, a.BrandID, string(a.Kind), string(a.Request), a.Points, a.RequestID, a.RequesterID, a.RequesterName,
		micros(a.CreatedAt), micros(a.ExpiresAt), string(a.State), a.DeciderID, a.DeciderName, micros(a.DecidedAt), a.Reason, a.Result)
}

// EachEvent calls fn with every event by position.
func (v *dumpView) EachEvent(ctx context.Context, fn func(points.Event) error) error {
	if err := each(ctx, v.tx, scanEvent, fn, "SELECT "+eventCols+" FROM events ORDER BY pos"); err != nil {
		return fmt.Errorf("sqlite: events: %w", err)
	}
	return nil
}

// Webhooks lists every webhook endpoint by id, each with where its
// delivery resumes: its cursor, or just before its oldest pending
// delivery.
func (v *dumpView) Webhooks(ctx context.Context) ([]webhook.Endpoint, error) {
	es, err := all(ctx, v.tx, scanEndpoint, "SELECT "+webhookCols+" FROM webhooks ORDER BY webhook_id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", err)
	}
	for i, e := range es {
		oldest, _, err := one(ctx, v.tx, scanInt, `SELECT COALESCE(MIN(pos), 0) FROM webhook_deliveries
			WHERE webhook_id = +? AND state = +?`, e.ID, webhook.Pending)
		if err != nil {
			return nil, fmt.Errorf("sqlite: webhook %s's oldest pending delivery: %w", e.ID, err)
		}
		if oldest > 0 {
			es[i].ScheduledPos = min(e.ScheduledPos, oldest-1)
		}
	}
	return es, nil
}

// InsertEvent inserts e at its own position; the writer gives the
// events written after the load the row ids after it.
func (l *dumpLoader) InsertEvent(ctx context.Context, e points.Event) error {
	if err := l.exec(rowf("event %s/%s at %d", e.BrandID, e.ID, e.Pos), `INSERT INTO events (pos, brand_id, event_id, type,
		subject, time, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Pos, e.BrandID, e.ID, e.Type, e.Subject, micros(e.Time), string(e.Data)); err != nil {
		return err
	}
	l.t.w.evMax = max(l.t.w.evMax, e.Pos)
	if l.firstEvent == 0 {
		l.firstEvent = e.Pos
	}
	return nil
}

// InsertOperator inserts o as it is.
func (l *dumpLoader) InsertOperator(ctx context.Context, o operator.Operator) error {
	return l.exec(rowf("operator %s", o.ID), "INSERT INTO operators ("+operatorCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		o.ID, o.Name, string(o.Role), brandsJSON(o.Brands), o.Limit, o.Disabled, o.PasswordHash, micros(o.PasswordChangedAt),
		o.FailedSignIns, micros(o.LockedUntil), micros(o.CreatedAt), micros(o.UpdatedAt))
}

// InsertOperatorToken inserts t as it is.
func (l *dumpLoader) InsertOperatorToken(ctx context.Context, t dump.OperatorToken) error {
	return l.exec(rowf("operator token %s", t.ID), `INSERT INTO operator_tokens (token_id, operator_id, name, hash, created_at,
		last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.OperatorID, t.Name, t.Hash, micros(t.CreatedAt), micros(t.LastUsedAt), micros(t.RevokedAt))
}

// InsertWebhook inserts w's configuration with no failing streak; its
// cursor is w.ScheduledPos when cursor is set, else the newest event.
func (l *dumpLoader) InsertWebhook(ctx context.Context, w webhook.Endpoint, cursor bool) error {
	brands, events, err := webhookLists(w.Webhook)
	if err != nil {
		return err
	}
	pos := "(SELECT COALESCE(MAX(pos), 0) FROM events)"
	args := []any{w.ID, w.URL, w.Secret, brands, events, micros(w.DisabledAt), w.DisabledReason}
	if cursor {
		pos = "?"
		args = append(args, w.ScheduledPos)
	}
	return l.exec(rowf("webhook %s", w.ID), `INSERT INTO webhooks (webhook_id, url, secret, brands, events, disabled_at,
		disabled_reason, failing_since, scheduled_pos, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 0, `+pos+`, ?, ?)`,
		append(args, micros(w.CreatedAt), micros(w.UpdatedAt))...)
}
