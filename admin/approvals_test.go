package admin

import (
	"fmt"
	"net/http"
	"testing"

	"jifen/approval"
	"jifen/audit"
	"jifen/operator"
	"jifen/storetest"
)

// TestFourEyes: through the API on both stores, a support operator's
// adjustment and refund above the brand's approval_above (set by PUT of
// the brand) are answered 202 with the approval and write nothing;
// another operator approves (written once, in the asker's name), the
// asker's own approval is 403, a rejection and an expiry end one; an
// admin and amounts at the threshold are written at once.
func TestFourEyes(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.do("PUT", "/admin/v1/brands/B1", map[string]any{"name": "Brand 1", "settings": map[string]any{"approval_above": 100}}).
				want(t, http.StatusOK)
			if got := e.do("GET", "/admin/v1/brands/B1", nil).num(t, "settings.approval_above"); got != 100 {
				t.Fatalf("approval_above %d, want 100", got)
			}
			e.do("PUT", "/admin/v1/brands/B1", map[string]any{"name": "Brand 1", "settings": map[string]any{"approval_above": 0}}).
				wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
			e.MustCharge("C1", "earn", 1000)
			add := func(name string, role operator.Role, limit int64) func(method, path string, body any) answer {
				a := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: name, Role: role, Brands: []string{"B1"}, Limit: limit})
				return func(method, path string, body any) answer { return e.doAuth(method, path, body, "Bearer "+a.Secret) }
			}
			asker, checker, boss := add("asker", operator.Support, 1000), add("checker", operator.Support, 1000), add("boss", operator.Admin, 0)
			before, flows := e.Available("C1"), e.FlowCount("C1")

			adjust := map[string]any{"points": 300, "reason": "补偿", "request_id": "fe-1"}
			got := asker("POST", "/admin/v1/customers/C1/adjustments", adjust).want(t, http.StatusAccepted)
			id, _ := got.get(t, "approval.approval_id").(string)
			if got.get(t, "approval.state") != "pending" || got.num(t, "approval.points") != 300 || got.get(t, "approval.kind") != "adjustment" ||
				got.get(t, "approval.requester_name") != "asker" || got.num(t, "approval.request.points") != 300 {
				t.Fatalf("pending: %s", got.body)
			}
			if e.FlowCount("C1") != flows {
				t.Fatal("a pending adjustment wrote")
			}
			if again := asker("POST", "/admin/v1/customers/C1/adjustments", adjust).want(t, http.StatusAccepted); again.get(t, "approval.approval_id") != id {
				t.Fatalf("asked again: %s", again.body)
			}
			list := checker("GET", "/admin/v1/approvals?state=pending&brand_id=B1", nil).want(t, http.StatusOK).get(t, "approvals").([]any)
			if len(list) != 1 || list[0].(map[string]any)["approval_id"] != id {
				t.Fatalf("pending list: %v", list)
			}
			if miss := asker("POST", "/admin/v1/approvals/"+id+"/approve", nil).wantError(t, http.StatusForbidden, "FORBIDDEN")["missing"]; miss != "another operator" {
				t.Fatalf("self-approval: missing %v", miss)
			}
			ok := checker("POST", "/admin/v1/approvals/"+id+"/approve", nil).want(t, http.StatusOK)
			if ok.get(t, "approval.state") != "approved" || ok.get(t, "approval.decided_by_name") != "checker" || ok.get(t, "approval.flow_id") == nil {
				t.Fatalf("approved: %s", ok.body)
			}
			checker("POST", "/admin/v1/approvals/"+id+"/approve", nil).want(t, http.StatusOK) // again: nothing more
			if e.Available("C1") != before+300 || e.FlowCount("C1") != flows+1 {
				t.Fatalf("available %d, flows %d; want %d, %d", e.Available("C1"), e.FlowCount("C1"), before+300, flows+1)
			}
			if f := e.Flows("C1")[0]; f.OperatorName != "asker" || f.ID != ok.get(t, "approval.flow_id") {
				t.Fatalf("flow %+v: want asker's", f)
			}
			// The audit log has the request (by the asker, nothing
			// written), the refused self-approval and the approval (by the
			// checker, with the flow it wrote).
			log := e.do("GET", "/admin/v1/audit?limit=10", nil).want(t, http.StatusOK)
			want := []struct{ action, by, outcome string }{
				{audit.ApprovalApprove, "checker", audit.OK}, // the second approval: nothing more, still recorded
				{audit.ApprovalApprove, "checker", audit.OK},
				{audit.ApprovalApprove, "asker", "FORBIDDEN"},
				{audit.Adjustment, "asker", audit.OK},
				{audit.Adjustment, "asker", audit.OK},
			}
			for i, w := range want {
				p := fmt.Sprintf("entries.%d.", i)
				if log.get(t, p+"action") != w.action || log.get(t, p+"operator_name") != w.by || log.get(t, p+"outcome") != w.outcome {
					t.Fatalf("audit entry %d: want %v\n%s", i, w, log.body)
				}
			}
			if log.get(t, "entries.1.after.result") != ok.get(t, "approval.flow_id") || log.get(t, "entries.3.after.approval_id") != id ||
				log.get(t, "entries.3.after.flow_id") != nil {
				t.Fatalf("audit entries' after: %s", log.body)
			}

			// A refund of all that is left: 202; rejected.
			e.MustConsume("C1", "o1", 400)
			got = asker("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"reason": "退菜", "request_id": "fe-2"}).
				want(t, http.StatusAccepted)
			rid, _ := got.get(t, "approval.approval_id").(string)
			if got.num(t, "approval.points") != 400 || got.get(t, "approval.request.out_biz_id") != "o1" {
				t.Fatalf("refund pending: %s", got.body)
			}
			checker("POST", "/admin/v1/approvals/"+rid+"/reject", map[string]any{}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
			rej := checker("POST", "/admin/v1/approvals/"+rid+"/reject", map[string]any{"reason": "不符合规定"}).want(t, http.StatusOK)
			if rej.get(t, "approval.state") != "rejected" || rej.get(t, "approval.reason") != "不符合规定" {
				t.Fatalf("rejected: %s", rej.body)
			}
			boss("POST", "/admin/v1/approvals/"+rid+"/approve", nil).wantError(t, http.StatusConflict, approval.CodeApprovalDecided)

			// Expiry by the ledger's clock.
			got = asker("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": -150, "reason": "x", "request_id": "fe-3"}).
				want(t, http.StatusAccepted)
			xid, _ := got.get(t, "approval.approval_id").(string)
			e.Clock.Advance(approval.TTL)
			if s := checker("GET", "/admin/v1/approvals/"+xid, nil).want(t, http.StatusOK).get(t, "approval.state"); s != "expired" {
				t.Fatalf("state %v, want expired", s)
			}
			checker("POST", "/admin/v1/approvals/"+xid+"/approve", nil).wantError(t, http.StatusConflict, approval.CodeApprovalExpired)
			checker("GET", "/admin/v1/approvals/nope", nil).wantError(t, http.StatusNotFound, approval.CodeApprovalNotFound)

			// At the threshold, and an admin above it: written at once.
			asker("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 100, "reason": "x", "request_id": "fe-4"}).
				want(t, http.StatusCreated)
			boss("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 500, "reason": "x", "request_id": "fe-5"}).
				want(t, http.StatusCreated)
			if e.Available("C1") != before+300-400+100+500 {
				t.Fatalf("available %d, want %d", e.Available("C1"), before+300-400+100+500)
			}
		})
	}
}
