package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"jifen/approval"
	"jifen/backoffice"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
)

// RunApprovals runs the four-eyes tests against stores made by open:
// what a store keeps of approvals, through approval.Service.
func RunApprovals(t *testing.T, open OperatorOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, OperatorOpener)
	}{
		{"Request", testApprovalRequest},
		{"Approve", testApprovalApprove},
		{"ApproveAtOnce", testApprovalAtOnce},
		{"Refused", testApprovalRefused},
		{"Reject", testApprovalReject},
		{"Expiry", testApprovalExpiry},
		{"Reversal", testApprovalReversal},
		{"Retry", testApprovalRetry},
		{"Failed", testApprovalFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// ApprovalAbove is brand B1's approval_above in ApprovalEnv.
const ApprovalAbove = 100

// Approvals is the four-eyes world: ApprovalEnv's service and operators
// of brand B1 — Asker and Checker (support, limit 1000), Small (support,
// limit 50) and Boss (admin) — and Outsider, support of brand B2.
type Approvals struct {
	Store   approval.Store
	Service *approval.Service
	Office  *backoffice.Office

	Asker, Checker, Small, Boss, Outsider operator.Principal
}

// ApprovalEnv is the standard world with brand B1's approval_above set to
// ApprovalAbove and 1,000 points granted to C1.
func ApprovalEnv(t testing.TB, open OperatorOpener) (*Env, Approvals) {
	t.Helper()
	var st OperatorStore
	e, os := OperatorEnv(t, func(tb testing.TB) OperatorStore {
		st = open(tb)
		return st
	})
	b, err := e.Store.Brand(e.Ctx, "B1")
	if err != nil {
		t.Fatal(err)
	}
	b.Settings.ApprovalAbove = ApprovalAbove
	if _, err := e.Svc.Apply(e.Ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b}}}); err != nil {
		t.Fatal(err)
	}
	e.MustCharge("C1", "grant-1", 1000)
	office := e.Admin()
	add := func(name string, role operator.Role, brand string, limit int64) operator.Principal {
		return operator.PrincipalOf(MustAddOperator(t, e, os.Service, operator.NewOperator{Name: name, Role: role,
			Brands: []string{brand}, Limit: limit}).Operator)
	}
	return e, Approvals{Store: st, Service: approval.New(st, office), Office: office,
		Asker: add("asker", operator.Support, "B1", 1000), Checker: add("checker", operator.Support, "B1", 1000),
		Small: add("small", operator.Support, "B1", 50), Boss: add("boss", operator.Admin, "B1", 0),
		Outsider: add("outsider", operator.Support, "B2", 1000)}
}

// mustAsk adjusts C1 by n as p, expecting a pending approval.
func (as Approvals) mustAsk(t testing.TB, e *Env, p operator.Principal, n int64) approval.Approval {
	t.Helper()
	out, a, err := as.Service.Adjust(e.Ctx, p, points.AdjustRequest{CustomerID: "C1", Points: n, Reason: "补偿", RequestID: e.ReqID()})
	if err != nil {
		t.Fatalf("adjust %d as %s: %v", n, p.Name, err)
	}
	if a == nil || out.FlowID != "" {
		t.Fatalf("adjust %d as %s: outcome %+v, approval %v: want a pending approval and no flow", n, p.Name, out, a)
	}
	return *a
}

