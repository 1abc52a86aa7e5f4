package dump_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"jifen/approval"
	"jifen/backoffice"
	"jifen/dump"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/postgres"
	"jifen/sqlite"
	"jifen/storetest"
	"jifen/webhook"
)

// store is what these tests need of a store: both ends of a move.
type store interface {
	storetest.Store
	dump.Source
	dump.Target
}

func openSQLite(t testing.TB) storetest.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jifen.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // Close may run twice
	return s
}

func openPostgres(t testing.TB) storetest.Store { return postgres.OpenTest(t) }

func asStore(t testing.TB, s storetest.Store) store {
	t.Helper()
	st, ok := s.(store)
	if !ok {
		t.Fatalf("%T is not a dump source and target", s)
	}
	return st
}

// world is a ledger written through the service, and requests to replay.
type world struct {
	*storetest.Env
	consume  points.OrderRequest // an accepted consume, to replay on the target
	consumed points.Outcome
	created  string // a customer made by customer.create
	// An operator's password and token, a revoked token, a webhook's
	// secret.
	password, token, revoked, webhookSecret string
	// pendingPos is the event crm's delivery is pending for.
	pendingPos int64
	// pendingApproval is an adjustment waiting for a second operator.
	pendingApproval string
}

// bcryptMinCost keeps the tests' password hashing quick.
const bcryptMinCost = 4

