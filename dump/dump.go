// Package dump moves a whole jifen database from one store to another as
// JSON lines: the tenants (apps with their secrets, brands with their
// settings and external ids, shops, customers, every rule version,
// logically deleted level rules included) and the whole ledger (each
// account with its lots, flows, allocations, holds and orders; reversals;
// idempotency records), the event log (every event at its position, so
// that a consumer's cursor means the same after the move and the target
// numbers its next events after the last carried), the operators (their
// password and token hashes, never a secret they were made from), the
// webhook endpoints (with their signing secrets and where their delivery
// resumes; not the rest of their delivery state), the four-eyes approvals
// (pending or decided) and the operators' audit log. Every value is kept exactly as stored: ids,
// sequence numbers, versions, hashes, signed amounts and times to the
// microsecond. This is how a brand goes from the embedded SQLite store to
// PostgreSQL (jifen export, jifen import).
//
// A dump is a header line, one record per line, and an end record:
//
//	{"format":"jifen-dump","version":5}
//	{"kind":"app","app_key":"pos","secret":"…",…}
//	{"kind":"brand","brand_id":"B1",…}
//	…
//	{"kind":"end","counts":{"apps":1,"brands":1,…}}
//
// Records come in the order of their kinds — app, brand, shop, customer,
// rule, account, reversal, idempotency, event, operator, operator_token,
// webhook, approval, audit — and within a kind in a fixed
// order of their keys (compared byte by byte), so the same data dumps to
// the same bytes from any store. The end record's counts let Import refuse
// a dump that was cut short. Times are UTC, RFC 3339 with six fractional
// digits; "" is "none" (a lot that never expires).
//
// The stores implement Source and Target; the interfaces are declared
// here, by their one consumer.
package dump

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"jifen/approval"
	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

// Format and Version are the dump's header: a reader refuses another
// format or a newer version.
const (
	Format  = "jifen-dump"
	Version = 5
)

// Versions: 1 keyed idempotency records by app and request id alone; 2
// gives each its brand (records of a version-1 dump get theirs from their
// flow or customer as they are loaded); 3 adds the audit log's entries; 4
// adds the operators with their API tokens, and the webhook endpoints; 5
// adds the event log and each endpoint's cursor (an endpoint of an
// earlier dump starts after the newest event stored, and the target
// numbers events from 1), and the four-eyes approvals.

// Source is a store to export.
type Source interface {
	// ReadAll calls fn with a View of everything stored as of one moment
	// (one read transaction), so a dump of a store in use is consistent.
	ReadAll(ctx context.Context, fn func(View) error) error
}

// View reads a whole store. Every list comes in a fixed order, keys
// compared byte by byte, so that the same data dumps to the same bytes
// from any store.
type View interface {
	// Apps lists every app by key.
	Apps(ctx context.Context) ([]ledger.App, error)
	// Brands lists every brand by id, with its external ids.
	Brands(ctx context.Context) ([]ledger.Brand, error)
	// Shops lists every shop by brand and id, with its external ids.
	Shops(ctx context.Context) ([]ledger.Shop, error)
	// EachCustomer calls fn with every customer by creation time, then in
	// the order the store breaks ties of a lookup by mobile.
	EachCustomer(ctx context.Context, fn func(ledger.Customer) error) error
	// Rules lists every rule version of every brand, by brand and version.
	Rules(ctx context.Context) ([]ledger.Rule, error)
	// EachAccount calls fn with every account's rows, by brand and
	// customer; within an account lots, flows and allocations by Seq,
	// holds by outer_order_id and orders by out_biz_id.
	EachAccount(ctx context.Context, fn func(points.AccountRows) error) error
	// EachReversal calls fn with every reversal by brand and
	// reverse_order_id.
	EachReversal(ctx context.Context, fn func(ledger.Reversal) error) error
	// EachIdempotency calls fn with every idempotency record by app key
	// and request id.
	EachIdempotency(ctx context.Context, fn func(ledger.Idempotency) error) error
	// Operators lists every operator by id.
	Operators(ctx context.Context) ([]operator.Operator, error)
	// OperatorTokens lists every operator's API token by id.
	OperatorTokens(ctx context.Context) ([]OperatorToken, error)
	// EachEvent calls fn with every event by position.
	EachEvent(ctx context.Context, fn func(points.Event) error) error
	// Webhooks lists every webhook endpoint by id, with its
	// configuration and, as ScheduledPos, where its delivery resumes on
	// the target: its cursor, or just before its oldest pending delivery
	// if that is earlier — delivery rows and the failing streak are not
	// carried, so an event whose delivery is pending is sent again from
	// the cursor (at least once allows a second copy; skipping it would
	// lose it). Failed deliveries, given up on, are not carried.
	Webhooks(ctx context.Context) ([]webhook.Endpoint, error)
	// EachApproval calls fn with every four-eyes approval, pending or
	// decided, by id.
	EachApproval(ctx context.Context, fn func(approval.Approval) error) error
	// EachAudit calls fn with every audit log entry by Seq.
	EachAudit(ctx context.Context, fn func(audit.Entry) error) (audit.Head, error)
}