// testApprovalRequest: above the threshold a support operator's
// adjustment is recorded, nothing written; asked again with its request
// id it is the same approval; at or below it, or by an admin, it is
// written at once.
func testApprovalRequest(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	flows, before := e.FlowCount("C1"), e.Available("C1")
	r := points.AdjustRequest{CustomerID: "C1", Points: -(ApprovalAbove + 1), Reason: "误发", RequestID: e.ReqID()}
	_, a, err := as.Service.Adjust(e.Ctx, as.Asker, r)
	if err != nil || a == nil {
		t.Fatalf("adjust above: %v, %v", a, err)
	}
	if a.State != approval.Pending || a.Kind != approval.Adjustment || a.Points != ApprovalAbove+1 || a.BrandID != "B1" ||
		a.RequesterID != as.Asker.OperatorID || a.RequesterName != "asker" || a.RequestID != r.RequestID ||
		!a.ExpiresAt.Equal(a.CreatedAt.Add(approval.TTL)) || !a.CreatedAt.Equal(e.Svc.Now()) {
		t.Fatalf("approval %+v", a)
	}
	if got := e.FlowCount("C1"); got != flows || e.Available("C1") != before {
		t.Fatalf("flows %d, available %d after the request: want %d, %d (nothing written)", got, e.Available("C1"), flows, before)
	}
	stored, err := as.Service.Get(e.Ctx, as.Checker, a.ID)
	if err != nil || stored.State != approval.Pending || stored.Points != a.Points || !stored.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if got, err := stored.Adjust(); err != nil || got != r {
		t.Fatalf("stored request %+v, %v; want %+v", got, err, r)
	}
	// Asked again: the same approval; another request under its id: refused.
	if _, again, err := as.Service.Adjust(e.Ctx, as.Asker, r); err != nil || again == nil || again.ID != a.ID {
		t.Fatalf("asked again: %+v, %v; want approval %s", again, err, a.ID)
	}
	r2 := r
	r2.Points--
	if _, _, err := as.Service.Adjust(e.Ctx, as.Asker, r2); !ledger.IsCode(err, ledger.CodeIdempotencyConflict) {
		t.Fatalf("another request under the same id: %v, want %s", err, ledger.CodeIdempotencyConflict)
	}
	// At the threshold, and by an admin above it: written at once.
	for _, c := range []struct {
		p operator.Principal
		n int64
	}{{as.Asker, ApprovalAbove}, {as.Asker, -ApprovalAbove}, {as.Boss, 500}} {
		out, a, err := as.Service.Adjust(e.Ctx, c.p, points.AdjustRequest{CustomerID: "C1", Points: c.n, Reason: "x", RequestID: e.ReqID()})
		if err != nil || a != nil || out.FlowID == "" {
			t.Fatalf("%s adjusts %d: %+v, %v, %v; want a flow at once", c.p.Name, c.n, out, a, err)
		}
	}
	if got, want := e.Available("C1"), before+500; got != want {
		t.Fatalf("available %d, want %d", got, want)
	}
	// Bad input is refused before anything is recorded.
	if _, _, err := as.Service.Adjust(e.Ctx, as.Asker, points.AdjustRequest{CustomerID: "C1", Points: 500, RequestID: e.ReqID()}); !isField(err, "reason") {
		t.Fatalf("no reason: %v, want reason refused", err)
	}
	list, err := as.Service.List(e.Ctx, as.Checker, "", approval.Pending, 0)
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("pending: %+v, %v; want only %s", list, err, a.ID)
	}
	if list, err := as.Service.List(e.Ctx, as.Outsider, "", "", 0); err != nil || len(list) != 0 {
		t.Fatalf("another brand's operator lists %+v, %v; want none", list, err)
	}
	if _, err := as.Service.List(e.Ctx, as.Outsider, "B1", "", 0); !forbidden(err, "brand B1") {
		t.Fatalf("another brand's operator lists B1: %v", err)
	}
	if _, err := as.Service.List(e.Ctx, as.Checker, "", "done", 0); !isField(err, "state") {
		t.Fatalf("unknown state: %v", err)
	}
}

func isField(err error, field string) bool {
	le, ok := ledger.AsError(err)
	return ok && le.Kind == ledger.KindInvalid && le.Field == field
}

func forbidden(err error, missing string) bool {
	var fb *operator.Forbidden
	return errors.As(err, &fb) && fb.Missing == missing
}

