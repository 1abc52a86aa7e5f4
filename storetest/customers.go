package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"jifen/ledger"
	"jifen/points"
)

// customer.update, through the service and the operators' side, on every
// store.

func init() {
	extra = append(extra,
		suiteTest{"UpdateCustomer", testUpdateCustomer},
		suiteTest{"UpdateCustomerBadInput", testUpdateCustomerBadInput},
		suiteTest{"UpdateCustomerLevel", testUpdateCustomerLevel},
		suiteTest{"UpdateCustomerConcurrent", testUpdateCustomerConcurrent},
		suiteTest{"AdminUpdateCustomer", testAdminUpdateCustomer},
	)
}

// S is a pointer to s, for the fields of an update.
func S(s string) *string { return &s }

// customerUpdates lists the customer.updated events after position after,
// as "subject" strings, with their data.
func (e *Env) customerUpdates(after int64) ([]string, []points.CustomerEventData) {
	e.T.Helper()
	var subjects []string
	var data []points.CustomerEventData
	for _, ev := range AllEvents(e.T, e.Ctx, e.Svc, points.EventQuery{After: after, Types: []string{points.EventCustomerUpdated}}) {
		var d points.CustomerEventData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			e.T.Fatalf("event %s: %v", ev.ID, err)
		}
		if d.CustomerID != ev.Subject || d.BrandID != ev.BrandID {
			e.T.Fatalf("event %s of %s/%s carries customer %s/%s", ev.ID, ev.BrandID, ev.Subject, d.BrandID, d.CustomerID)
		}
		subjects = append(subjects, ev.Subject)
		data = append(data, d)
	}
	return subjects, data
}

// lastPos is the position of the newest event.
func (e *Env) lastPos() int64 {
	e.T.Helper()
	evs := AllEvents(e.T, e.Ctx, e.Svc, points.EventQuery{})
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Pos
}

func (e *Env) mustCustomer(id string) ledger.Customer {
	e.T.Helper()
	c, err := e.Store.Customer(e.Ctx, id)
	if err != nil {
		e.T.Fatal(err)
	}
	return c
}