// OperatorToken is an operator's API token as stored: the hash of its
// secret, never the secret.
type OperatorToken struct {
	operator.Token
	Hash []byte
}

// Target is a store to import into.
type Target interface {
	// LoadAll runs fn once, in one write transaction, and commits only if
	// fn returns nil: what fn loads is stored whole or not at all.
	LoadAll(ctx context.Context, fn func(Loader) error) error
}

// Loader writes rows exactly as given — ids, sequence numbers, versions,
// hashes, times — and fails on a key already stored. (Unlike the service's
// writes, nothing is renumbered or recomputed.) A store may send an insert
// together with later ones, so its error may come from a later call or
// from Flush; the error names the row.
type Loader interface {
	// Occupied names the kinds of rows the store already holds ("apps",
	// "flows", …); none for an empty store.
	Occupied(ctx context.Context) ([]string, error)
	InsertApp(ctx context.Context, a ledger.App) error
	// InsertBrand inserts the brand with its external ids.
	InsertBrand(ctx context.Context, b ledger.Brand) error
	// InsertShop inserts the shop with its external ids.
	InsertShop(ctx context.Context, s ledger.Shop) error
	InsertCustomer(ctx context.Context, c ledger.Customer) error
	// InsertRule inserts one rule version under its own Version.
	InsertRule(ctx context.Context, r ledger.Rule) error
	// InsertAccount inserts the account and all its rows.
	InsertAccount(ctx context.Context, rows points.AccountRows) error
	InsertReversal(ctx context.Context, r ledger.Reversal) error
	// InsertIdempotency inserts a record; one without a BrandID (from a
	// version-1 dump) is given its brand by DeriveIdempotencyBrands.
	InsertIdempotency(ctx context.Context, rec ledger.Idempotency) error
	// DeriveIdempotencyBrands gives every record stored without a brand
	// the brand of its flow, or of the customer a customer creation
	// answered with.
	DeriveIdempotencyBrands(ctx context.Context) error
	InsertOperator(ctx context.Context, o operator.Operator) error
	InsertOperatorToken(ctx context.Context, t OperatorToken) error
	// InsertEvent inserts an event at its own position (e.Pos); the
	// store numbers the events written after the load from the highest
	// position inserted.
	InsertEvent(ctx context.Context, e points.Event) error
	// InsertWebhook inserts an endpoint's configuration with no failing
	// streak. Its cursor is e.ScheduledPos when cursor is set (a dump
	// that carries the event log), else after the newest event stored.
	InsertWebhook(ctx context.Context, e webhook.Endpoint, cursor bool) error
	// InsertApproval inserts an approval as it is.
	InsertApproval(ctx context.Context, a approval.Approval) error
	// InsertAudit inserts an audit log entry as it is and makes it the
	// head of the log.
	InsertAudit(ctx context.Context, e audit.Entry) error
	// Flush sends the inserts not yet sent, so that their errors come now.
	Flush(ctx context.Context) error
}

// ErrNotEmpty is returned by Import for a target that already holds
// tenants or ledger data: a dump is loaded only into a new database.
var ErrNotEmpty = errors.New("the target database is not empty")

