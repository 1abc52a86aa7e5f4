package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"jifen/approval"
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
// REPEATABLE READ read-only transaction, streaming the large tables
// through a cursor; a Loader inserts rows as they are, with their ids,
// sequence numbers, versions and hashes, in one transaction, pipelined.
//
// Every ORDER BY on text compares with COLLATE "C", byte by byte, as
// dump requires (and as SQLite does), whatever the database's collation.

// dumpPage is how many rows a cursor fetches at a time.
const dumpPage = 500

// ReadAll calls fn with a view of the whole database as of one moment.
// The events committed so far are placed first, so that the dump numbers
// them as the database does (EachEvent numbers any committed after, as
// placing would).
func (s *Store) ReadAll(ctx context.Context, fn func(dump.View) error) error {
	if err := s.placeAll(ctx); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return failure(err, "begin reading the database")
	}
	defer func() {
		// Read-only: ending it any way is fine, and a failure closes the
		// connection.
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	return fn(&dumpView{tx: tx})
}

// dumpView is the dump.View of one read transaction.
type dumpView struct{ tx pgx.Tx }

func (v *dumpView) Apps(ctx context.Context) ([]ledger.App, error) {
	var apps []ledger.App
	err := sendTx(ctx, v.tx, all(d("apps"), &apps, scanApp, "SELECT "+appCols+` FROM apps ORDER BY app_key COLLATE "C"`))
	return apps, err
}

func (v *dumpView) Brands(ctx context.Context) ([]ledger.Brand, error) {
	var bs []ledger.Brand
	err := sendTx(ctx, v.tx, all(d("brands"), &bs, scanBrand, "SELECT "+brandCols+` FROM brands b ORDER BY b.brand_id COLLATE "C"`))
	return bs, err
}

func (v *dumpView) Shops(ctx context.Context) ([]ledger.Shop, error) {
	var ss []ledger.Shop
	err := sendTx(ctx, v.tx, all(d("shops"), &ss, scanShop,
		"SELECT "+shopCols+` FROM shops s ORDER BY s.brand_id COLLATE "C", s.shop_id COLLATE "C"`))
	return ss, err
}

// EachCustomer lists customers by creation, then id: the tie-break of a
// lookup by mobile or outer id.
func (v *dumpView) EachCustomer(ctx context.Context, fn func(ledger.Customer) error) error {
	return stream(ctx, v.tx, "customers", scanCustomer,
		"SELECT "+customerCols+` FROM customers ORDER BY created_at, customer_id COLLATE "C"`,
		perRow(fn))
}

func (v *dumpView) Rules(ctx context.Context) ([]ledger.Rule, error) {
	var rs []ledger.Rule
	err := sendTx(ctx, v.tx, all(d("rules"), &rs, scanRule, "SELECT "+ruleCols+` FROM rules ORDER BY brand_id COLLATE "C", version`))
	return rs, err
}

// EachAccount reads the accounts a page at a time, and each page's rows
// with one statement per table.
func (v *dumpView) EachAccount(ctx context.Context, fn func(points.AccountRows) error) error {
	return stream(ctx, v.tx, "accounts", scanAccount,
		"SELECT "+accountCols+` FROM accounts ORDER BY brand_id COLLATE "C", customer_id COLLATE "C"`,
		func(accts []ledger.Account) error {
			rows, err := dumpAccountRows(ctx, v.tx, accts)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if err := fn(r); err != nil {
					return err
				}
			}
			return nil
		})
}

