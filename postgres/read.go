package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/ledger"
	"jifen/points"
)

// The Reader runs each question on a pooled connection outside any write
// and sees what is committed. Questions of several statements that must
// agree (Flows: the page and the count) run in one read-only REPEATABLE
// READ transaction, still in one round trip.

// Every question of one round trip has a deadline. A database host gone
// silent (powered off, cut off by the network) leaves the pool's
// connections open, and without one a request would wait for TCP to give
// up. The lookups a request makes before its write (its app, brand, shop,
// customer, rule, account: lookup) are bounded by Options.Timeout, as the
// write is, so that a POS is answered "retry" within it; the other
// questions (pages, counts, totals: read, readSnapshot) by the larger of
// Options.Timeout and StatementTimeout, so that a slow count is not cut
// before the server would cut it. Streams (EachFlow, EachAccount, …) are
// not bounded: an export runs as long as it takes.

// lookup runs qs, the few rows a request resolves before its write, on a
// pooled connection in one round trip, within Options.Timeout.
func (s *Store) lookup(ctx context.Context, qs ...*pgx.QueuedQuery) error {
	return s.send(ctx, s.timeout, &pgx.Batch{QueuedQueries: qs})
}

// read runs qs on a pooled connection in one round trip.
func (s *Store) read(ctx context.Context, qs ...*pgx.QueuedQuery) error {
	return s.send(ctx, s.readTimeout, &pgx.Batch{QueuedQueries: qs})
}

// readSnapshot runs qs in one read-only transaction (one snapshot), in one
// round trip.
func (s *Store) readSnapshot(ctx context.Context, qs ...*pgx.QueuedQuery) error {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(qs)+2)}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	b.QueuedQueries = append(b.QueuedQueries, qs...)
	b.Queue("COMMIT")
	// A failure leaves the connection in the aborted transaction; the pool
	// discards such a connection when it is released.
	return s.send(ctx, s.readTimeout, b)
}

// send sends b within d.
func (s *Store) send(ctx context.Context, d time.Duration, b *pgx.Batch) error {
	ctx, deadline, cancel := bounded(ctx, d)
	defer cancel()
	return unavailable(timedOut(d, deadline, s.pool.SendBatch(ctx, b).Close()))
}

// App returns the app with key.
func (s *Store) App(ctx context.Context, key string) (ledger.App, error) {
	var a ledger.App
	var found bool
	if err := s.lookup(ctx, appQuery(key, &a, &found)); err != nil {
		return a, err
	}
	if !found {
		return a, notFound("app %q", key)
	}
	return a, nil
}

// Apps lists every app by key.
func (s *Store) Apps(ctx context.Context) ([]ledger.App, error) {
	var apps []ledger.App
	err := s.read(ctx, all(d("apps"), &apps, scanApp, "SELECT "+appCols+" FROM apps ORDER BY app_key"))
	return apps, err
}

// Brand returns the brand with id.
func (s *Store) Brand(ctx context.Context, id string) (ledger.Brand, error) {
	var b ledger.Brand
	var found bool
	if err := s.lookup(ctx, one(d("brand %q", id), &b, &found, scanBrand,
		"SELECT "+brandCols+" FROM brands b WHERE b.brand_id = $1", id)); err != nil {
		return b, err
	}
	if !found {
		return b, notFound("brand %q", id)
	}
	return b, nil
}

// Brands lists every brand by id.
func (s *Store) Brands(ctx context.Context) ([]ledger.Brand, error) {
	var bs []ledger.Brand
	err := s.read(ctx, all(d("brands"), &bs, scanBrand, "SELECT "+brandCols+" FROM brands b ORDER BY b.brand_id"))
	return bs, err
}

// BrandByOutID resolves a channel's external brand id.
func (s *Store) BrandByOutID(ctx context.Context, channel, outID string) (ledger.Brand, error) {
	var b ledger.Brand
	var found bool
	if err := s.lookup(ctx, one(d("brand %s:%s", channel, outID), &b, &found, scanBrand,
		"SELECT "+brandCols+` FROM brand_out_ids x JOIN brands b ON b.brand_id = x.brand_id
		WHERE x.channel = $1 AND x.out_id = $2`, channel, outID)); err != nil {
		return b, err
	}
	if !found {
		return b, notFound("brand %s:%s", channel, outID)
	}
	return b, nil
}