// Counts are how many of each thing a dump holds.
type Counts struct {
	Apps        int `json:"apps"`
	Brands      int `json:"brands"`
	Shops       int `json:"shops"`
	Customers   int `json:"customers"`
	Rules       int `json:"rules"` // rule versions
	Accounts    int `json:"accounts"`
	Lots        int `json:"lots"`
	Flows       int `json:"flows"`
	Allocations int `json:"allocations"`
	Holds       int `json:"holds"`
	Orders      int `json:"orders"`
	Reversals   int `json:"reversals"`
	Idempotency int `json:"idempotency"` // idempotency records
	Events      int `json:"events"`
	Operators   int `json:"operators"`
	Tokens      int `json:"operator_tokens"`
	Webhooks    int `json:"webhooks"`
	Approvals   int `json:"approvals"`
	Audit       int `json:"audit"` // audit log entries
}

func (c Counts) String() string {
	return fmt.Sprintf("%d apps, %d brands, %d shops, %d customers, %d rule versions, "+
		"%d accounts (%d flows, %d lots, %d allocations, %d holds, %d orders), %d reversals, %d idempotency records, "+
		"%d events, %d operators (%d tokens), %d webhooks, %d approvals, %d audit entries",
		c.Apps, c.Brands, c.Shops, c.Customers, c.Rules, c.Accounts, c.Flows, c.Lots, c.Allocations, c.Holds,
		c.Orders, c.Reversals, c.Idempotency, c.Events, c.Operators, c.Tokens, c.Webhooks, c.Approvals, c.Audit)
}

func (c *Counts) addAccount(r points.AccountRows) {
	c.Accounts++
	c.Lots += len(r.Lots)
	c.Flows += len(r.Flows)
	c.Allocations += len(r.Allocations)
	c.Holds += len(r.Holds)
	c.Orders += len(r.Orders)
}

// Export writes everything src stores to w as a dump and returns what it
// wrote. On an error w holds an incomplete dump, which Import refuses.
func Export(ctx context.Context, src Source, w io.Writer) (Counts, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var c Counts
	err := src.ReadAll(ctx, func(v View) error {
		c = Counts{}
		if err := enc.Encode(header{Format: Format, Version: Version}); err != nil {
			return err
		}
		apps, err := v.Apps(ctx)
		if err != nil {
			return err
		}
		for _, a := range apps {
			if err := enc.Encode(appOut(a)); err != nil {
				return err
			}
			c.Apps++
		}
		brands, err := v.Brands(ctx)
		if err != nil {
			return err
		}
		for _, b := range brands {
			if err := enc.Encode(brandOut(b)); err != nil {
				return err
			}
			c.Brands++
		}
		shops, err := v.Shops(ctx)
		if err != nil {
			return err
		}
		for _, s := range shops {
			if err := enc.Encode(shopOut(s)); err != nil {
				return err
			}
			c.Shops++
		}
		err = v.EachCustomer(ctx, func(cu ledger.Customer) error {
			c.Customers++
			return enc.Encode(customerOut(cu))
		})
		if err != nil {
			return err
		}
		rules, err := v.Rules(ctx)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if err := enc.Encode(ruleOut(r)); err != nil {
				return err
			}
			c.Rules++
		}
		err = v.EachAccount(ctx, func(r points.AccountRows) error {
			c.addAccount(r)
			return enc.Encode(accountOut(r))
		})
		if err != nil {
			return err
		}
		err = v.EachReversal(ctx, func(r ledger.Reversal) error {
			c.Reversals++
			return enc.Encode(reversalOut(r))
		})
		if err != nil {
			return err
		}
		err = v.EachIdempotency(ctx, func(r ledger.Idempotency) error {
			c.Idempotency++
			return enc.Encode(idempotencyOut(r))
		})
		if err != nil {
			return err
		}
		err = v.EachEvent(ctx, func(e points.Event) error {
			c.Events++
			return enc.Encode(eventOut(e))
		})
		if err != nil {
			return err
		}
		ops, err := v.Operators(ctx)
		if err != nil {
			return err
		}
		for _, o := range ops {
			if err := enc.Encode(operatorOut(o)); err != nil {
				return err
			}
			c.Operators++
		}
		toks, err := v.OperatorTokens(ctx)
		if err != nil {
			return err
		}
		for _, t := range toks {
			if err := enc.Encode(tokenOut(t)); err != nil {
				return err
			}
			c.Tokens++
		}
		hooks, err := v.Webhooks(ctx)
		if err != nil {
			return err
		}
		for _, w := range hooks {
			if err := enc.Encode(webhookOut(w)); err != nil {
				return err
			}
			c.Webhooks++
		}
		err = v.EachApproval(ctx, func(a approval.Approval) error {
			c.Approvals++
			return enc.Encode(approvalOut(a))
		})
		if err != nil {
			return err
		}
		_, err = v.EachAudit(ctx, func(e audit.Entry) error {
			c.Audit++
			return enc.Encode(auditOut(e))
		})
		if err != nil {
			return err
		}
		return enc.Encode(endRecord{Kind: kindEnd, Counts: c})
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return c, fmt.Errorf("dump: export: %w", err)
	}
	return c, nil
}

