package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"jifen/approval"
	"jifen/audit"
	"jifen/dump"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

// gendumpCmd writes the dump of a synthetic ledger, to be loaded with
// `jifen import`: a ledger with millions of flows in minutes, where making
// them through the gateway would take hours. Every account lives one order
// life cycle — a charge, a payment, a partial refund, a refund of the rest
// — decided by the ledger's own Book, so the flows, hash chains, lots,
// allocations, orders, refunds and idempotency records are those the
// service would have written, and the import's invariant check holds.
type gendumpCmd struct {
	accounts int
	out      string
}

func (c *gendumpCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gendump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.accounts, "accounts", 1000, "accounts to generate (4 flows each)")
	fs.StringVar(&c.out, "o", "", "write the dump to this file (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if c.accounts < 1 {
		return errors.New("gendump: --accounts must be positive")
	}
	w := stdout
	if c.out != "" {
		f, err := os.OpenFile(c.out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	counts, err := dump.Export(ctx, newSynthetic(c.accounts), bw)
	if err != nil {
		return fmt.Errorf("gendump: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "generated %s\n", counts)
	return nil
}

// synthetic is a dump.Source and dump.View of a generated ledger: one
// brand, one shop, one app, and accounts made one at a time, the same each
// time they are asked for (reversals and idempotency records are read by
// making the accounts again).
type synthetic struct {
	n     int
	app   ledger.App
	brand ledger.Brand
	shop  ledger.Shop
	rule  ledger.Rule
	start time.Time
}

func newSynthetic(n int) *synthetic {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &synthetic{n: n, start: start,
		app: ledger.App{Key: "gen-pos", Secret: "gen-secret-0123456789", Name: "generated POS", Active: true,
			Channels: []string{"KRY"}, Brands: []string{"gen-brand"}},
		brand: ledger.Brand{ID: "gen-brand", Name: "生成品牌", TimeZone: "Asia/Shanghai",
			OutIDs: map[string]string{"KRY": "kry-gen"}, Settings: ledger.DefaultSettings()},
		shop: ledger.Shop{ID: "gen-shop", BrandID: "gen-brand", Name: "生成门店", OutIDs: map[string]string{"KRY": "kry-gen-shop"}},
		rule: ledger.Rule{BrandID: "gen-brand", Version: 1, RuleID: "gen-rule", Name: "默认积分规则",
			Clear: ledger.ClearRule{Type: ledger.ClearNever}, CreatedAt: start, UpdatedAt: start},
	}
}

func (s *synthetic) ReadAll(ctx context.Context, fn func(dump.View) error) error { return fn(s) }

func (s *synthetic) Apps(context.Context) ([]ledger.App, error) { return []ledger.App{s.app}, nil }
func (s *synthetic) Brands(context.Context) ([]ledger.Brand, error) {
	return []ledger.Brand{s.brand}, nil
}
func (s *synthetic) Shops(context.Context) ([]ledger.Shop, error) { return []ledger.Shop{s.shop}, nil }
func (s *synthetic) Rules(context.Context) ([]ledger.Rule, error) { return []ledger.Rule{s.rule}, nil }

func (s *synthetic) customerID(i int) string { return fmt.Sprintf("gen-c%09d", i) }

func (s *synthetic) EachCustomer(_ context.Context, fn func(ledger.Customer) error) error {
	for i := range s.n {
		if err := fn(ledger.Customer{ID: s.customerID(i), BrandID: s.brand.ID, LevelID: "L1", CustomerType: 1,
			CreatedAt: s.start}); err != nil {
			return err
		}
	}
	return nil
}

func (s *synthetic) EachAccount(_ context.Context, fn func(points.AccountRows) error) error {
	return s.each(func(rows points.AccountRows, _ []ledger.Reversal, _ []ledger.Idempotency) error { return fn(rows) })
}

func (s *synthetic) EachReversal(_ context.Context, fn func(ledger.Reversal) error) error {
	return s.each(func(_ points.AccountRows, revs []ledger.Reversal, _ []ledger.Idempotency) error {
		for _, r := range revs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// EachIdempotency gives the records in the dump's order (by brand, app key,
// request id): request ids sort with the account's index, which is
// zero-padded, and then by the operation's letter.
func (s *synthetic) EachIdempotency(_ context.Context, fn func(ledger.Idempotency) error) error {
	return s.each(func(_ points.AccountRows, _ []ledger.Reversal, recs []ledger.Idempotency) error {
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Operators, OperatorTokens, Webhooks: a synthetic database has none.
func (s *synthetic) Operators(context.Context) ([]operator.Operator, error)       { return nil, nil }
func (s *synthetic) OperatorTokens(context.Context) ([]dump.OperatorToken, error) { return nil, nil }
func (s *synthetic) Webhooks(context.Context) ([]webhook.Endpoint, error)         { return nil, nil }

// EachApproval: a synthetic database has no operators, so no approvals.
func (s *synthetic) EachApproval(context.Context, func(approval.Approval) error) error { return nil }

// EachEvent: a synthetic ledger was not written through the service, so
// it has no events.
func (s *synthetic) EachEvent(context.Context, func(points.Event) error) error { return nil }

// EachAudit: a synthetic database has no audit log.
func (s *synthetic) EachAudit(context.Context, func(audit.Entry) error) (audit.Head, error) {
	return audit.Head{}, nil
}

// each makes every account in turn and calls fn with it.
func (s *synthetic) each(fn func(points.AccountRows, []ledger.Reversal, []ledger.Idempotency) error) error {
	for i := range s.n {
		rows, revs, recs, err := s.account(i)
		if err != nil {
			return err
		}
		if err := fn(rows, revs, recs); err != nil {
			return err
		}
	}
	return nil
}

// account makes account i: its rows as a store holds them after the four
// writes, its refunds and its idempotency records. Ids are made from i, so
// the same i gives the same account.
func (s *synthetic) account(i int) (points.AccountRows, []ledger.Reversal, []ledger.Idempotency, error) {
	cust := s.customerID(i)
	n := 0
	newID := func() string { n++; return fmt.Sprintf("GEN%09dX%02d", i, n) }
	acct := ledger.Account{BrandID: s.brand.ID, CustomerID: cust}
	lots := map[string]ledger.Lot{}
	var lotOrder []string
	orders := map[string]ledger.Order{}
	var rows points.AccountRows
	var revs []ledger.Reversal
	var recs []ledger.Idempotency
	order := "gen-o" + cust
	var allocs []ledger.Allocation // the order's
	op := func(step string, at time.Duration, decide func(b *ledger.Book, info ledger.Info) (ledger.Flow, error)) error {
		st := ledger.State{Brand: s.brand, Rule: s.rule, Account: acct, Allocs: allocs,
			Order: ledger.Order{BrandID: s.brand.ID, OutBizID: order, CustomerID: cust}}
		if o, ok := orders[order]; ok {
			st.Order = o
		}
		for _, id := range lotOrder {
			st.Lots = append(st.Lots, lots[id].Loaded())
		}
		now := s.start.Add(at + time.Duration(i)*time.Millisecond)
		b := ledger.NewBook(st, now, newID)
		reqID := fmt.Sprintf("gen-%09d-%s", i, step)
		f, err := decide(b, ledger.Info{OutBizID: order, ShopID: s.shop.ID, ShopName: s.shop.Name, Channel: "KRY",
			AppKey: s.app.Key, RequestID: reqID, OperatorID: "op1", OperatorName: "生成"})
		if err != nil {
			return fmt.Errorf("account %d, %s: %w", i, step, err)
		}
		ch := b.Changes()
		// As a store applies them: an inserted row has version 1, an
		// updated one its loaded version plus one.
		acct = ch.Account
		acct.Version = acct.Version + 1
		if !ch.Account.Exists {
			acct.Version = 1
		}
		acct.Exists = true
		for _, l := range ch.Lots {
			if _, ok := lots[l.ID]; !ok {
				lotOrder = append(lotOrder, l.ID)
			}
			lots[l.ID] = l
		}
		rows.Flows = append(rows.Flows, ch.Flows...)
		rows.Allocations = append(rows.Allocations, ch.Allocations...)
		for _, a := range ch.Allocations {
			if a.OrderRef == order {
				allocs = append(allocs, a)
			}
		}
		if o := ch.Order; o != nil {
			v := *o
			v.Version++
			if !o.Exists {
				v.Version = 1
			}
			v.Exists = true
			orders[v.OutBizID] = v
		}
		if r := ch.Reversal; r != nil {
			revs = append(revs, *r)
		}
		recs = append(recs, ledger.Idempotency{BrandID: s.brand.ID, AppKey: s.app.Key, RequestID: reqID, Method: step,
			Fingerprint: fmt.Sprintf("%064x", i), FlowID: f.ID, Result: f.ID, CreatedAt: now})
		return nil
	}
	steps := []struct {
		name string
		at   time.Duration
		do   func(b *ledger.Book, info ledger.Info) (ledger.Flow, error)
	}{
		{"a-charge", 0, func(b *ledger.Book, info ledger.Info) (ledger.Flow, error) {
			return b.Grant(ledger.ExtraCharge, 1000, info), nil
		}},
		{"b-pay", time.Hour, func(b *ledger.Book, info ledger.Info) (ledger.Flow, error) {
			return b.Spend(ledger.DeductFromConsume, 100, info)
		}},
		{"c-refund", 2 * time.Hour, func(b *ledger.Book, info ledger.Info) (ledger.Flow, error) {
			info.ReverseOrderID = order + "-r1"
			return b.ReverseSpend(40, info)
		}},
		{"d-refund", 3 * time.Hour, func(b *ledger.Book, info ledger.Info) (ledger.Flow, error) {
			info.ReverseOrderID = order + "-r2"
			return b.ReverseSpend(0, info)
		}},
	}
	for _, st := range steps {
		if err := op(st.name, st.at, st.do); err != nil {
			return rows, nil, nil, err
		}
	}
	// ReverseSpend leaves Requested to the service: the amount asked for.
	if len(revs) == 2 {
		revs[0].Requested = 40
	}
	rows.Account = acct
	for _, id := range lotOrder {
		rows.Lots = append(rows.Lots, lots[id])
	}
	for _, o := range orders {
		rows.Orders = append(rows.Orders, o)
	}
	return rows, revs, recs, nil
}