// testUpdateCustomer: fields given are set, "" clears, absent fields stay;
// the same request replays, another under its request_id conflicts; an
// update that changes nothing answers and tells nothing; an unknown
// customer and another brand's are answered alike; one customer.updated
// event per change, carrying the record as stored.
func testUpdateCustomer(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	before := e.mustCustomer("C1")
	start := e.lastPos()
	b1 := points.Target{BrandID: "B1"}

	r1 := points.UpdateCustomerRequest{Target: b1, CustomerID: "C1", Name: S("张三丰"), Email: S("zs@example.com"),
		Birthday: S("1990-05-01"), Gender: S("1"), Address: S("杭州市西湖区\n北山街 1 号"), Remark: S("老顾客"),
		CustomerType: new(int), Phone: S("0571-88886666"), Invoice: S("某某公司"), TagIDs: []string{"t1", "t2"},
		OperatorID: "op1", OperatorName: "小王", RequestID: e.ReqID()}
	out, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r1)
	if err != nil || out.Result != "C1" || out.Replayed || out.FlowID != "" {
		t.Fatalf("update: %+v %v, want result C1", out, err)
	}
	want := before
	want.Name, want.Email, want.Birthday, want.Gender = "张三丰", "zs@example.com", "1990-05-01", "1"
	want.Address, want.Remark, want.CustomerType = "杭州市西湖区\n北山街 1 号", "老顾客", 0
	if got := e.mustCustomer("C1"); got != want {
		t.Fatalf("stored %+v\nwant   %+v", got, want)
	}

	// The same request again: its answer, nothing done.
	again, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r1)
	if err != nil || !again.Replayed || again.Result != "C1" {
		t.Fatalf("replay: %+v %v", again, err)
	}
	// Another request under that request_id: a conflict, nothing done.
	for _, other := range []points.UpdateCustomerRequest{
		func() points.UpdateCustomerRequest { r := r1; r.Name = S("张四"); return r }(),
		func() points.UpdateCustomerRequest { r := r1; r.Mobile = S(""); return r }(), // a field cleared is not a field absent
		func() points.UpdateCustomerRequest { r := r1; r.TagIDs = []string{"t1"}; return r }(),
	} {
		_, err = e.Svc.UpdateCustomer(e.Ctx, e.Caller, other)
		WantCode(t, err, ledger.CodeIdempotencyConflict)
	}
	if got := e.mustCustomer("C1"); got != want {
		t.Fatalf("after a replay and conflicts: %+v\nwant %+v", got, want)
	}

	// "" clears; absent stays; ids are trimmed, free text kept as sent.
	r2 := points.UpdateCustomerRequest{Target: b1, CustomerID: " C1 ", Email: S(""), Remark: S(""), Mobile: S(" 13900000009 "),
		Gender: S(""), RequestID: e.ReqID()}
	if _, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r2); err != nil {
		t.Fatal(err)
	}
	want.Email, want.Remark, want.Mobile, want.Gender = "", "", "13900000009", ""
	if got := e.mustCustomer("C1"); got != want {
		t.Fatalf("after clearing: %+v\nwant %+v", got, want)
	}
	// By the new mobile, at once.
	if c, err := e.Svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: b1, Mobile: "13900000009"}); err != nil || c.ID != "C1" {
		t.Fatalf("by the new mobile: %v %v", c.ID, err)
	}

	// Nothing to change: a success that stores and tells nothing, and is
	// still the request's answer.
	r3 := points.UpdateCustomerRequest{Target: b1, CustomerID: "C1", Name: S("张三丰"), LevelID: S("L1"), RequestID: e.ReqID()}
	for i := range 2 {
		out, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r3)
		if err != nil || out.Result != "C1" || out.Replayed != (i == 1) {
			t.Fatalf("no-op update #%d: %+v %v", i+1, out, err)
		}
	}
	r3.Name = S("x")
	_, err = e.Svc.UpdateCustomer(e.Ctx, e.Caller, r3)
	WantCode(t, err, ledger.CodeIdempotencyConflict)

	// By the brand's external id (the channel found from the app's).
	r4 := points.UpdateCustomerRequest{Target: points.Target{OutBrandID: "kry-b1"}, CustomerID: "C1", LevelID: S("L2"), RequestID: e.ReqID()}
	if _, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r4); err != nil {
		t.Fatal(err)
	}
	want.LevelID = "L2"
	if got := e.mustCustomer("C1"); got != want {
		t.Fatalf("after the level: %+v\nwant %+v", got, want)
	}

	// An unknown customer and another brand's are the same answer.
	tenant := e.tenantSnapshot()
	other, err := e.Store.App(e.Ctx, "other") // acts for B2
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who points.Caller
		t   points.Target
		id  string
	}{
		{e.Caller, b1, "nope"},
		{e.Caller, b1, "X1"},
		{points.Caller{App: other}, points.Target{BrandID: "B2"}, "C1"},
		{points.Caller{App: other}, points.Target{BrandID: "B2"}, "nope"},
	} {
		_, err := e.Svc.UpdateCustomer(e.Ctx, tc.who, points.UpdateCustomerRequest{Target: tc.t, CustomerID: tc.id,
			Name: S("冒名"), RequestID: e.ReqID()})
		WantCode(t, err, ledger.CodeCustomerNotFound)
		le, _ := ledger.AsError(err)
		if msg := "顾客不存在: " + tc.id; le.Message != msg || le.View != msg || le.Field != "" {
			t.Fatalf("%s of %s: %+v, want the words of an unknown customer", tc.id, tc.t.BrandID, le)
		}
	}
	// The app may not act for B2 at all.
	_, err = e.Svc.UpdateCustomer(e.Ctx, e.Caller, points.UpdateCustomerRequest{Target: points.Target{BrandID: "B2"},
		CustomerID: "X1", Name: S("冒名"), RequestID: e.ReqID()})
	if le, ok := ledger.AsError(err); !ok || le.Kind != ledger.KindPermission {
		t.Fatalf("app pos updating in B2: %v, want permission denied", err)
	}
	if got := e.tenantSnapshot(); got != tenant {
		t.Fatalf("refused updates wrote:\n%s\nwas:\n%s", got, tenant)
	}

	// One event per change: r1, r2, r4; none for the replay, the
	// conflicts, the update that changed nothing and the refusals.
	subjects, data := e.customerUpdates(start)
	if fmt.Sprint(subjects) != "[C1 C1 C1]" {
		t.Fatalf("customer.updated events for %v, want three for C1", subjects)
	}
	if d := data[0]; d.Name != "张三丰" || d.Email != "zs@example.com" || d.Birthday != "1990-05-01" || d.Gender != "1" ||
		d.Remark != "老顾客" || d.CustomerType != 0 || d.LevelID != "L1" || d.Mobile != "13800000001" {
		t.Fatalf("first event's data %+v", d)
	}
	if d := data[1]; d.Email != "" || d.Remark != "" || d.Mobile != "13900000009" || d.Name != "张三丰" {
		t.Fatalf("second event's data %+v", d)
	}
	if d := data[2]; d.LevelID != "L2" {
		t.Fatalf("third event's data %+v", d)
	}
}