// populate writes, through the service over a store from open, a ledger
// with something of everything: a rule changed twice (a level rule
// deleted), consumes, partial and full refunds, a claw-back into debt and
// its repayment, expiry written by a sweep at a later clock, a refund of
// expired points, a hold left active, a customer created with an
// idempotency record that is not a flow, awkward strings.
func populate(t *testing.T, open storetest.Opener) *world {
	t.Helper()
	e := storetest.NewEnv(t, open)
	w := &world{Env: e}
	settings := ledger.DefaultSettings()
	settings.ClawbackShortfall = ledger.ShortfallDebt
	settings.HoldTimeout = 48 * time.Hour
	settings.ApprovalAbove = 100
	rule := &ledger.Rule{Name: "默认积分规则", Clear: ledger.ClearRule{Type: ledger.ClearDaysAfterEarn, Days: 30},
		WithCoupon: true,
		Deduction: []ledger.DeductionRule{
			{LevelID: "", DeductedPoint: 100, ConsumeMoney: 5000, Enable: true, HasUpperLimit: true, MaxPoint: 5000},
			{LevelID: "L2", DeductedPoint: 100, ConsumeMoney: 5000, Enable: false}},
		Addition: []ledger.AdditionRule{{LevelID: "", ConsumeMoney: 1000, RewardPoint: 1, Enable: true}}}
	b1 := points.TenantBrand{Brand: ledger.Brand{ID: "B1", Name: "Brand 1", TimeZone: "Asia/Shanghai",
		OutIDs: map[string]string{"KRY": "kry-b1", "CS": "cs-b1"}, Settings: settings},
		Shops: []ledger.Shop{{ID: "S1", Name: "西湖店", OutIDs: map[string]string{"KRY": "kry-s1"}}, {ID: "S2", Name: "滨江店"}},
		Rule:  rule}
	b2 := points.TenantBrand{Brand: ledger.Brand{ID: "B2", Name: `Brand "2" <&>`, TimeZone: "America/New_York",
		Settings: ledger.DefaultSettings()}, Shops: []ledger.Shop{{ID: "S9", Name: "Other shop"}}}
	apps := []ledger.App{{Key: "audit", Secret: "s\"3<>&", Name: "只读", Active: false, RateLimit: 12.5},
		{Key: "Zulu", Secret: "z", Name: "sorts before audit byte by byte", Active: true, Channels: []string{}, Brands: []string{"*"}}}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Apps: apps, Brands: []points.TenantBrand{b1, b2}}); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g1", 500)
	e.MustCharge("C2", "g2", 300)
	e.MustCharge("C3", "g3", 100)

	// A rule change an hour on: L2's level rule disappears (kept,
	// logically deleted, for incremental sync).
	e.Clock.Advance(time.Hour + 1234*time.Microsecond)
	rule.Deduction = rule.Deduction[:1]
	rule.Name = "新规则"
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{b1}}); err != nil {
		t.Fatal(err)
	}

	w.consume = e.Order("o1", 200)
	out, err := e.Svc.Consume(e.Ctx, e.Caller, w.consume)
	if err != nil {
		t.Fatal(err)
	}
	w.consumed = out
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r1", storetest.P(50))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o1", "r2", nil)); err != nil {
		t.Fatal(err)
	}
	// Claw-back with a shortfall booked as debt, then repaid by a charge.
	e.MustCharge("C2", "earn-9", 80)
	e.MustConsume("C2", "o2", 350)
	cb := e.Reverse("earn-9", "cb1", nil)
	cb.Type = ledger.ExtraChargeReverse
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, cb); err != nil {
		t.Fatal(err)
	}
	if v := e.View("C2"); v.Debt != 50 {
		t.Fatalf("C2 debt %d, want 50", v.Debt)
	}
	e.MustCharge("C2", "g5", 70)
	e.MustConsume("C1", "o3", 100)

	// Past the 30 days: the sweep writes the expired lots off; C1 is then
	// refunded points whose lot expired (grace).
	e.Clock.Advance(40 * 24 * time.Hour)
	if res, err := e.Svc.Sweep(e.Ctx); err != nil || res.Expired == 0 {
		t.Fatalf("sweep %+v %v, want expiries", res, err)
	}
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse("o3", "r3", storetest.P(30))); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g6", 90)
	if _, err := e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: points.Target{BrandID: "B1", ShopID: "S1"},
		Type: points.OperateFreeze, Points: 60, OuterOrderID: "H1", Customer: points.CustomerLookup{CustomerID: "C1"},
		OperatorID: "op1", RequestID: e.ReqID()}); err != nil {
		t.Fatal(err)
	}
	created, err := e.Svc.CreateCustomer(e.Ctx, e.Caller, points.CreateCustomerRequest{Target: points.Target{BrandID: "B1"},
		RequestID: e.ReqID(), Customer: ledger.Customer{Channel: "KRY", CustomerType: 1, OuterType: "alipay",
			OuterID: "ali-1", Mobile: "13900000000", Name: "赵六 🙂", Remark: "line1\nline2\t\"<b>&amp;</b>\\",
			Birthday: "1990-01-02"}})
	if err != nil {
		t.Fatal(err)
	}
	w.created = created.Result
	e.MustCharge(w.created, "g7", 10)
	// Operators with tokens (one revoked), one disabled; webhooks, one
	// disabled.
	ops := operator.New(e.Store.(operator.Store), e.Svc, "")
	ops.SetPasswordCost(bcryptMinCost)
	a, err := ops.Add(e.Ctx, operator.NewOperator{Name: "张经理", Role: operator.Support, Brands: []string{"B1"}, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	w.password, w.token = a.Password, a.Secret
	if _, _, err := ops.CreateToken(e.Ctx, a.Operator.ID, "报表"); err != nil {
		t.Fatal(err)
	}
	if err := ops.RevokeToken(e.Ctx, a.Operator.ID, a.Token.ID); err != nil {
		t.Fatal(err)
	}
	w.revoked = a.Secret
	b, err := ops.Add(e.Ctx, operator.NewOperator{Name: "ops", Role: operator.Admin})
	if err != nil {
		t.Fatal(err)
	}
	w.token = b.Secret
	disabled := true
	if _, err := ops.Update(e.Ctx, b.Operator.ID, operator.Change{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	disabled = false
	if _, err := ops.Update(e.Ctx, b.Operator.ID, operator.Change{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	c, err := ops.Add(e.Ctx, operator.NewOperator{Name: "离职员工", Role: operator.Viewer})
	if err != nil {
		t.Fatal(err)
	}
	disabled = true
	if _, err := ops.Update(e.Ctx, c.Operator.ID, operator.Change{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	// Four eyes: 张经理's adjustment above approval_above waits; another
	// was rejected by ops.
	aps := approval.New(e.Store.(approval.Store), e.Admin())
	asker, boss := operator.PrincipalOf(a.Operator), operator.PrincipalOf(b.Operator)
	_, pending, err := aps.Adjust(e.Ctx, asker, points.AdjustRequest{CustomerID: "C3", Points: 150, Reason: "补偿", RequestID: e.ReqID()})
	if err != nil || pending == nil {
		t.Fatalf("an adjustment to approve: %v, %v", pending, err)
	}
	w.pendingApproval = pending.ID
	_, rejected, err := aps.Adjust(e.Ctx, asker, points.AdjustRequest{CustomerID: "C1", Points: -120, Reason: "误发", RequestID: e.ReqID()})
	if err != nil || rejected == nil {
		t.Fatalf("an adjustment to reject: %v, %v", rejected, err)
	}
	if _, err := aps.Reject(e.Ctx, boss, rejected.ID, "不符合规定"); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{
		{ID: "crm", URL: "https://crm.example.com/e", Brands: []string{"B1"}, Events: []string{points.EventFlowCreated}},
		{ID: "old", URL: "https://old.example.com/e", Disabled: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.webhookSecret = rep.WebhookSecrets["crm"]
	// Two events after crm's cursor; a batch moved the cursor past both
	// but left the first pending (its attempt failed): a move resumes crm
	// before it, so neither is skipped.
	ws := e.Store.(webhook.Store)
	crm, err := ws.Webhook(e.Ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g-after-1", 7)
	e.MustCharge("C3", "g-after-2", 8)
	evs, err := e.Svc.Events(e.Ctx, points.EventQuery{After: crm.ScheduledPos})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events after crm's cursor: %d, %v; want 2", len(evs), err)
	}
	w.pendingPos = evs[0].Pos
	if ok, err := storetest.Schedule(e.Ctx, ws, "crm", crm.ScheduledPos, evs[1].Pos, []webhook.Queued{
		{Pos: evs[0].Pos, BrandID: evs[0].BrandID, Subject: evs[0].Subject}}, e.Clock.Now()); err != nil || !ok {
		t.Fatalf("schedule: %v %v", ok, err)
	}
	// On PostgreSQL this write's event is not yet numbered when the dump
	// is made: no reader has placed it.
	e.MustCharge("C2", "g-last", 3)
	if v := e.View("C1"); v.Frozen != 60 {
		t.Fatalf("C1 frozen %d, want 60", v.Frozen)
	}
	// The ledger holds every kind of row the move must carry.
	fs, _, err := e.Store.Flows(e.Ctx, points.FlowQuery{})
	if err != nil {
		t.Fatal(err)
	}
	types := map[ledger.FlowType]bool{}
	grace := false
	for _, f := range fs {
		types[f.Type] = true
		grace = grace || f.Policy == ledger.RefundGrace
	}
	for _, typ := range []ledger.FlowType{ledger.ExtraCharge, ledger.DeductFromConsume, ledger.DeductReverse,
		ledger.ExtraChargeReverse, ledger.DebtRepay, ledger.Expire, ledger.Freeze} {
		if !types[typ] {
			t.Fatalf("no %s flow among %d", typ, len(fs))
		}
	}
	if !grace {
		t.Fatal("no refund of expired points under the grace policy")
	}
	e.MustVerify()
	return w
}

func mustExport(t *testing.T, src dump.Source) ([]byte, dump.Counts) {
	t.Helper()
	var buf bytes.Buffer
	c, err := dump.Export(context.Background(), src, &buf)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return buf.Bytes(), c
}

// sameBytes fails with the first differing line unless a and b are equal.
func sameBytes(t *testing.T, a, b []byte) {
	t.Helper()
	if bytes.Equal(a, b) {
		return
	}
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < min(len(al), len(bl)); i++ {
		if al[i] != bl[i] {
			t.Fatalf("exports differ at line %d:\n first: %s\nsecond: %s", i+1, al[i], bl[i])
		}
	}
	t.Fatalf("exports differ in length: %d and %d lines", len(al), len(bl))
}

// sameLedger fails unless a and b answer the same: apps, brands, shops,
// rules, customers, balances and flow lists.
func sameLedger(t *testing.T, a, b storetest.Store, customers []string) {
	t.Helper()
	ctx := context.Background()
	same := func(what string, x, y any, ex, ey error) {
		t.Helper()
		if errors.Is(ex, points.ErrNotFound) && errors.Is(ey, points.ErrNotFound) {
			return
		}
		if ex != nil || ey != nil {
			t.Fatalf("%s: %v, %v", what, ex, ey)
		}
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s differ:\nsource %+v\ntarget %+v", what, x, y)
		}
	}
	aa, ea := a.Apps(ctx)
	ab, eb := b.Apps(ctx)
	same("apps", aa, ab, ea, eb)
	for _, id := range []string{"B1", "B2"} {
		x, ex := a.Brand(ctx, id)
		y, ey := b.Brand(ctx, id)
		same("brand "+id, x, y, ex, ey)
		xs, ex := a.Shops(ctx, id)
		ys, ey := b.Shops(ctx, id)
		same("shops of "+id, xs, ys, ex, ey)
		xr, ex := a.Rule(ctx, id)
		yr, ey := b.Rule(ctx, id)
		same("rule of "+id, xr, yr, ex, ey)
	}
	for _, c := range customers {
		x, ex := a.Customer(ctx, c)
		y, ey := b.Customer(ctx, c)
		same("customer "+c, x, y, ex, ey)
		brand := x.BrandID
		xa, ex := a.Account(ctx, brand, c)
		ya, ey := b.Account(ctx, brand, c)
		same("account "+c, xa, ya, ex, ey)
		xl, ex := a.LiveLots(ctx, brand, c)
		yl, ey := b.LiveLots(ctx, brand, c)
		same("live lots of "+c, xl, yl, ex, ey)
	}
	xf, xn, ex := a.Flows(ctx, points.FlowQuery{})
	yf, yn, ey := b.Flows(ctx, points.FlowQuery{})
	same("flow lists", xf, yf, ex, ey)
	if xn != yn {
		t.Errorf("flow counts %d and %d", xn, yn)
	}
}

// TestExportImport moves a populated ledger between stores, each way, and
// checks that the target verifies, answers as the source did, dumps to
// the same bytes, and goes on working.
func TestExportImport(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to storetest.Opener
	}{
		{"SQLiteToPostgres", openSQLite, openPostgres},
		{"PostgresToSQLite", openPostgres, openSQLite},
		{"SQLiteToSQLite", openSQLite, openSQLite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := populate(t, tc.from)
			first, counts := mustExport(t, asStore(t, w.Store))
			if counts.Accounts != 4 || counts.Rules != 2 || counts.Holds != 1 || counts.Reversals != 4 || counts.Customers != 5 {
				t.Fatalf("exported %v", counts)
			}
			dst := asStore(t, tc.to(t))
			got, err := dump.Import(ctx, dst, bytes.NewReader(first))
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if got != counts {
				t.Fatalf("imported %v, exported %v", got, counts)
			}
			rep, err := points.Verify(ctx, dst)
			if err != nil || !rep.OK() {
				t.Fatalf("verify the target: %v %v", rep.Violations, err)
			}
			if rep.Accounts != counts.Accounts || rep.Flows != counts.Flows || rep.Idempotency != counts.Idempotency {
				t.Fatalf("verified %+v, imported %v", rep, counts)
			}
			sameLedger(t, w.Store, dst, []string{"C1", "C2", "C3", "X1", w.created})
			if counts.Operators != 3 || counts.Tokens != 4 || counts.Webhooks != 2 {
				t.Fatalf("exported %v, want 3 operators, 4 tokens, 2 webhooks", counts)
			}
			second, _ := mustExport(t, dst)
			sameBytes(t, first, second)
			sameEvents(t, w, dst, counts)
			sameApprovals(t, w, dst, counts)
			sameOperators(t, w, dst)
			stillWorks(t, w, dst)
		})
	}
}

// sameEvents checks that the event log moved whole, positions and all:
// a consumer's cursor means the same on the target, whose next event
// comes after the last carried; and that crm resumes before the event
// whose delivery was pending.
func sameEvents(t *testing.T, w *world, dst store, counts dump.Counts) {
	t.Helper()
	ctx := context.Background()
	read := func(s storetest.Store) []points.Event {
		var all []points.Event
		var after int64
		for {
			evs, err := points.New(s, nil, nil).Events(ctx, points.EventQuery{After: after, Limit: 7})
			if err != nil {
				t.Fatalf("events: %v", err)
			}
			if len(evs) == 0 {
				return all
			}
			all = append(all, evs...)
			after = evs[len(evs)-1].Pos
		}
	}
	src, got := read(w.Store), read(dst)
	if len(src) < 20 || counts.Events != len(src) {
		t.Fatalf("%d events in the source, %d exported", len(src), counts.Events)
	}
	if len(got) != len(src) {
		t.Fatalf("%d events on the target, %d in the source", len(got), len(src))
	}
	for i := range src {
		a, b := src[i], got[i]
		if a.Pos != b.Pos || a.ID != b.ID || a.BrandID != b.BrandID || a.Type != b.Type || a.Subject != b.Subject ||
			!a.Time.Equal(b.Time) || string(a.Data) != string(b.Data) {
			t.Fatalf("event %d moved as\n%+v\nwas\n%+v", i, b, a)
		}
	}
	crm, err := dst.(webhook.Store).Webhook(ctx, "crm")
	if err != nil || crm.ScheduledPos != w.pendingPos-1 {
		t.Fatalf("crm's cursor on the target: %d, %v; want %d (before its pending delivery)", crm.ScheduledPos, err, w.pendingPos-1)
	}
	// The target numbers its own events after the carried ones.
	last := src[len(src)-1].Pos
	svc := points.New(dst, storetest.NewClock(w.Clock.Now()), nil)
	app, err := dst.App(ctx, "pos")
	if err != nil {
		t.Fatal(err)
	}
	r := w.Order("o-events", 1)
	r.CustomerID = "C1"
	if _, err := svc.Consume(ctx, points.Caller{App: app}, r); err != nil {
		t.Fatalf("consume on the target: %v", err)
	}
	evs, err := svc.Events(ctx, points.EventQuery{After: last})
	if err != nil || len(evs) != 1 || evs[0].Pos != last+1 {
		t.Fatalf("the target's first event: %+v, %v; want one at %d", evs, err, last+1)
	}
}

// sameApprovals checks that the approvals moved as they were, and that
// the pending one is approved on the target by another operator and
// executes there.
func sameApprovals(t *testing.T, w *world, dst store, counts dump.Counts) {
	t.Helper()
	ctx := context.Background()
	list := func(s storetest.Store) []approval.Approval {
		as, err := s.(approval.Store).Approvals(ctx, approval.Query{Limit: approval.MaxList})
		if err != nil {
			t.Fatal(err)
		}
		return as
	}
	src, got := list(w.Store), list(dst)
	if len(src) != 2 || !reflect.DeepEqual(src, got) || counts.Approvals != 2 {
		t.Fatalf("approvals on the target:\n%+v\nin the source:\n%+v", got, src)
	}
	svc := points.New(dst, storetest.NewClock(w.Clock.Now()), nil)
	ops := operator.New(dst.(operator.Store), svc, "")
	boss, err := ops.ByName(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	available := func() int64 {
		t.Helper()
		c, err := dst.Customer(ctx, "C3")
		if err != nil {
			t.Fatal(err)
		}
		v, err := svc.Account(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return v.Available
	}
	before := available()
	a, err := approval.New(dst.(approval.Store), backoffice.New(svc, dst)).Approve(ctx, operator.PrincipalOf(boss), w.pendingApproval)
	if err != nil || a.State != approval.Approved || a.Result == "" {
		t.Fatalf("approve the moved approval: %+v, %v", a, err)
	}
	if after := available(); after != before+150 {
		t.Fatalf("C3 has %d after the approved adjustment, had %d; want 150 more", after, before)
	}
}

// sameOperators checks the moved operators and webhooks at work: a
// password and a token sign in as they did, a revoked token and a
// disabled operator do not, a webhook keeps its secret and state.
func sameOperators(t *testing.T, w *world, dst store) {
	t.Helper()
	ctx := context.Background()
	ops := operator.New(dst.(operator.Store), points.New(dst, nil, nil), "")
	p, err := ops.Authenticate(ctx, w.token)
	if err != nil || p.Name != "ops" {
		t.Fatalf("a moved token: %+v, %v", p, err)
	}
	if _, err := ops.Authenticate(ctx, w.revoked); err == nil {
		t.Fatal("a revoked token authenticates after the move")
	}
	m, err := ops.ByName(ctx, "张经理")
	if err != nil || m.Limit != 500 || len(m.Brands) != 1 || m.Role != operator.Support {
		t.Fatalf("moved operator: %+v, %v", m, err)
	}
	if err := ops.ChangePassword(ctx, m.ID, w.password, "a-new-password-1"); err != nil {
		t.Fatalf("the moved password: %v", err)
	}
	if gone, err := ops.ByName(ctx, "离职员工"); err != nil || !gone.Disabled {
		t.Fatalf("a disabled operator after the move: %+v, %v", gone, err)
	}
	ws := dst.(webhook.Store)
	crm, err := ws.Webhook(ctx, "crm")
	if err != nil || crm.Secret != w.webhookSecret || !crm.Active() || fmt.Sprint(crm.Brands, crm.Events) != "[B1] [point.flow.created]" {
		t.Fatalf("moved webhook: %+v, %v", crm, err)
	}
	if old, err := ws.Webhook(ctx, "old"); err != nil || old.Active() || old.DisabledReason != points.WebhookDisabledByOperator {
		t.Fatalf("a disabled webhook after the move: %+v, %v", old, err)
	}
}

// stillWorks uses the imported ledger through the service: replays,
// incremental rule sync, a new write on the moved chain, the sweep.
func stillWorks(t *testing.T, w *world, dst store) {
	t.Helper()
	ctx := context.Background()
	clock := storetest.NewClock(w.Clock.Now())
	svc := points.New(dst, clock, nil)
	app, err := dst.App(ctx, "pos")
	if err != nil {
		t.Fatal(err)
	}
	caller := points.Caller{App: app}
	out, err := svc.Consume(ctx, caller, w.consume)
	if err != nil || !out.Replayed || out.FlowID != w.consumed.FlowID {
		t.Fatalf("replay on the target: %+v %v, want flow %s replayed", out, err, w.consumed.FlowID)
	}
	ans, err := svc.GetRule(ctx, caller, points.RuleRequest{Target: points.Target{BrandID: "B1"},
		MaxUpdateTime: storetest.Start, IncludeLogicalDelete: true})
	if err != nil || ans.Unchanged || ans.Rule.Version != 2 {
		t.Fatalf("rule sync on the target: %+v %v, want version 2", ans, err)
	}
	deleted := 0
	for _, d := range ans.Rule.Deduction {
		if d.Deleted && d.LevelID == "L2" {
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("rule sync on the target: %+v, want L2 logically deleted", ans.Rule.Deduction)
	}
	r := w.Order("o-new", 20)
	if _, err := svc.Consume(ctx, caller, r); err != nil {
		t.Fatalf("consume on the target: %v", err)
	}
	clock.Advance(72 * time.Hour)
	res, err := svc.Sweep(ctx)
	if err != nil || res.Released != 1 {
		t.Fatalf("sweep on the target: %+v %v, want the hold released", res, err)
	}
	rep, err := points.Verify(ctx, dst)
	if err != nil || !rep.OK() {
		t.Fatalf("verify the target after new writes: %v %v", rep.Violations, err)
	}
}

// TestImportRefuses checks that what Import refuses leaves the target as
// it was: a target that is not empty, a truncated dump, a damaged line.
func TestImportRefuses(t *testing.T) {
	ctx := context.Background()
	w := populate(t, openSQLite)
	good, _ := mustExport(t, asStore(t, w.Store))
	lines := strings.SplitAfter(string(good), "\n")
	lines = lines[:len(lines)-1] // the "" after the last newline
	join := func(ls []string) []byte { return []byte(strings.Join(ls, "")) }
	replace := func(i int, s string) []byte {
		ls := append([]string(nil), lines...)
		ls[i] = s
		return join(ls)
	}

	t.Run("NotEmpty", func(t *testing.T) {
		before, _ := mustExport(t, asStore(t, w.Store))
		_, err := dump.Import(ctx, asStore(t, w.Store), bytes.NewReader(good))
		if !errors.Is(err, dump.ErrNotEmpty) || !strings.Contains(err.Error(), "apps") {
			t.Fatalf("import into a populated store: %v, want ErrNotEmpty naming what it holds", err)
		}
		after, _ := mustExport(t, asStore(t, w.Store))
		sameBytes(t, before, after)
	})

	// edit replaces find by repl in the first line holding it, and names
	// that line as an error does.
	edit := func(find, repl string) ([]byte, string) {
		for i, l := range lines {
			if strings.Contains(l, find) {
				return replace(i, strings.Replace(l, find, repl, 1)), fmt.Sprintf("line %d: ", i+1)
			}
		}
		t.Fatalf("no line of the dump holds %s", find)
		return nil, ""
	}
	nul, nulLine := edit(`"name":"张三"`, `"name":"张\u0000三"`)
	esc, escLine := edit(`"out_biz_id":"o1"`, `"out_biz_id":"o\u001b1"`)
	reserved, reservedLine := edit(`"app_key":"audit"`, `"app_key":"@audit"`)

	evType, evTypeLine := edit(`"type":"point.flow.created"`, `"type":"point.made.up"`)
	apState, apStateLine := edit(`"state":"pending"`, `"state":"maybe"`)
	var apRequest []byte
	var apRequestLine string
	for i, l := range lines {
		if strings.Contains(l, `"kind":"approval"`) {
			apRequest = replace(i, regexp.MustCompile(`"request":\{[^}]*\}`).ReplaceAllString(l, `"request":[]`))
			apRequestLine = fmt.Sprintf("line %d: ", i+1)
			break
		}
	}
	crm := `"webhook_id":"crm"`
	var evData, cursor, noCursor []byte
	var evDataLine, cursorLine, noCursorLine string
	op, ev := -1, -1
	for i, l := range lines {
		if strings.Contains(l, crm) {
			noCursor = replace(i, regexp.MustCompile(`,"cursor":\d+`).ReplaceAllString(l, ""))
			cursor = replace(i, regexp.MustCompile(`"cursor":\d+`).ReplaceAllString(l, `"cursor":99999`))
			noCursorLine = fmt.Sprintf("line %d: ", i+1)
			cursorLine = noCursorLine
		}
		if evData == nil && strings.Contains(l, `"kind":"event"`) {
			evData = replace(i, regexp.MustCompile(`"data":\{.*\}\}`).ReplaceAllString(l, `"data":[1]}`))
			evDataLine = fmt.Sprintf("line %d: ", i+1)
		}
		if op < 0 && strings.Contains(l, `"kind":"operator"`) {
			op = i
		}
		if ev < 0 && strings.Contains(l, `"kind":"event"`) {
			ev = i
		}
	}
	if op < 0 || ev < 0 || noCursor == nil {
		t.Fatal("the dump lacks an operator, an event or crm")
	}
	middle := len(lines) / 2
	for _, tc := range []struct {
		name string
		dump []byte
		want string
	}{
		{"Empty", nil, "empty"},
		{"NotADump", []byte("hello\n"), "line 1: not a jifen dump"},
		{"NewerVersion", replace(0, `{"format":"jifen-dump","version":6}`+"\n"), "version 6"},
		{"NoEnd", join(lines[:len(lines)-1]), "without its end record: it is truncated"},
		{"CutInTheMiddle", join(lines[:middle]), "truncated"},
		{"CutMidLine", append(join(lines[:middle]), lines[middle][:len(lines[middle])/2]...), fmt.Sprintf("line %d:", middle+1)},
		{"CorruptLine", replace(5, "{\"kind\":\"customer\",garbage\n"), "line 6:"},
		{"UnknownField", replace(1, strings.Replace(lines[1], `"kind":"app",`, `"kind":"app","colour":"red",`, 1)), `line 2: json: unknown field "colour"`},
		{"UnknownKind", replace(2, `{"kind":"planet"}`+"\n"), `line 3: unknown record kind "planet"`},
		{"MissingLine", append(join(lines[:middle]), join(lines[middle+1:])...), "the end record counts"},
		{"DuplicateLine", append(join(lines[:middle+1]), join(lines[middle:])...), "already stored"},
		{"OutOfOrder", join(append(append([]string{lines[0], lines[op]}, lines[1:op]...), lines[op+1:]...)), "out of order"},
		{"EventGap", join(append(append([]string(nil), lines[:ev+1]...), lines[ev+2:]...)), fmt.Sprintf("line %d: event ", ev+2)},
		{"EventsOutOfOrder", join(append(append(append([]string(nil), lines[:ev]...), lines[ev+1], lines[ev]), lines[ev+2:]...)),
			fmt.Sprintf("line %d: event ", ev+2)},
		{"EventType", evType, evTypeLine + `type "point.made.up" is not an event type`},
		{"EventData", evData, evDataLine + "data is not a JSON object"},
		{"CursorBeyondTheEvents", cursor, cursorLine + "webhook crm: cursor 99999 is not a position of the dump's events"},
		{"NoCursor", noCursor, noCursorLine + "webhook crm: cursor is missing"},
		{"ApprovalState", apState, apStateLine + `state "maybe": want one of`},
		{"ApprovalRequest", apRequest, apRequestLine + "request is not a JSON object"},
		{"AfterTheEnd", append(append([]byte(nil), good...), lines[1]...), "after the end record"},
		{"NanosecondTime", []byte(strings.Replace(string(good), `.000000Z"`, `.000000001Z"`, 1)), "finer than a microsecond"},
		{"NUL", nul, nulLine + "name: "},
		{"ControlCharacterInAnID", esc, escLine + "flows[1].out_biz_id: "},
		{"ReservedAppKey", reserved, reservedLine + `app_key "@audit": keys starting with "@" are reserved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := asStore(t, openSQLite(t))
			_, err := dump.Import(ctx, dst, bytes.NewReader(tc.dump))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("import: %v, want an error containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "nothing was imported") {
				t.Errorf("import: %v, want it to say nothing was imported", err)
			}
			empty, c := mustExport(t, dst)
			if c != (dump.Counts{}) {
				t.Fatalf("the refused import left %v:\n%s", c, empty)
			}
		})
	}
}

// TestImportRefusesPostgres checks a refusal on PostgreSQL, whose loader
// sends rows in batches: a row refused by the database undoes the rows
// sent before it.
func TestImportRefusesPostgres(t *testing.T) {
	ctx := context.Background()
	w := populate(t, openSQLite)
	good, _ := mustExport(t, asStore(t, w.Store))
	lines := strings.SplitAfter(string(good), "\n")
	lines = lines[:len(lines)-1]
	// The last idempotency record replaced by a copy of the one before:
	// the counts agree, the database refuses the second copy.
	n := len(lines)
	dup := []byte(strings.Join(lines[:n-2], "") + lines[n-3] + lines[n-1])
	dst := asStore(t, openPostgres(t))
	_, err := dump.Import(ctx, dst, bytes.NewReader(dup))
	if err == nil || !strings.Contains(err.Error(), "already stored") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import with a duplicate record: %v", err)
	}
	if _, c := mustExport(t, dst); c != (dump.Counts{}) {
		t.Fatalf("the refused import left %v", c)
	}
	if _, err := dump.Import(ctx, dst, bytes.NewReader(good)); err != nil {
		t.Fatalf("import after a refused one: %v", err)
	}
	_, err = dump.Import(ctx, dst, bytes.NewReader(good))
	if !errors.Is(err, dump.ErrNotEmpty) {
		t.Fatalf("second import: %v, want ErrNotEmpty", err)
	}
}

// TestExportImport_AfterRetention: a log whose start was removed after
// the retention period moves as it is: the target's horizon is the
// source's, so a cursor below it is refused there too.
func TestExportImport_AfterRetention(t *testing.T) {
	ctx := context.Background()
	w := populate(t, openSQLite)
	p, err := w.Svc.PruneEvents(ctx, 24*time.Hour)
	if err != nil || p.Removed == 0 {
		t.Fatalf("prune: %+v, %v; want events removed", p, err)
	}
	data, _ := mustExport(t, asStore(t, w.Store))
	dst := asStore(t, openPostgres(t))
	if _, err := dump.Import(ctx, dst, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	svc := points.New(dst, nil, nil)
	if h, err := svc.EventHorizon(ctx); err != nil || h != p.Horizon {
		t.Fatalf("the target's horizon %d, %v; want %d", h, err, p.Horizon)
	}
	if err := svc.CheckCursor(ctx, p.Horizon-1); err == nil {
		t.Fatalf("a cursor below the horizon passes on the target")
	}
	if err := svc.CheckCursor(ctx, p.Horizon); err != nil {
		t.Fatalf("a cursor at the horizon on the target: %v", err)
	}
	again, _ := mustExport(t, dst)
	sameBytes(t, data, again)
}