// Record kinds, in the order a dump holds them.
const (
	kindApp         = "app"
	kindBrand       = "brand"
	kindShop        = "shop"
	kindCustomer    = "customer"
	kindRule        = "rule"
	kindAccount     = "account"
	kindReversal    = "reversal"
	kindIdempotency = "idempotency"
	kindEvent       = "event"
	kindOperator    = "operator"
	kindToken       = "operator_token"
	kindWebhook     = "webhook"
	kindApproval    = "approval"
	kindAudit       = "audit"
	kindEnd         = "end"
)

var kindRank = map[string]int{kindApp: 1, kindBrand: 2, kindShop: 3, kindCustomer: 4, kindRule: 5,
	kindAccount: 6, kindReversal: 7, kindIdempotency: 8, kindEvent: 9, kindOperator: 10, kindToken: 11, kindWebhook: 12,
	kindApproval: 13, kindAudit: 14}

// Import loads the dump read from r into dst, which must be empty, and
// returns what it loaded. Any error — a damaged or truncated dump, a
// target that is not empty (ErrNotEmpty), a row the database refuses —
// leaves dst as it was. Errors in the dump name its line.
//
// The load is one transaction of dst: that is what makes a failure leave
// nothing behind, with no marker for the service to heed. Both stores hold
// a large transaction without trouble; rows go to the store as they are
// read (PostgreSQL's in pipelined batches), so memory holds one record at
// a time — an account with all its rows.
func Import(ctx context.Context, dst Target, r io.Reader) (Counts, error) {
	lr := &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
	if err := lr.header(); err != nil {
		return Counts{}, fmt.Errorf("dump: import: %w; nothing was imported", err)
	}
	var got Counts
	loaded := false
	err := dst.LoadAll(ctx, func(l Loader) error {
		if loaded {
			return errors.New("the store ran the import's transaction twice, but the dump can be read only once")
		}
		loaded = true
		occupied, err := l.Occupied(ctx)
		if err != nil {
			return err
		}
		if len(occupied) > 0 {
			return fmt.Errorf("%w: it holds %s; import only into a new database", ErrNotEmpty, strings.Join(occupied, ", "))
		}
		got, err = load(ctx, lr, l)
		if err == nil {
			err = l.Flush(ctx)
		}
		if err == nil && lr.version < 2 {
			err = l.DeriveIdempotencyBrands(ctx)
		}
		if err != nil {
			return err
		}
		// What fails now is the commit: whether it happened may be unknown.
		lr.done = true
		return nil
	})
	switch {
	case err == nil:
		return got, nil
	case lr.done:
		return Counts{}, fmt.Errorf("dump: import: the dump was loaded whole, but the commit failed: %w; "+
			"nothing should have been imported, but check that the target is still empty before importing again", err)
	default:
		return Counts{}, fmt.Errorf("dump: import: %w; nothing was imported", err)
	}
}

// load reads every record after the header and inserts it.
func load(ctx context.Context, lr *lineReader, l Loader) (Counts, error) {
	var c Counts
	var st loadState
	last, lastKind := 0, ""
	for {
		line, err := lr.next()
		if err == io.EOF {
			return c, fmt.Errorf("the dump ends after line %d without its end record: it is truncated", lr.n)
		}
		if err != nil {
			return c, err
		}
		var k struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(line, &k); err != nil {
			return c, lr.errorf("not a dump record: %v", err)
		}
		if k.Kind == kindEnd {
			return c, lr.end(line, c)
		}
		rank, ok := kindRank[k.Kind]
		if !ok {
			return c, lr.errorf("unknown record kind %q", k.Kind)
		}
		if rank < last {
			return c, lr.errorf("%s records must come before %s records: the dump is out of order", k.Kind, lastKind)
		}
		last, lastKind = rank, k.Kind
		if err := loadRecord(ctx, lr, l, k.Kind, line, &c, &st); err != nil {
			return c, err
		}
	}
}