// testApprovalApprove: another operator approves; the adjustment is
// written once, in the name of the operator who asked; approving again
// writes nothing more.
func testApprovalApprove(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	before, flows := e.Available("C1"), e.FlowCount("C1")
	a := as.mustAsk(t, e, as.Asker, 300)
	got, err := as.Service.Approve(e.Ctx, as.Checker, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != approval.Approved || got.Result == "" || got.DeciderID != as.Checker.OperatorID || got.DeciderName != "checker" ||
		!got.DecidedAt.Equal(e.Svc.Now()) {
		t.Fatalf("approved %+v", got)
	}
	if e.Available("C1") != before+300 || e.FlowCount("C1") != flows+1 {
		t.Fatalf("available %d, flows %d: want %d, %d", e.Available("C1"), e.FlowCount("C1"), before+300, flows+1)
	}
	f := e.Flows("C1")[0]
	if f.ID != got.Result || f.OperatorID != as.Asker.OperatorID || f.OperatorName != "asker" || f.RequestID != a.RequestID ||
		f.AppKey != points.AdminAppKey || f.ChangePoint() != 300 {
		t.Fatalf("flow %+v: want %s's 300 under request %s", f, "asker", a.RequestID)
	}
	again, err := as.Service.Approve(e.Ctx, as.Boss, a.ID)
	if err != nil || again.Result != got.Result || again.DeciderName != "checker" {
		t.Fatalf("approved again: %+v, %v", again, err)
	}
	if stored, err := as.Service.Get(e.Ctx, as.Asker, a.ID); err != nil || stored.State != approval.Approved || stored.Result != got.Result {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	// Asking again with the request id answers the approval, writes nothing.
	r, err := a.Adjust()
	if err != nil {
		t.Fatal(err)
	}
	if _, prev, err := as.Service.Adjust(e.Ctx, as.Asker, r); err != nil || prev == nil || prev.State != approval.Approved {
		t.Fatalf("asked again: %+v, %v", prev, err)
	}
	if e.FlowCount("C1") != flows+1 {
		t.Fatalf("flows %d, want %d: written once", e.FlowCount("C1"), flows+1)
	}
	// An admin approves too.
	b := as.mustAsk(t, e, as.Asker, 200)
	if got, err := as.Service.Approve(e.Ctx, as.Boss, b.ID); err != nil || got.State != approval.Approved {
		t.Fatalf("admin approves: %+v, %v", got, err)
	}
	if e.Available("C1") != before+500 {
		t.Fatalf("available %d, want %d", e.Available("C1"), before+500)
	}
}

// testApprovalAtOnce: operators approving at once execute it once.
func testApprovalAtOnce(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	before, flows := e.Available("C1"), e.FlowCount("C1")
	a := as.mustAsk(t, e, as.Asker, 400)
	var wg sync.WaitGroup
	results := make([]approval.Approval, 6)
	errs := make([]error, len(results))
	for i := range results {
		p := []operator.Principal{as.Checker, as.Boss}[i%2]
		wg.Go(func() { results[i], errs[i] = as.Service.Approve(e.Ctx, p, a.ID) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || results[i].State != approval.Approved || results[i].Result != results[0].Result {
			t.Fatalf("approval %d: %+v, %v", i, results[i], err)
		}
	}
	if e.Available("C1") != before+400 || e.FlowCount("C1") != flows+1 {
		t.Fatalf("available %d, flows %d: want %d, %d", e.Available("C1"), e.FlowCount("C1"), before+400, flows+1)
	}
}

// testApprovalRefused: the operator who asked, an operator of another
// brand, one whose limit is below the points, and a viewer may not
// approve.
func testApprovalRefused(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	a := as.mustAsk(t, e, as.Asker, 300)
	viewer := operator.Principal{OperatorID: "v", Name: "viewer", Role: operator.Viewer}
	for _, c := range []struct {
		p       operator.Principal
		missing string
	}{{as.Asker, "another operator"}, {as.Outsider, "brand B1"}, {as.Small, "limit 300"}, {viewer, "role support"}} {
		if _, err := as.Service.Approve(e.Ctx, c.p, a.ID); !forbidden(err, c.missing) {
			t.Fatalf("%s approves: %v, want FORBIDDEN missing %q", c.p.Name, err, c.missing)
		}
	}
	if _, err := as.Service.Reject(e.Ctx, as.Asker, a.ID, "算了"); !forbidden(err, "another operator") {
		t.Fatalf("asker rejects: %v", err)
	}
	if _, err := as.Service.Approve(e.Ctx, as.Checker, "nope"); !ledger.IsCode(err, approval.CodeApprovalNotFound) {
		t.Fatalf("unknown approval: %v", err)
	}
	if got, err := as.Service.Get(e.Ctx, as.Checker, a.ID); err != nil || got.State != approval.Pending {
		t.Fatalf("after refusals: %+v, %v; want pending", got, err)
	}
}

// testApprovalReject: another operator rejects, with a reason; nothing is
// written and it cannot be approved after.
func testApprovalReject(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	before, flows := e.Available("C1"), e.FlowCount("C1")
	a := as.mustAsk(t, e, as.Asker, 300)
	if _, err := as.Service.Reject(e.Ctx, as.Checker, a.ID, " "); !isField(err, "reason") {
		t.Fatalf("no reason: %v", err)
	}
	got, err := as.Service.Reject(e.Ctx, as.Checker, a.ID, "金额不对")
	if err != nil || got.State != approval.Rejected || got.Reason != "金额不对" || got.DeciderName != "checker" {
		t.Fatalf("rejected %+v, %v", got, err)
	}
	if _, err := as.Service.Approve(e.Ctx, as.Boss, a.ID); !ledger.IsCode(err, approval.CodeApprovalDecided) {
		t.Fatalf("approve a rejected one: %v, want %s", err, approval.CodeApprovalDecided)
	}
	if _, err := as.Service.Reject(e.Ctx, as.Boss, a.ID, "again"); !ledger.IsCode(err, approval.CodeApprovalDecided) {
		t.Fatalf("reject again: %v, want %s", err, approval.CodeApprovalDecided)
	}
	if stored, err := as.Service.Get(e.Ctx, as.Asker, a.ID); err != nil || stored.State != approval.Rejected || stored.Reason != "金额不对" {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if e.Available("C1") != before || e.FlowCount("C1") != flows {
		t.Fatal("a rejected approval wrote")
	}
}

// testApprovalExpiry: by the ledger's clock, an approval not decided in
// TTL is expired: shown so, listed so, not approved; the sweep records it.
func testApprovalExpiry(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	flows := e.FlowCount("C1")
	a := as.mustAsk(t, e, as.Asker, 300)
	e.Clock.Advance(approval.TTL - time.Second)
	if got, err := as.Service.Get(e.Ctx, as.Checker, a.ID); err != nil || got.State != approval.Pending {
		t.Fatalf("a second before: %+v, %v", got, err)
	}
	e.Clock.Advance(time.Second)
	got, err := as.Service.Get(e.Ctx, as.Checker, a.ID)
	if err != nil || got.State != approval.Expired || !got.DecidedAt.Equal(a.ExpiresAt) {
		t.Fatalf("at expiry: %+v, %v", got, err)
	}
	if _, err := as.Service.Approve(e.Ctx, as.Checker, a.ID); !ledger.IsCode(err, approval.CodeApprovalExpired) {
		t.Fatalf("approve expired: %v, want %s", err, approval.CodeApprovalExpired)
	}
	if _, err := as.Service.Reject(e.Ctx, as.Checker, a.ID, "late"); !ledger.IsCode(err, approval.CodeApprovalExpired) {
		t.Fatalf("reject expired: %v, want %s", err, approval.CodeApprovalExpired)
	}
	for state, n := range map[approval.State]int{approval.Pending: 0, approval.Expired: 1, "": 1} {
		if list, err := as.Service.List(e.Ctx, as.Checker, "B1", state, 0); err != nil || len(list) != n ||
			(n == 1 && list[0].State != approval.Expired) {
			t.Fatalf("list %q: %+v, %v; want %d expired", state, list, err, n)
		}
	}
	expired, executed, err := as.Service.Retry(e.Ctx)
	if err != nil || expired != 1 || executed != 0 {
		t.Fatalf("retry: %d expired, %d executed, %v; want 1, 0", expired, executed, err)
	}
	stored, err := as.Store.Approval(e.Ctx, a.ID)
	if err != nil || stored.State != approval.Expired || !stored.DecidedAt.Equal(a.ExpiresAt) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if e.FlowCount("C1") != flows {
		t.Fatal("an expired approval wrote")
	}
}

// testApprovalReversal: a refund of all that is left is recorded with the
// points the preview found, and executed as that refund once approved.
func testApprovalReversal(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	e.MustConsume("C1", "O1", 300)
	before, flows := e.Available("C1"), e.FlowCount("C1")
	r := backoffice.ReverseRequest{BrandID: "B1", OutBizID: "O1", Reason: "退菜", RequestID: e.ReqID()}
	_, a, err := as.Service.Reverse(e.Ctx, as.Asker, r)
	if err != nil || a == nil || a.Kind != approval.Reversal || a.Points != 300 {
		t.Fatalf("reverse above: %+v, %v", a, err)
	}
	if e.FlowCount("C1") != flows {
		t.Fatal("a pending refund wrote")
	}
	rr, err := a.Reverse()
	if err != nil || rr.Points == nil || *rr.Points != 300 || rr.CustomerID != "C1" || rr.Type != ledger.DeductReverse {
		t.Fatalf("stored refund %+v, %v", rr, err)
	}
	got, err := as.Service.Approve(e.Ctx, as.Checker, a.ID)
	if err != nil || got.Result == "" {
		t.Fatalf("approve: %+v, %v", got, err)
	}
	if e.Available("C1") != before+300 || e.FlowCount("C1") != flows+1 {
		t.Fatalf("available %d, flows %d; want %d, %d", e.Available("C1"), e.FlowCount("C1"), before+300, flows+1)
	}
	if f := e.Flows("C1")[0]; f.ID != got.Result || f.Type != ledger.DeductReverse || f.OperatorName != "asker" {
		t.Fatalf("flow %+v", f)
	}
	// Below the threshold, and by an admin: at once.
	e.MustConsume("C1", "O2", 200)
	small := int64(ApprovalAbove)
	if out, a, err := as.Service.Reverse(e.Ctx, as.Asker, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "O2", Points: &small,
		Reason: "x", RequestID: e.ReqID()}); err != nil || a != nil || out.FlowID == "" {
		t.Fatalf("reverse at the threshold: %+v, %v, %v", out, a, err)
	}
	if out, a, err := as.Service.Reverse(e.Ctx, as.Boss, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "O2",
		Reason: "x", RequestID: e.ReqID()}); err != nil || a != nil || out.FlowID == "" {
		t.Fatalf("admin reverses: %+v, %v, %v", out, a, err)
	}
	// A refund the ledger would refuse is refused, not recorded.
	if _, a, err := as.Service.Reverse(e.Ctx, as.Asker, backoffice.ReverseRequest{BrandID: "B1", OutBizID: "O2",
		Reason: "x", RequestID: e.ReqID()}); err == nil {
		t.Fatalf("refund of a refunded order: %+v, want an error", a)
	}
}

// testApprovalRetry: an approval recorded approved whose execution did not
// happen (a crash between the two) is executed by the sweep, once.
func testApprovalRetry(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	before, flows := e.Available("C1"), e.FlowCount("C1")
	a := as.mustAsk(t, e, as.Asker, 300)
	ok, err := as.Store.DecideApproval(e.Ctx, a.ID, approval.Decision{State: approval.Approved, ByID: as.Checker.OperatorID,
		ByName: "checker", At: e.Svc.Now()})
	if err != nil || !ok {
		t.Fatalf("decide: %v, %v", ok, err)
	}
	if ok, err := as.Store.DecideApproval(e.Ctx, a.ID, approval.Decision{State: approval.Rejected, ByID: "x", ByName: "x", At: e.Svc.Now()}); err != nil || ok {
		t.Fatalf("decide again: %v, %v; want no change", ok, err)
	}
	if _, executed, err := as.Service.Retry(e.Ctx); err != nil || executed != 0 {
		t.Fatalf("retry at once: %d, %v; want none (RetryAfter)", executed, err)
	}
	e.Clock.Advance(approval.RetryAfter)
	if _, executed, err := as.Service.Retry(e.Ctx); err != nil || executed != 1 {
		t.Fatalf("retry: %d, %v; want 1", executed, err)
	}
	if _, executed, err := as.Service.Retry(e.Ctx); err != nil || executed != 0 {
		t.Fatalf("retry again: %d, %v; want 0", executed, err)
	}
	got, err := as.Service.Get(e.Ctx, as.Checker, a.ID)
	if err != nil || got.State != approval.Approved || got.Result == "" {
		t.Fatalf("after retry: %+v, %v", got, err)
	}
	if again, err := as.Service.Approve(e.Ctx, as.Checker, a.ID); err != nil || again.Result != got.Result {
		t.Fatalf("approve after retry: %+v, %v", again, err)
	}
	if e.Available("C1") != before+300 || e.FlowCount("C1") != flows+1 {
		t.Fatalf("available %d, flows %d; want %d, %d", e.Available("C1"), e.FlowCount("C1"), before+300, flows+1)
	}
}

// testApprovalFailed: an approved adjustment the ledger refuses by then
// ends failed with the refusal's code, and writes nothing.
func testApprovalFailed(t *testing.T, open OperatorOpener) {
	e, as := ApprovalEnv(t, open)
	a := as.mustAsk(t, e, as.Asker, -900)
	e.MustConsume("C1", "O1", 500) // 500 of the 1,000 left
	flows := e.FlowCount("C1")
	got, err := as.Service.Approve(e.Ctx, as.Checker, a.ID)
	if !ledger.IsCode(err, ledger.CodePointNotEnough) || got.State != approval.Failed || got.Result != ledger.CodePointNotEnough {
		t.Fatalf("approve: %+v, %v; want failed %s", got, err, ledger.CodePointNotEnough)
	}
	if stored, err := as.Service.Get(e.Ctx, as.Checker, a.ID); err != nil || stored.State != approval.Failed || stored.Result != ledger.CodePointNotEnough {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if _, err := as.Service.Approve(e.Ctx, as.Checker, a.ID); !ledger.IsCode(err, approval.CodeApprovalDecided) {
		t.Fatalf("approve a failed one: %v", err)
	}
	if e.FlowCount("C1") != flows {
		t.Fatal("a failed approval wrote")
	}
}