// dumpAccountRows reads every row of the accounts accts in one round trip
// and deals them out to their accounts.
func dumpAccountRows(ctx context.Context, tx pgx.Tx, accts []ledger.Account) ([]points.AccountRows, error) {
	brands, customers := make([]string, len(accts)), make([]string, len(accts))
	out := make([]points.AccountRows, len(accts))
	at := make(map[[2]string]int, len(accts))
	for i, a := range accts {
		brands[i], customers[i] = a.BrandID, a.CustomerID
		out[i].Account = a
		at[[2]string{a.BrandID, a.CustomerID}] = i
	}
	const of = " WHERE (brand_id, customer_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY "
	var (
		lots   []ledger.Lot
		flows  []ledger.Flow
		allocs []ledger.Allocation
		holds  []ledger.Hold
		orders []ledger.Order
	)
	err := sendTx(ctx, tx,
		all(d("lots of accounts"), &lots, scanLot, "SELECT "+lotCols+" FROM lots"+of+"seq", brands, customers),
		all(d("flows of accounts"), &flows, scanFlow, "SELECT "+flowCols+" FROM flows"+of+"seq", brands, customers),
		all(d("allocations of accounts"), &allocs, scanAlloc, "SELECT "+allocCols+" FROM allocations"+of+"seq", brands, customers),
		all(d("holds of accounts"), &holds, scanHold, "SELECT "+holdCols+" FROM holds"+of+`outer_order_id COLLATE "C"`, brands, customers),
		all(d("orders of accounts"), &orders, scanOrder, "SELECT "+orderCols+" FROM orders"+of+`out_biz_id COLLATE "C"`, brands, customers),
	)
	if err != nil {
		return nil, err
	}
	for _, l := range lots {
		i := at[[2]string{l.BrandID, l.CustomerID}]
		out[i].Lots = append(out[i].Lots, l)
	}
	for _, f := range flows {
		i := at[[2]string{f.BrandID, f.CustomerID}]
		out[i].Flows = append(out[i].Flows, f)
	}
	for _, a := range allocs {
		i := at[[2]string{a.BrandID, a.CustomerID}]
		out[i].Allocations = append(out[i].Allocations, a)
	}
	for _, h := range holds {
		i := at[[2]string{h.BrandID, h.CustomerID}]
		out[i].Holds = append(out[i].Holds, h)
	}
	for _, o := range orders {
		i := at[[2]string{o.BrandID, o.CustomerID}]
		out[i].Orders = append(out[i].Orders, o)
	}
	return out, nil
}

func (v *dumpView) EachReversal(ctx context.Context, fn func(ledger.Reversal) error) error {
	return stream(ctx, v.tx, "reversals", scanReversal,
		"SELECT "+reversalCols+` FROM reversals ORDER BY brand_id COLLATE "C", reverse_order_id COLLATE "C"`,
		perRow(fn))
}

func (v *dumpView) EachIdempotency(ctx context.Context, fn func(ledger.Idempotency) error) error {
	return stream(ctx, v.tx, "idempotency records", scanIdem,
		"SELECT "+idemCols+` FROM idempotency ORDER BY brand_id COLLATE "C", app_key COLLATE "C", request_id COLLATE "C"`,
		perRow(fn))
}

