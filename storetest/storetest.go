// Package storetest is the conformance suite every store runs: each ledger
// behaviour, exercised through the service against a real database. A
// store's own tests call Run with a function that opens a fresh, empty
// store for one test.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// Store is what the suite needs of a store: the service's, the
// invariant check's and the operators' reads.
type Store interface {
	points.Store
	points.Auditor
	backoffice.Reader
}

// Opener opens a fresh, empty store for one test; the suite closes it.
type Opener func(t testing.TB) Store

// Clock is a settable clock for tests of expiry and timeouts.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// Env is one test's world: a service over a fresh store holding a brand
// "B1" (KRY out id "kry-b1") with shops "S1" (KRY "kry-s1") and "S2", a
// brand "B2" with shop "S9", customers "C1", "C2" (level L1) and "C3" of
// B1 and "X1" of B2, and an app "pos" allowed for B1 on KRY and CS.
type Env struct {
	T      testing.TB
	Ctx    context.Context
	Store  Store
	Svc    *points.Service
	Clock  *Clock
	Caller points.Caller
	seq    int
	mu     sync.Mutex
}

// Start is the suite's fixed starting time: 2026-03-01 10:00 in Shanghai.
var Start = time.Date(2026, 3, 1, 10, 0, 0, 0, ledger.Shanghai)

// NewEnv provisions the standard world on a fresh store and checks every
// invariant when the test ends.
func NewEnv(t testing.TB, open Opener) *Env {
	t.Helper()
	st := open(t)
	clock := NewClock(Start)
	e := &Env{T: t, Ctx: context.Background(), Store: st, Clock: clock, Svc: points.New(st, clock, nil)}
	settings := ledger.DefaultSettings()
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{
		Apps: []ledger.App{
			{Key: "pos", Secret: "s3cret", Name: "POS", Active: true, Channels: []string{"KRY", "CS"}, Brands: []string{"B1"}},
			{Key: "other", Secret: "x", Name: "Other", Active: true, Channels: []string{"CS"}, Brands: []string{"B2"}},
		},
		Brands: []points.TenantBrand{
			{Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai", OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: settings},
				Shops: []ledger.Shop{{ID: "S1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}, {ID: "S2", Name: "滨江店"}}},
			{Brand: ledger.Brand{ID: "B2", Name: "Brand 2", Settings: settings}, Shops: []ledger.Shop{{ID: "S9", Name: "Other shop"}}},
		},
		Customers: []ledger.Customer{
			{ID: "C1", BrandID: "B1", Mobile: "13800000001", Name: "张三", LevelID: "L1"},
			{ID: "C2", BrandID: "B1", Mobile: "13800000002", Name: "李四", LevelID: "L1"},
			{ID: "C3", BrandID: "B1", Mobile: "13800000003", Name: "王五", LevelID: "L2"},
			{ID: "X1", BrandID: "B2", Name: "Other"},
		},
	})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	app, err := st.App(e.Ctx, "pos")
	if err != nil {
		t.Fatal(err)
	}
	e.Caller = points.Caller{App: app}
	t.Cleanup(func() {
		e.MustVerify()
		CheckFlowEvents(t, e.Ctx, st, e.Svc)
		if err := st.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// MustVerify fails the test if any invariant is broken.
func (e *Env) MustVerify() {
	e.T.Helper()
	rep, err := points.Verify(e.Ctx, e.Store)
	if err != nil {
		e.T.Fatalf("verify: %v", err)
	}
	for _, v := range rep.Violations {
		e.T.Errorf("invariant broken: %s", v)
	}
}

// ReqID makes a fresh request id.
func (e *Env) ReqID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return fmt.Sprintf("req-%d", e.seq)
}

// B1S1 targets brand B1, shop S1 on KRY by internal ids.
var B1S1 = points.Target{BrandID: "B1", ShopID: "S1", Channel: "KRY"}

// Order builds an order request for C1 by default.
func (e *Env) Order(order string, n int64) points.OrderRequest {
	return points.OrderRequest{Target: B1S1, CustomerID: "C1", Points: n, OutBizID: order,
		OperatorID: "op1", OperatorName: "小王", RequestID: e.ReqID()}
}

// MustCharge grants n points to customer for order.
func (e *Env) MustCharge(customer, order string, n int64) points.Outcome {
	e.T.Helper()
	r := e.Order(order, n)
	r.CustomerID = customer
	out, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, r)
	if err != nil {
		e.T.Fatalf("charge %d to %s: %v", n, customer, err)
	}
	return out
}

// MustConsume spends n points of customer for order.
func (e *Env) MustConsume(customer, order string, n int64) points.Outcome {
	e.T.Helper()
	r := e.Order(order, n)
	r.CustomerID = customer
	out, err := e.Svc.Consume(e.Ctx, e.Caller, r)
	if err != nil {
		e.T.Fatalf("consume %d of %s: %v", n, customer, err)
	}
	return out
}

// Reverse builds a reversal of order.
func (e *Env) Reverse(order, refund string, n *int64) points.ReverseRequest {
	return points.ReverseRequest{Target: B1S1, Type: ledger.DeductReverse, Points: n, OutBizID: order,
		ReverseOrderID: refund, OperatorID: "op1", OperatorName: "小王", RequestID: e.ReqID()}
}

// Available is a customer's spendable balance now.
func (e *Env) Available(customer string) int64 {
	e.T.Helper()
	return e.View(customer).Available
}

// View is a customer's account view now.
func (e *Env) View(customer string) points.AccountView {
	e.T.Helper()
	c, err := e.Store.Customer(e.Ctx, customer)
	if err != nil {
		e.T.Fatal(err)
	}
	v, err := e.Svc.Account(e.Ctx, c)
	if err != nil {
		e.T.Fatal(err)
	}
	return v
}

// FlowCount is how many flows are stored for the customer (of B1).
func (e *Env) FlowCount(customer string) int {
	e.T.Helper()
	_, n, err := e.Store.Flows(e.Ctx, points.FlowQuery{BrandID: "B1", CustomerID: customer, Limit: 1})
	if err != nil {
		e.T.Fatal(err)
	}
	return n
}

// Flows lists the customer's flows, newest first.
func (e *Env) Flows(customer string) []ledger.Flow {
	e.T.Helper()
	fs, _, err := e.Store.Flows(e.Ctx, points.FlowQuery{BrandID: "B1", CustomerID: customer})
	if err != nil {
		e.T.Fatal(err)
	}
	return fs
}

// WantCode fails unless err is the business outcome code.
func WantCode(t testing.TB, err error, code string) {
	t.Helper()
	if !ledger.IsCode(err, code) {
		t.Fatalf("got %v, want business outcome %s", err, code)
	}
}

// WantInvalid fails unless err is an invalid parameter naming field.
func WantInvalid(t testing.TB, err error, field string) {
	t.Helper()
	e, ok := ledger.AsError(err)
	if !ok || e.Kind != ledger.KindInvalid || e.Field != field {
		t.Fatalf("got %v, want invalid parameter %s", err, field)
	}
}

// P is a pointer to n.
func P(n int64) *int64 { return &n }