// testUpdateCustomerBadInput: bad input names the field, and nothing is
// written — no customer field, no idempotency record, no event; the same
// request_id, corrected, then succeeds.
func testUpdateCustomerBadInput(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	ledgerBefore, tenantBefore, start := e.Snapshot(), e.tenantSnapshot(), e.lastPos()
	id := e.ReqID()
	ok := func() points.UpdateCustomerRequest {
		return points.UpdateCustomerRequest{Target: points.Target{BrandID: "B1"}, CustomerID: "C1", Name: S("新名字"), RequestID: id}
	}
	two := 2
	long := strings.Repeat("长", 171) // 513 bytes
	for _, tc := range []struct {
		field string
		set   func(*points.UpdateCustomerRequest)
	}{
		{"request_id", func(r *points.UpdateCustomerRequest) { r.RequestID = " " }},
		{"customer_id", func(r *points.UpdateCustomerRequest) { r.CustomerID = "" }},
		{"gender", func(r *points.UpdateCustomerRequest) { r.Gender = S("2") }},
		{"gender", func(r *points.UpdateCustomerRequest) { r.Gender = S("男") }},
		{"birthday", func(r *points.UpdateCustomerRequest) { r.Birthday = S("1990-13-01") }},
		{"birthday", func(r *points.UpdateCustomerRequest) { r.Birthday = S("1990/05/01") }},
		{"customer_type", func(r *points.UpdateCustomerRequest) { r.CustomerType = &two }},
		{"name", func(r *points.UpdateCustomerRequest) { r.Name = S(long) }},
		{"address", func(r *points.UpdateCustomerRequest) { r.Address = S(long) }},
		{"mobile", func(r *points.UpdateCustomerRequest) { r.Mobile = S(strings.Repeat("1", 129)) }},
		{"level_id", func(r *points.UpdateCustomerRequest) { r.LevelID = S("L\n1") }},
		{"email", func(r *points.UpdateCustomerRequest) { r.Email = S("a\x00b") }},
		{"remark", func(r *points.UpdateCustomerRequest) { r.Remark = S("a\x01b") }},
		{"phone", func(r *points.UpdateCustomerRequest) { r.Phone = S("1\x7f2") }},
		{"invoice", func(r *points.UpdateCustomerRequest) { r.Invoice = S(long) }},
		{"ext_info", func(r *points.UpdateCustomerRequest) { r.ExtInfo = S("bad\xff") }},
		{"tag_ids[1]", func(r *points.UpdateCustomerRequest) { r.TagIDs = []string{"t1", "t\x002"} }},
		{"operator_name", func(r *points.UpdateCustomerRequest) { r.OperatorName = "a\x00" }},
		{"brand_id", func(r *points.UpdateCustomerRequest) { r.BrandID = "" }},
		{"brand_id", func(r *points.UpdateCustomerRequest) { r.BrandID = "nope" }},
	} {
		r := ok()
		tc.set(&r)
		_, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r)
		WantInvalid(t, err, tc.field)
	}
	if got := e.Snapshot(); got != ledgerBefore {
		t.Fatalf("refused updates wrote to the ledger:\n%s\nwas:\n%s", got, ledgerBefore)
	}
	if got := e.tenantSnapshot(); got != tenantBefore {
		t.Fatalf("refused updates wrote:\n%s\nwas:\n%s", got, tenantBefore)
	}
	if evs := AllEvents(t, e.Ctx, e.Svc, points.EventQuery{After: start}); len(evs) != 0 {
		t.Fatalf("refused updates told %d events", len(evs))
	}
	out, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, ok())
	if err != nil || out.Replayed || e.mustCustomer("C1").Name != "新名字" {
		t.Fatalf("the corrected request: %+v %v", out, err)
	}
}