// perRow is stream's fn for a caller that takes the rows one at a time.
func perRow[T any](fn func(T) error) func([]T) error {
	return func(page []T) error {
		for _, v := range page {
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	}
}

// stream runs query through a cursor of tx and calls fn with its rows a
// page at a time; fn may use tx between pages. The query is sorted once,
// however many pages it has.
func stream[T any](ctx context.Context, tx pgx.Tx, what string, scan func(pgx.Rows) (T, error), query string,
	fn func([]T) error) error {
	const cursor = "jifen_dump"
	if _, err := tx.Exec(ctx, "DECLARE "+cursor+" NO SCROLL CURSOR FOR "+query); err != nil {
		return failure(err, "read "+what)
	}
	fetch := fmt.Sprintf("FETCH FORWARD %d FROM %s", dumpPage, cursor)
	for {
		// Described afresh each time: the same FETCH returns other columns
		// for another query, so it must not be a cached statement.
		rows, err := tx.Query(ctx, fetch, pgx.QueryExecModeDescribeExec)
		if err != nil {
			return failure(err, "read "+what)
		}
		var page []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("postgres: read %s: %w", what, err)
			}
			page = append(page, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return failure(err, "read "+what)
		}
		if len(page) == 0 {
			break
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, "CLOSE "+cursor); err != nil {
		return failure(err, "read "+what)
	}
	return nil
}

// LoadAll runs fn in one READ COMMITTED transaction and commits it if fn
// returns nil; otherwise, or if the commit fails, nothing of it is stored.
// Unlike Write, it never runs fn again.
func (s *Store) LoadAll(ctx context.Context, fn func(dump.Loader) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return failure(err, "begin the load")
	}
	defer func() {
		// After a commit this does nothing; otherwise a failure to roll
		// back closes the connection, which ends the transaction too.
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	l := &dumpLoader{tx: tx}
	if err := fn(l); err != nil {
		return err
	}
	if err := l.flush(ctx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return failure(err, "commit the load")
	}
	return nil
}

// dumpLoader queues its INSERTs and sends them a batch at a time, in the
// order given (allocations after the lots and flows they refer to).
type dumpLoader struct {
	tx      pgx.Tx
	pending []*pgx.QueuedQuery
	failed  error // the first error: the transaction is aborted after it
	// lastEvent is the highest event position inserted, firstEvent the
	// first.
	lastEvent, firstEvent int64
}

// loadBatch is how many statements go in one round trip.
const loadBatch = 1000

func (l *dumpLoader) queue(ctx context.Context, what desc, sql string, args ...any) error {
	if l.failed != nil {
		return l.failed
	}
	l.pending = append(l.pending, execQuery(func(err error) error {
		if isCode(err, codeUniqueViolation) {
			return fmt.Errorf("postgres: insert %s: already stored: %w", what, err)
		}
		return fmt.Errorf("postgres: insert %s: %w", what, err)
	}, nil, sql, args...))
	if len(l.pending) >= loadBatch {
		return l.flush(ctx)
	}
	return nil
}

// Flush sends the inserts still queued.
func (l *dumpLoader) Flush(ctx context.Context) error {
	if l.lastEvent > 0 {
		if err := l.queue(ctx, d("the last event position"), "UPDATE event_positions SET last = GREATEST(last, $1) WHERE id = 1",
			l.lastEvent); err != nil {
			return err
		}
	}
	if l.firstEvent > 1 { // the events before it were removed after the retention period
		if err := l.queue(ctx, d("the events' horizon"), "UPDATE event_horizon SET pos = GREATEST(pos, $1) WHERE id = 1",
			l.firstEvent-1); err != nil {
			return err
		}
	}
	return l.flush(ctx)
}

func (l *dumpLoader) flush(ctx context.Context) error {
	if l.failed != nil {
		return l.failed
	}
	if len(l.pending) == 0 {
		return nil
	}
	qs := l.pending
	l.pending = nil
	if err := sendTx(ctx, l.tx, qs...); err != nil {
		l.failed = err
		return err
	}
	return nil
}

func (l *dumpLoader) Occupied(ctx context.Context) ([]string, error) {
	if err := l.flush(ctx); err != nil {
		return nil, err
	}
	tables := []string{"apps", "brands", "shops", "customers", "rules", "accounts", "lots", "flows",
		"allocations", "holds", "orders", "reversals", "idempotency", "events", "operators", "operator_tokens", "webhooks", "approvals", "audit_log"}
	found := make([]bool, len(tables))
	qs := make([]*pgx.QueuedQuery, len(tables))
	for i, table := range tables {
		qs[i] = exists(d("look into %s", table), &found[i], "SELECT 1 FROM "+table+" LIMIT 1")
	}
	if err := sendTx(ctx, l.tx, qs...); err != nil {
		l.failed = err
		return nil, err
	}
	var held []string
	for i, table := range tables {
		if found[i] {
			held = append(held, table)
		}
	}
	return held, nil
}

func (l *dumpLoader) InsertApp(ctx context.Context, a ledger.App) error {
	channels, err := jsonList(a.Channels)
	if err != nil {
		return fmt.Errorf("postgres: app %q channels: %w", a.Key, err)
	}
	brands, err := jsonList(a.Brands)
	if err != nil {
		return fmt.Errorf("postgres: app %q brands: %w", a.Key, err)
	}
	return l.queue(ctx, d("app %q", a.Key), "INSERT INTO apps ("+appCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
		a.Key, a.Secret, a.Name, a.Active, channels, brands, a.RateLimit)
}

func (l *dumpLoader) InsertBrand(ctx context.Context, b ledger.Brand) error {
	settings, err := json.Marshal(b.Settings)
	if err != nil {
		return fmt.Errorf("postgres: brand %q settings: %w", b.ID, err)
	}
	if err := l.queue(ctx, d("brand %q", b.ID),
		"INSERT INTO brands (brand_id, name, time_zone, settings) VALUES ($1, $2, $3, $4)",
		b.ID, b.Name, b.TimeZone, settings); err != nil {
		return err
	}
	for _, ch := range sortedKeys(b.OutIDs) {
		if err := l.queue(ctx, d("brand %q external id %s:%s", b.ID, ch, b.OutIDs[ch]),
			"INSERT INTO brand_out_ids (channel, out_id, brand_id) VALUES ($1, $2, $3)", ch, b.OutIDs[ch], b.ID); err != nil {
			return err
		}
	}
	return nil
}

func (l *dumpLoader) InsertShop(ctx context.Context, s ledger.Shop) error {
	if err := l.queue(ctx, d("shop %q", s.ID), "INSERT INTO shops (shop_id, brand_id, name) VALUES ($1, $2, $3)",
		s.ID, s.BrandID, s.Name); err != nil {
		return err
	}
	for _, ch := range sortedKeys(s.OutIDs) {
		if err := l.queue(ctx, d("shop %q external id %s:%s", s.ID, ch, s.OutIDs[ch]),
			"INSERT INTO shop_out_ids (channel, out_id, shop_id) VALUES ($1, $2, $3)", ch, s.OutIDs[ch], s.ID); err != nil {
			return err
		}
	}
	return nil
}

func (l *dumpLoader) InsertCustomer(ctx context.Context, c ledger.Customer) error {
	return l.queue(ctx, d("customer %q", c.ID), "INSERT INTO customers ("+customerCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.ID, c.BrandID, c.Mobile, c.Name, c.LevelID, c.CustomerType, c.Channel, c.OuterType, c.OuterID, c.Gender,
		c.Email, c.Birthday, c.Address, c.Remark, c.ShopID, micros(c.CreatedAt))
}

func (l *dumpLoader) InsertRule(ctx context.Context, r ledger.Rule) error {
	body, err := json.Marshal(ruleBody{Name: r.Name, Clear: r.Clear, WithCoupon: r.WithCoupon, Deduction: r.Deduction,
		Addition: r.Addition, CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy})
	if err != nil {
		return fmt.Errorf("postgres: rule %s v%d: %w", r.BrandID, r.Version, err)
	}
	return l.queue(ctx, d("rule %s v%d", r.BrandID, r.Version),
		"INSERT INTO rules ("+ruleCols+") VALUES ($1, $2, $3, $4, $5, $6)",
		r.BrandID, r.Version, r.RuleID, body, micros(r.CreatedAt), micros(r.UpdatedAt))
}

// InsertAccount inserts the account, then its lots and flows, then the
// allocations that refer to both, then its holds and orders.
func (l *dumpLoader) InsertAccount(ctx context.Context, r points.AccountRows) error {
	a := r.Account
	key := a.BrandID + "/" + a.CustomerID
	if err := l.queue(ctx, d("account %s", key), "INSERT INTO accounts ("+accountCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.BrandID, a.CustomerID, a.Available, a.Frozen, a.Debt, a.TotalEarned, a.TotalUsed, a.TotalExpired,
		a.Seq, a.LastHash, a.LotSeq, a.AllocSeq, a.Version); err != nil {
		return err
	}
	for _, lot := range r.Lots {
		if err := l.queue(ctx, d("lot %q of %s", lot.ID, key), "INSERT INTO lots ("+lotCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			lot.ID, lot.BrandID, lot.CustomerID, lot.Granted, lot.Remaining, micros(lot.EarnedAt), micros(lot.ExpiresAt),
			lot.FlowID, lot.OutBizID, lot.Seq); err != nil {
			return err
		}
	}
	for _, f := range r.Flows {
		if err := l.queue(ctx, d("flow %q of %s", f.ID, key), "INSERT INTO flows ("+flowCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24, $25)`,
			f.ID, f.BrandID, f.CustomerID, f.Seq, string(f.Type), f.Amount, f.DeltaAvailable, f.DeltaFrozen,
			f.DeltaDebt, f.RemainPoint, f.OutBizID, f.ReverseOrderID, f.ShopID, f.ShopName, f.Channel, f.AppKey,
			f.RequestID, f.OperatorID, f.OperatorName, f.Reason, f.RuleVersion, f.Policy, micros(f.CreatedAt),
			f.PrevHash, f.Hash); err != nil {
			return err
		}
	}
	for _, al := range r.Allocations {
		if err := l.queue(ctx, d("allocation %d of %s", al.Seq, key), "INSERT INTO allocations ("+allocCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			al.FlowID, al.LotID, al.BrandID, al.CustomerID, al.OrderRef, al.Kind, al.Amount, al.Seq); err != nil {
			return err
		}
	}
	for _, h := range r.Holds {
		if err := l.queue(ctx, d("hold %s/%s", h.BrandID, h.OuterOrderID), "INSERT INTO holds ("+holdCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			h.BrandID, h.OuterOrderID, h.CustomerID, h.Amount, h.Remaining, h.Verified, h.Status,
			micros(h.CreatedAt), micros(h.ExpiresAt), h.FlowID, h.Version); err != nil {
			return err
		}
	}
	for _, o := range r.Orders {
		if err := l.queue(ctx, d("order %s/%s of %s", o.BrandID, o.OutBizID, o.CustomerID),
			"INSERT INTO orders ("+orderCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			o.BrandID, o.OutBizID, o.CustomerID, o.Spent, o.Reversed, o.Granted, o.ClawedBack, o.Version); err != nil {
			return err
		}
	}
	return nil
}

func (l *dumpLoader) InsertReversal(ctx context.Context, r ledger.Reversal) error {
	return l.queue(ctx, d("reversal %s/%s", r.BrandID, r.ReverseOrderID),
		"INSERT INTO reversals ("+reversalCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		r.BrandID, r.ReverseOrderID, r.OutBizID, r.CustomerID, string(r.Type), r.Requested, r.Amount, r.FlowID,
		micros(r.CreatedAt))
}

func (l *dumpLoader) InsertIdempotency(ctx context.Context, rec ledger.Idempotency) error {
	return l.queue(ctx, d("idempotency %s/%s/%s", rec.BrandID, rec.AppKey, rec.RequestID),
		"INSERT INTO idempotency ("+idemCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		rec.BrandID, rec.AppKey, rec.RequestID, rec.Method, rec.Fingerprint, rec.FlowID, rec.Result, micros(rec.CreatedAt))
}

// DeriveIdempotencyBrands gives records loaded without a brand (from a
// version-1 dump) that of their flow or of the customer they created, as
// migration 0006 did for a database made before it.
//
// Joins, not a look-up per record: no index finds a flow by its id alone,
// and PostgreSQL hashes one side of a join.
func (l *dumpLoader) DeriveIdempotencyBrands(ctx context.Context) error {
	if err := l.queue(ctx, d("idempotency brands from flows"), `UPDATE idempotency i SET brand_id = f.brand_id
		FROM flows f WHERE i.brand_id = '' AND i.flow_id <> '' AND f.flow_id = i.flow_id`); err != nil {
		return err
	}
	return l.queue(ctx, d("idempotency brands from customers"), `UPDATE idempotency i SET brand_id = c.brand_id
		FROM customers c WHERE i.brand_id = '' AND c.customer_id = i.result`)
}

// Operators lists every operator by id.
func (v *dumpView) Operators(ctx context.Context) ([]operator.Operator, error) {
	var os []operator.Operator
	err := sendTx(ctx, v.tx, all(d("operators"), &os, scanOperator,
		"SELECT "+operatorCols+` FROM operators ORDER BY operator_id COLLATE "C"`))
	return os, err
}

// OperatorTokens lists every API token, with its hash, by id.
func (v *dumpView) OperatorTokens(ctx context.Context) ([]dump.OperatorToken, error) {
	var ts []dump.OperatorToken
	err := sendTx(ctx, v.tx, all(d("operator tokens"), &ts, func(r pgx.Rows) (dump.OperatorToken, error) {
		var t dump.OperatorToken
		var times [3]int64
		err := r.Scan(append(tokenDest(&t.Token, &times), &t.Hash)...)
		finishToken(&t.Token, times)
		return t, err
	}, "SELECT "+tokenCols+`, hash FROM operator_tokens ORDER BY token_id COLLATE "C"`))
	return ts, err
}

// Webhooks lists every webhook endpoint by id.
//
// Each comes with where its delivery resumes: its cursor, or just before
// its oldest pending delivery.
func (v *dumpView) Webhooks(ctx context.Context) ([]webhook.Endpoint, error) {
	var es []webhook.Endpoint
	err := sendTx(ctx, v.tx, all(d("webhooks"), &es, scanEndpoint,
		"SELECT "+webhookCols+` FROM webhooks ORDER BY webhook_id COLLATE "C"`))
	if err != nil {
		return nil, err
	}
	for i, e := range es {
		var oldest int64
		if err := v.tx.QueryRow(ctx, `SELECT COALESCE(MIN(pos), 0) FROM webhook_deliveries
			WHERE webhook_id = $1 AND state = $2`, e.ID, webhook.Pending).Scan(&oldest); err != nil {
			return nil, fmt.Errorf("postgres: webhook %s's oldest pending delivery: %w", e.ID, unavailable(err))
		}
		if oldest > 0 {
			es[i].ScheduledPos = min(e.ScheduledPos, oldest-1)
		}
	}
	return es, nil
}

// EachApproval calls fn with every approval by id.
func (v *dumpView) EachApproval(ctx context.Context, fn func(approval.Approval) error) error {
	return stream(ctx, v.tx, "approvals", scanApproval, "SELECT "+approvalCols+` FROM approvals ORDER BY approval_id COLLATE "C"`,
		perRow(fn))
}

// InsertApproval queues a's insert as it is.
func (l *dumpLoader) InsertApproval(ctx context.Context, a approval.Approval) error {
	return l.queue(ctx, d("approval %s", a.ID), "INSERT INTO approvals ("+approvalCols+
		") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
		a.ID, a.BrandID, string(a.Kind), string(a.Request), a.Points, a.RequestID, a.RequesterID, a.RequesterName,
		micros(a.CreatedAt), micros(a.ExpiresAt), string(a.State), a.DeciderID, a.DeciderName, micros(a.DecidedAt), a.Reason, a.Result)
}

// EachEvent calls fn with every event by position. Events committed but
// not yet placed (no reader has numbered them: see Events) come last,
// numbered as the placing would number them now: after the last position
// given, in the order they were inserted.
func (v *dumpView) EachEvent(ctx context.Context, fn func(points.Event) error) error {
	each := perRow(fn)
	if err := stream(ctx, v.tx, "events", scanEvent, "SELECT "+eventCols+" FROM events WHERE pos IS NOT NULL ORDER BY pos", each); err != nil {
		return err
	}
	return stream(ctx, v.tx, "events not yet placed", scanEvent, `SELECT (SELECT last FROM event_positions WHERE id = 1)
		+ row_number() OVER (ORDER BY ord, n, brand_id, event_id), brand_id, event_id, type, subject, time, data FROM events
		WHERE pos IS NULL ORDER BY ord, n, brand_id, event_id`, each)
}

// InsertEvent queues e's insert at its own position; Flush then moves
// the last position given (event_positions) to the highest inserted, so
// that the events written after the load are numbered after them.
func (l *dumpLoader) InsertEvent(ctx context.Context, e points.Event) error {
	l.lastEvent = max(l.lastEvent, e.Pos)
	if l.firstEvent == 0 {
		l.firstEvent = e.Pos
	}
	return l.queue(ctx, d("event %s/%s at %d", e.BrandID, e.ID, e.Pos), `INSERT INTO events (brand_id, event_id, pos, n, type,
		subject, time, data) VALUES ($1, $2, $3, 0, $4, $5, $6, $7)`,
		e.BrandID, e.ID, e.Pos, e.Type, e.Subject, micros(e.Time), string(e.Data))
}

// InsertOperator queues o's insert as it is.
func (l *dumpLoader) InsertOperator(ctx context.Context, o operator.Operator) error {
	return l.queue(ctx, d("operator %s", o.ID), "INSERT INTO operators ("+operatorCols+
		") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
		o.ID, o.Name, string(o.Role), brandsJSON(o.Brands), o.Limit, o.Disabled, o.PasswordHash,
		micros(o.PasswordChangedAt), o.FailedSignIns, micros(o.LockedUntil), micros(o.CreatedAt), micros(o.UpdatedAt))
}

// InsertOperatorToken queues t's insert as it is.
func (l *dumpLoader) InsertOperatorToken(ctx context.Context, t dump.OperatorToken) error {
	return l.queue(ctx, d("operator token %s", t.ID), `INSERT INTO operator_tokens (token_id, operator_id, name, hash,
		created_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.ID, t.OperatorID, t.Name, t.Hash, micros(t.CreatedAt), micros(t.LastUsedAt), micros(t.RevokedAt))
}

// InsertWebhook queues w's insert with no failing streak; its cursor is
// w.ScheduledPos when cursor is set, else the newest event placed.
func (l *dumpLoader) InsertWebhook(ctx context.Context, w webhook.Endpoint, cursor bool) error {
	brands, events, err := webhookLists(w.Webhook)
	if err != nil {
		return err
	}
	pos := "(SELECT COALESCE(MAX(pos), 0) FROM events)"
	if cursor {
		pos = strconv.FormatInt(w.ScheduledPos, 10)
	}
	return l.queue(ctx, d("webhook %s", w.ID), `INSERT INTO webhooks (webhook_id, url, secret, brands, events, disabled_at,
		disabled_reason, failing_since, scheduled_pos, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0, `+pos+`, $8, $9)`,
		w.ID, w.URL, w.Secret, brands, events, micros(w.DisabledAt), w.DisabledReason, micros(w.CreatedAt), micros(w.UpdatedAt))
}