// Shop returns the shop with id.
func (s *Store) Shop(ctx context.Context, id string) (ledger.Shop, error) {
	var sh ledger.Shop
	var found bool
	if err := s.lookup(ctx, one(d("shop %q", id), &sh, &found, scanShop,
		"SELECT "+shopCols+" FROM shops s WHERE s.shop_id = $1", id)); err != nil {
		return sh, err
	}
	if !found {
		return sh, notFound("shop %q", id)
	}
	return sh, nil
}

// Shops lists the brand's shops by id.
func (s *Store) Shops(ctx context.Context, brandID string) ([]ledger.Shop, error) {
	var shops []ledger.Shop
	err := s.read(ctx, all(d("shops of brand %q", brandID), &shops, scanShop,
		"SELECT "+shopCols+" FROM shops s WHERE s.brand_id = $1 ORDER BY s.shop_id", brandID))
	return shops, err
}

// ShopByOutID resolves a channel's external shop id.
func (s *Store) ShopByOutID(ctx context.Context, channel, outID string) (ledger.Shop, error) {
	var sh ledger.Shop
	var found bool
	if err := s.lookup(ctx, one(d("shop %s:%s", channel, outID), &sh, &found, scanShop,
		"SELECT "+shopCols+` FROM shop_out_ids x JOIN shops s ON s.shop_id = x.shop_id
		WHERE x.channel = $1 AND x.out_id = $2`, channel, outID)); err != nil {
		return sh, err
	}
	if !found {
		return sh, notFound("shop %s:%s", channel, outID)
	}
	return sh, nil
}

// Customer returns the customer with id.
func (s *Store) Customer(ctx context.Context, id string) (ledger.Customer, error) {
	var c ledger.Customer
	var found bool
	if err := s.lookup(ctx, customerQuery(id, &c, &found)); err != nil {
		return c, err
	}
	if !found {
		return c, notFound("customer %q", id)
	}
	return c, nil
}

// CustomerByMobile returns the brand's earliest customer with mobile.
func (s *Store) CustomerByMobile(ctx context.Context, brandID, mobile string) (ledger.Customer, error) {
	var c ledger.Customer
	var found bool
	if err := s.lookup(ctx, one(d("customer of brand %q by mobile", brandID), &c, &found, scanCustomer,
		"SELECT "+customerCols+` FROM customers WHERE brand_id = $1 AND mobile = $2
		ORDER BY created_at, customer_id LIMIT 1`, brandID, mobile)); err != nil {
		return c, err
	}
	if !found {
		return c, notFound("customer of brand %q with that mobile", brandID)
	}
	return c, nil
}

// CustomerByOuterID returns the brand's earliest customer known to an
// outside system as outerType/outerID.
func (s *Store) CustomerByOuterID(ctx context.Context, brandID, outerType, outerID string) (ledger.Customer, error) {
	var c ledger.Customer
	var found bool
	if err := s.lookup(ctx, customerByOuterIDQuery(brandID, outerType, outerID, &c, &found)); err != nil {
		return c, err
	}
	if !found {
		return c, notFound("customer of brand %q by %s %q", brandID, outerType, outerID)
	}
	return c, nil
}

// Rule is the brand's newest rule version.
func (s *Store) Rule(ctx context.Context, brandID string) (ledger.Rule, error) {
	var r ledger.Rule
	var found bool
	if err := s.lookup(ctx, ruleQuery(brandID, &r, &found)); err != nil {
		return r, err
	}
	if !found {
		return r, notFound("rule of brand %q", brandID)
	}
	return r, nil
}

// Account returns the stored account; ErrNotFound before its first write.
func (s *Store) Account(ctx context.Context, brandID, customerID string) (ledger.Account, error) {
	var a ledger.Account
	var found bool
	if err := s.lookup(ctx, one(d("account %s/%s", brandID, customerID), &a, &found, scanAccount,
		"SELECT "+accountCols+" FROM accounts WHERE brand_id = $1 AND customer_id = $2", brandID, customerID)); err != nil {
		return a, err
	}
	if !found {
		return a, notFound("account %s/%s", brandID, customerID)
	}
	return a, nil
}