// loadState is what a load checks records against as it reads them.
type loadState struct {
	chain     audit.Chain // the audit entries so far
	lastEvent int64       // the position of the last event record
}

// loadRecord decodes one record of kind and inserts it.
func loadRecord(ctx context.Context, lr *lineReader, l Loader, kind string, line []byte, c *Counts, st *loadState) error {
	var err error
	switch kind {
	case kindApp:
		var rec appRecord
		if err = lr.decode(line, &rec); err == nil {
			if points.ReservedAppKey(rec.Key) {
				// Written by an older release: the service no longer
				// lets such an app sign in, so it is not carried over.
				return lr.errorf("app_key %q: keys starting with \"@\" are reserved for jifen's own callers (%s is the operators'); "+
					"remove the app from the dump", rec.Key, points.AdminAppKey)
			}
			err = l.InsertApp(ctx, rec.app())
			c.Apps++
		}
	case kindBrand:
		var rec brandRecord
		if err = lr.decode(line, &rec); err == nil {
			var b ledger.Brand
			if b, err = rec.brand(); err == nil {
				err = l.InsertBrand(ctx, b)
				c.Brands++
			}
		}
	case kindShop:
		var rec shopRecord
		if err = lr.decode(line, &rec); err == nil {
			err = l.InsertShop(ctx, rec.shop())
			c.Shops++
		}
	case kindCustomer:
		var rec customerRecord
		if err = lr.decode(line, &rec); err == nil {
			var cu ledger.Customer
			if cu, err = rec.customer(); err == nil {
				err = l.InsertCustomer(ctx, cu)
				c.Customers++
			}
		}
	case kindRule:
		var rec ruleRecord
		if err = lr.decode(line, &rec); err == nil {
			var r ledger.Rule
			if r, err = rec.rule(); err == nil {
				err = l.InsertRule(ctx, r)
				c.Rules++
			}
		}
	case kindAccount:
		var rec accountRecord
		if err = lr.decode(line, &rec); err == nil {
			var rows points.AccountRows
			if rows, err = rec.rows(); err == nil {
				err = l.InsertAccount(ctx, rows)
				c.addAccount(rows)
			}
		}
	case kindReversal:
		var rec reversalRecord
		if err = lr.decode(line, &rec); err == nil {
			var r ledger.Reversal
			if r, err = rec.reversal(); err == nil {
				err = l.InsertReversal(ctx, r)
				c.Reversals++
			}
		}
	case kindIdempotency:
		var rec idempotencyRecord
		if err = lr.decode(line, &rec); err == nil {
			var r ledger.Idempotency
			if r, err = rec.idempotency(); err == nil {
				err = l.InsertIdempotency(ctx, r)
				c.Idempotency++
			}
		}
	case kindOperator:
		var rec operatorRecord
		if err = lr.decode(line, &rec); err == nil {
			var o operator.Operator
			if o, err = rec.operator(); err == nil {
				err = l.InsertOperator(ctx, o)
				c.Operators++
			}
		}
	case kindToken:
		var rec tokenRecord
		if err = lr.decode(line, &rec); err == nil {
			var t OperatorToken
			if t, err = rec.token(); err == nil {
				err = l.InsertOperatorToken(ctx, t)
				c.Tokens++
			}
		}
	case kindEvent:
		var rec eventRecord
		if err = lr.decode(line, &rec); err == nil {
			var e points.Event
			if e, err = rec.event(); err == nil {
				// Positions have no gaps; the log may start after 1 (its
				// start removed after the retention period).
				if st.lastEvent > 0 && e.Pos != st.lastEvent+1 {
					return lr.errorf("event %s at position %d comes after position %d: events must be in position order, without gaps",
						e.ID, e.Pos, st.lastEvent)
				}
				st.lastEvent = e.Pos
				err = l.InsertEvent(ctx, e)
				c.Events++
			}
		}
	case kindWebhook:
		var rec webhookRecord
		if err = lr.decode(line, &rec); err == nil {
			var w webhook.Endpoint
			if w, err = rec.webhook(); err == nil {
				switch {
				case rec.Cursor == nil && lr.version >= 5:
					return lr.errorf("webhook %s: cursor is missing", w.ID)
				case rec.Cursor != nil && (*rec.Cursor < 0 || *rec.Cursor > st.lastEvent):
					return lr.errorf("webhook %s: cursor %d is not a position of the dump's events (0 to %d)",
						w.ID, *rec.Cursor, st.lastEvent)
				}
				err = l.InsertWebhook(ctx, w, rec.Cursor != nil)
				c.Webhooks++
			}
		}
	case kindApproval:
		var rec approvalRecord
		if err = lr.decode(line, &rec); err == nil {
			var a approval.Approval
			if a, err = rec.approval(); err == nil {
				err = l.InsertApproval(ctx, a)
				c.Approvals++
			}
		}
	case kindAudit:
		var rec auditRecord
		if err = lr.decode(line, &rec); err == nil {
			var e audit.Entry
			if e, err = rec.entry(); err == nil {
				// An entry that does not follow from the one before is
				// refused: an import carries the chain as it is or not at
				// all.
				if st.chain.Add(e); st.chain.Err() != nil {
					return lr.errorf("the audit log's chain is broken: %v", st.chain.Err())
				}
				err = l.InsertAudit(ctx, e)
				c.Audit++
			}
		}
	}
	if err != nil && !errors.As(err, new(*lineError)) {
		err = &lineError{Line: lr.n, Err: err}
	}
	return err
}