// testUpdateCustomerLevel: a level changed by customer.update decides the
// next payment and the next check on this very server (whose cache held
// the old level): to a level whose deduction is disabled, a payment is
// refused; back, it is allowed.
func testUpdateCustomerLevel(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	rule := &ledger.Rule{Name: "r", Clear: ledger.ClearRule{Type: ledger.ClearNever}, Deduction: []ledger.DeductionRule{
		{LevelID: "L1", DeductedPoint: 100, ConsumeMoney: 100, Enable: true},
		{LevelID: "L9", DeductedPoint: 100, ConsumeMoney: 100, Enable: false},
	}}
	brand, err := e.Store.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: brand, Rule: rule}}}); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "g1", 1000)
	e.MustConsume("C1", "o1", 10)
	if err := e.Svc.CheckPay(e.Ctx, e.Caller, B1S1, "C1", 10); err != nil { // C1, level L1, is cached now
		t.Fatal(err)
	}
	level := func(l string) {
		t.Helper()
		if _, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, points.UpdateCustomerRequest{Target: points.Target{BrandID: "B1"},
			CustomerID: "C1", LevelID: S(l), RequestID: e.ReqID()}); err != nil {
			t.Fatal(err)
		}
	}
	level("L9")
	_, err = e.Svc.Consume(e.Ctx, e.Caller, e.Order("o2", 10))
	WantCode(t, err, ledger.CodeDeductionDisabled)
	WantCode(t, e.Svc.CheckPay(e.Ctx, e.Caller, B1S1, "C1", 10), ledger.CodeDeductionDisabled)
	if c, err := e.Svc.FindCustomer(e.Ctx, e.Caller, points.CustomerLookup{Target: B1S1, CustomerID: "C1"}); err != nil || c.LevelID != "L9" {
		t.Fatalf("customer.get after the update: level %q %v, want L9", c.LevelID, err)
	}
	level("L1")
	if err := e.Svc.CheckPay(e.Ctx, e.Caller, B1S1, "C1", 10); err != nil {
		t.Fatalf("check after the level came back: %v", err)
	}
	e.MustConsume("C1", "o3", 10)
	if got := e.Available("C1"); got != 980 {
		t.Fatalf("available %d, want 980", got)
	}
}

// testUpdateCustomerConcurrent: updates of different fields of one
// customer at once each keep their field (none is lost to another's
// stale read), and one request sent twice at once changes once.
func testUpdateCustomerConcurrent(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	start := e.lastPos()
	set := []func(r *points.UpdateCustomerRequest, v string){
		func(r *points.UpdateCustomerRequest, v string) { r.Name = S("名" + v) },
		func(r *points.UpdateCustomerRequest, v string) { r.Mobile = S("139" + v) },
		func(r *points.UpdateCustomerRequest, v string) { r.Email = S(v + "@example.com") },
		func(r *points.UpdateCustomerRequest, v string) { r.Address = S("地址" + v) },
		func(r *points.UpdateCustomerRequest, v string) { r.Remark = S("备注" + v) },
		func(r *points.UpdateCustomerRequest, v string) { r.LevelID = S("L" + v) },
	}
	const rounds = 4
	for round := range rounds {
		v := fmt.Sprint(round)
		var wg sync.WaitGroup
		results := make(chan error, 2*len(set))
		for _, f := range set {
			r := points.UpdateCustomerRequest{Target: points.Target{BrandID: "B1"}, CustomerID: "C1", RequestID: e.ReqID()}
			f(&r, v)
			for range 2 { // each request sent twice at once
				wg.Go(func() {
					out, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, r)
					if err == nil && out.Result != "C1" {
						err = fmt.Errorf("result %q", out.Result)
					}
					results <- err
				})
			}
		}
		wg.Wait()
		close(results)
		for err := range results {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		c := e.mustCustomer("C1")
		if c.Name != "名"+v || c.Mobile != "139"+v || c.Email != v+"@example.com" || c.Address != "地址"+v ||
			c.Remark != "备注"+v || c.LevelID != "L"+v {
			t.Fatalf("round %d: stored %+v: a concurrent update was lost", round, c)
		}
	}
	if subjects, _ := e.customerUpdates(start); len(subjects) != rounds*len(set) {
		t.Fatalf("%d customer.updated events, want %d (one per request, however often sent)", len(subjects), rounds*len(set))
	}
}