// LiveLots are the account's lots with points remaining, by creation.
func (s *Store) LiveLots(ctx context.Context, brandID, customerID string) ([]ledger.Lot, error) {
	var lots []ledger.Lot
	err := s.lookup(ctx, liveLotsQuery(brandID, customerID, &lots))
	return lots, err
}

// Flows lists the flows matching q, newest first, and how many match in
// all. Both come from one snapshot. OutBizLike matches a substring,
// case-sensitively.
func (s *Store) Flows(ctx context.Context, q points.FlowQuery) ([]ledger.Flow, int, error) {
	cond, args := flowWhere(q)
	// Newest first. One member's flows are newest first in the order they
	// were written (seq, which the account's lock makes the order of
	// commits): a range of the table's key read backwards, not a sort.
	order := " ORDER BY created_at DESC, seq DESC, flow_id DESC"
	if q.BrandID != "" && q.CustomerID != "" {
		order = " ORDER BY seq DESC"
	}
	page := "SELECT " + flowCols + " FROM flows" + cond + order
	pageArgs := append([]any(nil), args...)
	if q.Limit > 0 {
		pageArgs = append(pageArgs, int64(q.Limit))
		page += " LIMIT $" + strconv.Itoa(len(pageArgs))
	}
	if q.Offset > 0 {
		pageArgs = append(pageArgs, int64(q.Offset))
		page += " OFFSET $" + strconv.Itoa(len(pageArgs))
	}
	var total int
	var flows []ledger.Flow
	err := s.readSnapshot(ctx,
		rowsQuery(d("count flows"), func(r pgx.Rows) error { return r.Scan(&total) }, "SELECT COUNT(*) FROM flows"+cond, args...),
		all(d("flows"), &flows, scanFlow, page, pageArgs...))
	if err != nil {
		return nil, 0, err
	}
	return flows, total, nil
}