// lineError is a failure at one line of a dump.
type lineError struct {
	Line int
	Err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *lineError) Unwrap() error { return e.Err }

// lineReader reads a dump line by line, counting lines.
type lineReader struct {
	r    *bufio.Reader
	n    int  // the number of the line last read
	cut  bool // the line last read had no newline at its end
	done bool // the end record was read and checked
	// version is the dump format's version, from the header.
	version int
}

// next returns the next line without its line ending; io.EOF after the
// last. A line may be of any length: an account with many flows is one
// line.
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.r.ReadBytes('\n')
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read the dump after line %d: %w", lr.n, err)
	}
	lr.n++
	lr.cut = err == io.EOF
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, lr.errorf("empty line")
	}
	return line, nil
}

func (lr *lineReader) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if lr.cut {
		err = fmt.Errorf("%w (the line has no end: the dump is truncated)", err)
	}
	return &lineError{Line: lr.n, Err: err}
}

// decode decodes line into v strictly: unknown fields and trailing data
// are errors, and so is text the service refuses (checkStrings).
func (lr *lineReader) decode(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return lr.errorf("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return lr.errorf("data after the record")
	}
	if err := checkStrings("", reflect.ValueOf(v).Elem()); err != nil {
		return lr.errorf("%v", err)
	}
	return nil
}

// checkStrings applies the service's rule for text (points.CheckChars) to
// every string of a decoded record, naming the first it refuses by its
// path of JSON names (flows[2].reason). A dump may come from an older
// release that stored what is refused now: NUL above all, which
// PostgreSQL cannot hold, so that such a dump would load into SQLite and
// fail halfway into PostgreSQL; or control characters in ids. The import
// refuses it naming the line and field, rather than carry it on.
func checkStrings(path string, v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		return points.CheckChars(path, v.String())
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if path != "" {
				name = path + "." + name
			}
			if err := checkStrings(name, v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if err := checkStrings(fmt.Sprintf("%s[%d]", path, i), v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			if err := points.CheckChars(path, k.String()); err != nil {
				return err
			}
			if err := checkStrings(path+"."+k.String(), v.MapIndex(k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// header reads and checks the first line.
func (lr *lineReader) header() error {
	line, err := lr.next()
	if err == io.EOF {
		return errors.New("the dump is empty")
	}
	if err != nil {
		return err
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil || h.Format != Format {
		return lr.errorf("not a jifen dump: the first line is not {\"format\":%q,…}", Format)
	}
	if h.Version < 1 || h.Version > Version {
		return lr.errorf("dump format version %d; this program reads versions 1 to %d", h.Version, Version)
	}
	lr.version = h.Version
	return nil
}

// end checks the end record against what was read, and that nothing
// follows it.
func (lr *lineReader) end(line []byte, got Counts) error {
	var rec endRecord
	if err := lr.decode(line, &rec); err != nil {
		return err
	}
	if rec.Counts != got {
		return lr.errorf("the end record counts %v, but the dump holds %v: it is damaged", rec.Counts, got)
	}
	if _, err := lr.next(); err != io.EOF {
		if err != nil {
			return err
		}
		return lr.errorf("data after the end record")
	}
	return nil
}