// testAdminUpdateCustomer: an operator's edit is a customer.update under
// the operators' app key, idempotent by its request_id, for a customer
// named by id alone in any brand.
func testAdminUpdateCustomer(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	a := e.Admin()
	start := e.lastPos()
	r := points.UpdateCustomerRequest{CustomerID: "X1", Name: S("乙"), LevelID: S("VIP"), Birthday: S("2000-02-29"), RequestID: "edit-1"}
	out, err := a.UpdateCustomer(e.Ctx, points.Actor{Name: "小李"}, r)
	if err != nil || out.Result != "X1" || out.Replayed {
		t.Fatalf("edit: %+v %v", out, err)
	}
	if c := e.mustCustomer("X1"); c.Name != "乙" || c.LevelID != "VIP" || c.Birthday != "2000-02-29" || c.BrandID != "B2" {
		t.Fatalf("stored %+v", c)
	}
	if again, err := a.UpdateCustomer(e.Ctx, points.Actor{Name: "小李"}, r); err != nil || !again.Replayed {
		t.Fatalf("the same edit again: %+v %v", again, err)
	}
	// The key is the operators': a POS's request_id of the same name is
	// another request, and the operators' key another operator's edit.
	if _, err := e.Svc.UpdateCustomer(e.Ctx, e.Caller, points.UpdateCustomerRequest{Target: points.Target{BrandID: "B1"},
		CustomerID: "C1", Name: S("甲"), RequestID: "edit-1"}); err != nil {
		t.Fatalf("a POS's edit-1: %v", err)
	}
	_, err = a.UpdateCustomer(e.Ctx, points.Actor{Name: "小张"}, r)
	WantCode(t, err, ledger.CodeIdempotencyConflict)
	var found bool
	if err := e.Store.EachIdempotency(e.Ctx, func(rec ledger.Idempotency) error {
		if rec.RequestID == "edit-1" && rec.AppKey == points.AdminAppKey {
			found = rec.BrandID == "B2" && rec.Result == "X1"
		}
		return nil
	}); err != nil || !found {
		t.Fatalf("no idempotency record of edit-1 under %s for B2 (%v)", points.AdminAppKey, err)
	}
	_, err = a.UpdateCustomer(e.Ctx, points.Actor{Name: "小李"}, points.UpdateCustomerRequest{CustomerID: "nope", Name: S("x"), RequestID: "edit-2"})
	WantCode(t, err, ledger.CodeCustomerNotFound)
	_, err = a.UpdateCustomer(e.Ctx, points.Actor{Name: " "}, points.UpdateCustomerRequest{CustomerID: "X1", Name: S("x"), RequestID: "edit-3"})
	WantInvalid(t, err, "operator")
	_, err = a.UpdateCustomer(e.Ctx, points.Actor{Name: "小李"}, points.UpdateCustomerRequest{CustomerID: "X1", Gender: S("9"), RequestID: "edit-4"})
	WantInvalid(t, err, "gender")
	if subjects, _ := e.customerUpdates(start); fmt.Sprint(subjects) != "[X1 C1]" {
		t.Fatalf("customer.updated events for %v, want X1 then C1", subjects)
	}
}