// flowWhere is the WHERE clause of a FlowQuery ("" when nothing filters)
// and its arguments; Flows and EachFlow share it.
func flowWhere(q points.FlowQuery) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.BrandID != "" {
		add("brand_id = ?", q.BrandID)
	}
	if q.CustomerID != "" {
		add("customer_id = ?", q.CustomerID)
	}
	if q.OutBizLike != "" {
		add(`out_biz_id LIKE ? ESCAPE '\'`, "%"+escapeLike(q.OutBizLike)+"%")
	}
	if q.Type != "" {
		add("type = ?", string(q.Type))
	}
	if q.ShopID != "" {
		add("shop_id = ?", q.ShopID)
	}
	if q.Channel != "" {
		add("channel = ?", q.Channel)
	}
	if q.Operator != "" {
		args = append(args, q.Operator)
		n := "$" + strconv.Itoa(len(args))
		where = append(where, "(operator_id = "+n+" OR operator_name = "+n+")")
	}
	if q.FlowID != "" {
		add("flow_id = ?", q.FlowID)
	}
	if !q.Start.IsZero() {
		add("created_at >= ?", unixMicrosCeil(q.Start))
	}
	if !q.End.IsZero() {
		add("created_at <= ?", q.End.UnixMicro())
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// escapeLike makes s match itself literally in a LIKE pattern with
// ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// unixMicrosCeil is the first whole microsecond at or after t, for an
// inclusive lower bound.
func unixMicrosCeil(t time.Time) int64 {
	n := t.UnixMicro()
	if t.Sub(time.UnixMicro(n)) > 0 {
		n++
	}
	return n
}

// limitOrAll turns "0: no limit" into NULL, which LIMIT takes as none.
func limitOrAll(n int) any {
	if n <= 0 {
		return nil
	}
	return int64(n)
}

// DueAccounts lists up to limit accounts holding points in lots whose
// expiry is at or before now, those with the oldest such expiry first.
func (s *Store) DueAccounts(ctx context.Context, now time.Time, limit int) ([]points.AccountKey, error) {
	var keys []points.AccountKey
	err := s.read(ctx, all(d("due accounts"), &keys, func(r pgx.Rows) (points.AccountKey, error) {
		var k points.AccountKey
		err := r.Scan(&k.BrandID, &k.CustomerID)
		return k, err
	}, `SELECT brand_id, customer_id FROM lots
		WHERE remaining > 0 AND expires_at > 0 AND expires_at <= $1
		GROUP BY brand_id, customer_id ORDER BY MIN(expires_at), brand_id, customer_id LIMIT $2`,
		now.UnixMicro(), limitOrAll(limit)))
	return keys, err
}

// DueHolds lists up to limit active holds whose timeout is at or before
// now, oldest timeout first. A hold without a timeout never comes due.
func (s *Store) DueHolds(ctx context.Context, now time.Time, limit int) ([]ledger.Hold, error) {
	var holds []ledger.Hold
	err := s.read(ctx, all(d("due holds"), &holds, scanHold, "SELECT "+holdCols+` FROM holds
		WHERE status = $1 AND expires_at > 0 AND expires_at <= $2
		ORDER BY expires_at, brand_id, outer_order_id LIMIT $3`,
		ledger.HoldActive, now.UnixMicro(), limitOrAll(limit)))
	return holds, err
}

// Auditor.

// pageJoin restricts a table with brand_id and customer_id columns to a
// page of accounts: $1 their brands, $2 their customers.
const pageJoin = " JOIN unnest($1::text[], $2::text[]) AS page(b, c) ON brand_id = page.b AND customer_id = page.c"

// auditPage is how many accounts (or records) the Auditor reads at a time.
const auditPage = 200

// EachAccount calls fn with every account's rows, accounts in key order,
// all read from one snapshot. Accounts are read a page at a time, each
// page's rows with one statement per table.
func (s *Store) EachAccount(ctx context.Context, fn func(points.AccountRows) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return failure(err, "begin reading accounts")
	}
	defer func() {
		// Read-only: ending it any way is fine, and a failure closes the
		// connection.
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	var after *points.AccountKey
	for {
		var accts []ledger.Account
		q := "SELECT " + accountCols + " FROM accounts"
		var args []any
		if after != nil {
			q += " WHERE (brand_id, customer_id) > ($1, $2)"
			args = []any{after.BrandID, after.CustomerID}
		}
		q += " ORDER BY brand_id, customer_id LIMIT " + strconv.Itoa(auditPage)
		if err := sendTx(ctx, tx, all(d("accounts"), &accts, scanAccount, q, args...)); err != nil {
			return err
		}
		if len(accts) == 0 {
			return nil
		}
		rows, err := pageRows(ctx, tx, accts)
		if err == nil {
			err = pageEvents(ctx, tx, rows)
		}
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(accts) < auditPage {
			return nil
		}
		last := accts[len(accts)-1]
		after = &points.AccountKey{BrandID: last.BrandID, CustomerID: last.CustomerID}
	}
}

// sendTx runs qs in tx in one round trip.
func sendTx(ctx context.Context, tx pgx.Tx, qs ...*pgx.QueuedQuery) error {
	return unavailable(tx.SendBatch(ctx, &pgx.Batch{QueuedQueries: qs}).Close())
}

// pageRows reads every row of the accounts accts, which are in key order:
// each table's rows of those accounts, in one round trip, then dealt out
// to their accounts.
//
// The accounts are named one by one (a join with the page's keys), not as
// the key range from the first to the last: a prepared statement's generic
// plan cannot see that a range is narrow, and for a range PostgreSQL chose
// to read the whole brand (its flows by time) and sort it — every page of a
// brand with millions of flows past the statement timeout. Joined with
// the keys, every plan reads each account's rows by its key.
func pageRows(ctx context.Context, tx pgx.Tx, accts []ledger.Account) ([]points.AccountRows, error) {
	brands, customers := make([]string, len(accts)), make([]string, len(accts))
	for i, a := range accts {
		brands[i], customers[i] = a.BrandID, a.CustomerID
	}
	rangeCond := pageJoin + " ORDER BY brand_id, customer_id, "
	args := []any{brands, customers}
	var (
		lots   []ledger.Lot
		flows  []ledger.Flow
		allocs []ledger.Allocation
		holds  []ledger.Hold
		orders []ledger.Order
	)
	err := sendTx(ctx, tx,
		all(d("lots of accounts"), &lots, scanLot, "SELECT "+lotCols+" FROM lots"+rangeCond+"seq", args...),
		all(d("flows of accounts"), &flows, scanFlow, "SELECT "+flowCols+" FROM flows"+rangeCond+"seq", args...),
		all(d("allocations of accounts"), &allocs, scanAlloc, "SELECT "+allocCols+" FROM allocations"+rangeCond+"seq", args...),
		all(d("holds of accounts"), &holds, scanHold, "SELECT "+holdCols+" FROM holds"+rangeCond+"created_at, outer_order_id", args...),
		all(d("orders of accounts"), &orders, scanOrder, "SELECT "+orderCols+" FROM orders"+rangeCond+"out_biz_id", args...),
	)
	if err != nil {
		return nil, err
	}
	out := make([]points.AccountRows, len(accts))
	at := make(map[[2]string]int, len(accts))
	for i, a := range accts {
		out[i].Account = a
		at[[2]string{a.BrandID, a.CustomerID}] = i
	}
	// Rows of a key without an account row (none should exist) are left out,
	// as a per-account read would.
	for _, l := range lots {
		if i, ok := at[[2]string{l.BrandID, l.CustomerID}]; ok {
			out[i].Lots = append(out[i].Lots, l)
		}
	}
	for _, f := range flows {
		if i, ok := at[[2]string{f.BrandID, f.CustomerID}]; ok {
			out[i].Flows = append(out[i].Flows, f)
		}
	}
	for _, a := range allocs {
		if i, ok := at[[2]string{a.BrandID, a.CustomerID}]; ok {
			out[i].Allocations = append(out[i].Allocations, a)
		}
	}
	for _, h := range holds {
		if i, ok := at[[2]string{h.BrandID, h.CustomerID}]; ok {
			out[i].Holds = append(out[i].Holds, h)
		}
	}
	for _, o := range orders {
		if i, ok := at[[2]string{o.BrandID, o.CustomerID}]; ok {
			out[i].Orders = append(out[i].Orders, o)
		}
	}
	return out, nil
}

// pageEvents gives each of rows (a page of accounts in key order) the
// point.flow.created events of its flows, found by their flow ids, in
// one statement. An event not yet placed has position 0.
func pageEvents(ctx context.Context, tx pgx.Tx, rows []points.AccountRows) error {
	brands, customers := make([]string, len(rows)), make([]string, len(rows))
	at := make(map[[2]string]int, len(rows))
	for i, r := range rows {
		brands[i], customers[i] = r.Account.BrandID, r.Account.CustomerID
		at[[2]string{r.Account.BrandID, r.Account.CustomerID}] = i
	}
	type flowEvent struct {
		customer string
		e        points.Event
	}
	var evs []flowEvent
	err := sendTx(ctx, tx, all(d("events of accounts' flows"), &evs, func(r pgx.Rows) (flowEvent, error) {
		var fe flowEvent
		var t int64
		var data string
		err := r.Scan(&fe.customer, &fe.e.Pos, &fe.e.BrandID, &fe.e.ID, &fe.e.Type, &fe.e.Subject, &t, &data)
		fe.e.Time, fe.e.Data = fromMicros(t), []byte(data)
		return fe, err
	}, `SELECT f.customer_id, COALESCE(e.pos, 0), e.brand_id, e.event_id, e.type, e.subject, e.time, e.data
		FROM flows f JOIN unnest($1::text[], $2::text[]) AS page(b, c) ON f.brand_id = page.b AND f.customer_id = page.c
		JOIN events e ON e.brand_id = f.brand_id AND e.event_id = f.flow_id
		ORDER BY f.brand_id, f.customer_id, f.seq`, brands, customers))
	if err != nil {
		return err
	}
	for _, fe := range evs {
		if i, ok := at[[2]string{fe.e.BrandID, fe.customer}]; ok {
			rows[i].Events = append(rows[i].Events, fe.e)
		}
	}
	return nil
}

// EachEventWithoutFlow calls fn with every point.flow.created event whose
// flow is not stored: one anti-join over the whole event log.
func (s *Store) EachEventWithoutFlow(ctx context.Context, fn func(points.Event) error) error {
	var evs []points.Event
	err := s.readSnapshot(ctx, all(d("flow events without their flows"), &evs, scanEvent,
		`SELECT COALESCE(e.pos, 0), e.brand_id, e.event_id, e.type, e.subject, e.time, e.data FROM events e
		WHERE e.type = $1 AND NOT EXISTS (SELECT 1 FROM flows f WHERE f.brand_id = e.brand_id AND f.flow_id = e.event_id)
		ORDER BY e.pos`, points.EventFlowCreated))
	if err != nil {
		return err
	}
	for _, e := range evs {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// EachIdempotency calls fn with every idempotency record, by key. Records
// are read a page at a time and fn is called between pages, holding no
// connection: fn may use the store.
func (s *Store) EachIdempotency(ctx context.Context, fn func(ledger.Idempotency) error) error {
	var after *ledger.Idempotency
	for {
		var recs []ledger.Idempotency
		q := "SELECT " + idemCols + " FROM idempotency"
		var args []any
		if after != nil {
			q += " WHERE (app_key, request_id) > ($1, $2)"
			args = []any{after.AppKey, after.RequestID}
		}
		q += " ORDER BY app_key, request_id LIMIT " + strconv.Itoa(auditPage)
		if err := s.read(ctx, all(d("idempotency records"), &recs, scanIdem, q, args...)); err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < auditPage {
			return nil
		}
		after = &recs[len(recs)-1]
	}
}

// EachReversal calls fn with every reversal, by key, a page at a time like
// EachIdempotency.
func (s *Store) EachReversal(ctx context.Context, fn func(ledger.Reversal) error) error {
	var after *ledger.Reversal
	for {
		var rvs []ledger.Reversal
		q := "SELECT " + reversalCols + " FROM reversals"
		var args []any
		if after != nil {
			q += " WHERE (brand_id, reverse_order_id) > ($1, $2)"
			args = []any{after.BrandID, after.ReverseOrderID}
		}
		q += " ORDER BY brand_id, reverse_order_id LIMIT " + strconv.Itoa(auditPage)
		if err := s.read(ctx, all(d("reversals"), &rvs, scanReversal, q, args...)); err != nil {
			return err
		}
		for _, r := range rvs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rvs) < auditPage {
			return nil
		}
		after = &rvs[len(rvs)-1]
	}
}

// SessionEnded reports whether the console session nonce was ended.
func (s *Store) SessionEnded(ctx context.Context, nonce string) (bool, error) {
	var found bool
	err := s.lookup(ctx, exists(d("ended session"), &found, "SELECT 1 FROM console_sessions_ended WHERE nonce = $1", nonce))
	return found, err
}

// EachMissingFlow calls fn with every idempotency record and refund that
// names a flow not stored: two anti-joins over the whole ledger (PostgreSQL
// hashes the flows' ids), as verify reads it.
func (s *Store) EachMissingFlow(ctx context.Context, fn func(*ledger.Idempotency, *ledger.Reversal) error) error {
	var recs []ledger.Idempotency
	var rvs []ledger.Reversal
	err := s.readSnapshot(ctx,
		all(d("idempotency records of missing flows"), &recs, scanIdem, "SELECT "+prefixed("i.", idemCols)+
			` FROM idempotency i WHERE i.flow_id <> '' AND NOT EXISTS
			(SELECT 1 FROM flows f WHERE f.brand_id = i.brand_id AND f.flow_id = i.flow_id)
			ORDER BY i.brand_id, i.app_key, i.request_id`),
		all(d("refunds of missing flows"), &rvs, scanReversal, "SELECT "+prefixed("r.", reversalCols)+
			` FROM reversals r WHERE NOT EXISTS
			(SELECT 1 FROM flows f WHERE f.brand_id = r.brand_id AND f.customer_id = r.customer_id AND f.flow_id = r.flow_id)
			ORDER BY r.brand_id, r.reverse_order_id`))
	if err != nil {
		return err
	}
	for i := range recs {
		if err := fn(&recs[i], nil); err != nil {
			return err
		}
	}
	for i := range rvs {
		if err := fn(nil, &rvs[i]); err != nil {
			return err
		}
	}
	return nil
}

// prefixed qualifies every column of a column list with p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Size is the bytes the store's tables take with their indexes and TOAST
// (pg_total_relation_size over the schema's tables).
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	var found bool
	err := s.read(ctx, one(d("size"), &n, &found, func(r pgx.Rows) (int64, error) {
		var v int64
		err := r.Scan(&v)
		return v, err
	}, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()`))
	return n, err
}
