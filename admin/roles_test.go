package admin

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"jifen/approval"
	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/storetest"
	"jifen/webhook"
)

// matrixRow is one route of the table, with a request that its handler
// accepts from an operator allowed to make it (any answer but 401/403),
// the least role allowed and, for a write, the action it records in the
// audit log and what its entry holds of the record when it succeeds.
type matrixRow struct {
	pattern string
	path    string
	body    any
	least   operator.Role
	action  string   // "" for a read, which records nothing
	holds   recorded // of a write that succeeds
}

// recorded is what a write's audit entry holds of the record it changed.
type recorded int

const (
	holdsNothing recorded = iota // no record: a password, a secret, an order not found
	holdsAfter                   // a creation (or a result): the record after
	holdsBoth                    // a change: the record before and after
	holdsBefore                  // a deletion: the record before
)

// matrix has a row for every route of the table (TestRoleMatrix fails for
// a route without one). Bodies are such that the handler gets past the
// permission check; their outcome beyond that is the other tests'.
func matrix() []matrixRow {
	return []matrixRow{
		{"GET /admin/v1/me", "/admin/v1/me", nil, operator.Viewer, "", holdsNothing},
		{"POST /admin/v1/me/password", "/admin/v1/me/password", map[string]any{"old_password": "x", "new_password": "y"}, operator.Viewer,
			audit.OperatorPasswordChange, holdsNothing},
		{"GET /admin/v1/customers", "/admin/v1/customers?q=C", nil, operator.Viewer, "", holdsNothing},
		{"GET /admin/v1/customers/{id}", "/admin/v1/customers/C1", nil, operator.Viewer, "", holdsNothing},
		{"PUT /admin/v1/customers/{id}", "/admin/v1/customers/C1", map[string]any{"remark": "r", "request_id": "m-u"}, operator.Support,
			audit.CustomerUpdate, holdsBoth},
		{"POST /admin/v1/customers/{id}/adjustments", "/admin/v1/customers/C1/adjustments",
			map[string]any{"points": 5, "reason": "r", "request_id": "m-a"}, operator.Support, audit.Adjustment, holdsBoth},
		{"GET /admin/v1/flows", "/admin/v1/flows?brand_id=B1", nil, operator.Viewer, "", holdsNothing},
		{"GET /admin/v1/brands", "/admin/v1/brands", nil, operator.Viewer, "", holdsNothing},
		{"GET /admin/v1/brands/{brand}", "/admin/v1/brands/B1", nil, operator.Viewer, "", holdsNothing},
		{"PUT /admin/v1/brands/{brand}", "/admin/v1/brands/B1", "{}", operator.Admin, audit.BrandPut, holdsBoth},
		{"GET /admin/v1/brands/{brand}/shops", "/admin/v1/brands/B1/shops", nil, operator.Viewer, "", holdsNothing},
		{"PUT /admin/v1/brands/{brand}/shops/{shop}", "/admin/v1/brands/B1/shops/S1", "{}", operator.Admin, audit.ShopPut, holdsBoth},
		{"GET /admin/v1/brands/{brand}/rule", "/admin/v1/brands/B1/rule", nil, operator.Viewer, "", holdsNothing},
		{"PUT /admin/v1/brands/{brand}/rule", "/admin/v1/brands/B1/rule", "{}", operator.Admin, audit.RulePut, holdsAfter}, // B1 had none
		{"GET /admin/v1/brands/{brand}/orders/{order}", "/admin/v1/brands/B1/orders/o1", nil, operator.Viewer, "", holdsNothing},
		{"POST /admin/v1/brands/{brand}/orders/{order}/reversal-preview", "/admin/v1/brands/B1/orders/o1/reversal-preview",
			map[string]any{"points": 1}, operator.Viewer, "", holdsNothing},
		{"POST /admin/v1/brands/{brand}/orders/{order}/reversals", "/admin/v1/brands/B1/orders/o1/reversals",
			map[string]any{"points": 1, "request_id": "m-r"}, operator.Support, audit.Reversal, holdsAfter},
		{"POST /admin/v1/brands/{brand}/holds/{order}/release", "/admin/v1/brands/B1/holds/none/release", nil, operator.Support,
			audit.HoldRelease, holdsNothing},
		{"GET /admin/v1/brands/{brand}/totals", "/admin/v1/brands/B1/totals", nil, operator.Viewer, "", holdsNothing},
		{"GET /admin/v1/apps", "/admin/v1/apps", nil, operator.Admin, "", holdsNothing},
		{"PUT /admin/v1/apps/{key}", "/admin/v1/apps/pos", "{}", operator.Admin, audit.AppPut, holdsBoth},
		{"POST /admin/v1/apps/{key}/rotate-secret", "/admin/v1/apps/pos/rotate-secret", nil, operator.Admin, audit.AppSecretRotate, holdsNothing},
		{"POST /admin/v1/tenant", "/admin/v1/tenant", "{}", operator.Admin, audit.TenantApply, holdsAfter},
		{"GET /admin/v1/events", "/admin/v1/events", nil, operator.Viewer, "", holdsNothing},
		{"GET /admin/v1/webhooks", "/admin/v1/webhooks", nil, operator.Admin, "", holdsNothing},
		{"POST /admin/v1/webhooks", "/admin/v1/webhooks", "{}", operator.Admin, audit.WebhookCreate, holdsAfter},
		{"GET /admin/v1/webhooks/{id}", "/admin/v1/webhooks/w", nil, operator.Admin, "", holdsNothing},
		{"PUT /admin/v1/webhooks/{id}", "/admin/v1/webhooks/w", "{}", operator.Admin, audit.WebhookUpdate, holdsAfter},
		{"DELETE /admin/v1/webhooks/{id}", "/admin/v1/webhooks/w", nil, operator.Admin, audit.WebhookDelete, holdsBefore},
		{"POST /admin/v1/webhooks/{id}/rotate-secret", "/admin/v1/webhooks/w/rotate-secret", nil, operator.Admin, audit.WebhookRotate, holdsNothing},
		{"GET /admin/v1/webhooks/{id}/deliveries", "/admin/v1/webhooks/w/deliveries", nil, operator.Admin, "", holdsNothing},
		{"POST /admin/v1/webhooks/{id}/deliveries/{pos}/redeliver", "/admin/v1/webhooks/w/deliveries/1/redeliver", nil, operator.Admin,
			audit.WebhookRedeliver, holdsNothing},
		{"POST /admin/v1/webhooks/{id}/redeliver-failed", "/admin/v1/webhooks/w/redeliver-failed", nil, operator.Admin,
			audit.WebhookRedeliver, holdsAfter},
		{"GET /admin/v1/approvals", "/admin/v1/approvals?state=pending", nil, operator.Support, "", holdsNothing},
		{"GET /admin/v1/approvals/{id}", "/admin/v1/approvals/none", nil, operator.Support, "", holdsNothing},
		{"POST /admin/v1/approvals/{id}/approve", "/admin/v1/approvals/none/approve", nil, operator.Support, audit.ApprovalApprove, holdsAfter},
		{"POST /admin/v1/approvals/{id}/reject", "/admin/v1/approvals/none/reject", map[string]any{"reason": "r"}, operator.Support,
			audit.ApprovalReject, holdsAfter},
		{"GET /admin/v1/operators", "/admin/v1/operators", nil, operator.Admin, "", holdsNothing},
		{"POST /admin/v1/operators", "/admin/v1/operators", map[string]any{"name": "", "role": "viewer"}, operator.Admin,
			audit.OperatorCreate, holdsAfter},
		{"GET /admin/v1/operators/{id}", "/admin/v1/operators/nobody", nil, operator.Admin, "", holdsNothing},
		{"PUT /admin/v1/operators/{id}", "/admin/v1/operators/nobody", "{}", operator.Admin, audit.OperatorUpdate, holdsBoth},
		{"POST /admin/v1/operators/{id}/reset-password", "/admin/v1/operators/nobody/reset-password", nil, operator.Admin,
			audit.OperatorPasswordReset, holdsNothing},
		{"GET /admin/v1/operators/{id}/tokens", "/admin/v1/operators/nobody/tokens", nil, operator.Admin, "", holdsNothing},
		{"POST /admin/v1/operators/{id}/tokens", "/admin/v1/operators/nobody/tokens", map[string]any{"name": "t"}, operator.Admin,
			audit.OperatorTokenCreate, holdsAfter},
		{"DELETE /admin/v1/operators/{id}/tokens/{token}", "/admin/v1/operators/nobody/tokens/t", nil, operator.Admin,
			audit.OperatorTokenRevoke, holdsNothing},
		{"GET /admin/v1/audit", "/admin/v1/audit", nil, operator.Admin, "", holdsNothing},
	}
}

// TestRoleMatrix: every route × every role, on both stores: a role below
// the route's least is answered 403 FORBIDDEN naming the role it needs,
// and nothing is written; a role at or above it gets past the check, and
// a write is in the audit log under the operator, as the row's action,
// whatever its outcome, with the record before and after as the row says
// when it succeeded and no record after when it did not. A route of the
// table without a matrix row fails the test.
func TestRoleMatrix(t *testing.T) {
	rows := matrix()
	probe := newAPIEnv(t)
	var patterns []string
	for _, rt := range probe.api().routes {
		patterns = append(patterns, rt.pattern)
		if !slices.ContainsFunc(rows, func(m matrixRow) bool { return m.pattern == rt.pattern }) {
			t.Errorf("route %s has no row in the role matrix", rt.pattern)
		}
		if need := operator.Needs(rt.perm); !slices.ContainsFunc(rows, func(m matrixRow) bool { return m.pattern == rt.pattern && m.least == need }) {
			t.Errorf("route %s needs role %s; its matrix row says otherwise", rt.pattern, need)
		}
	}
	for _, m := range rows {
		if !slices.Contains(patterns, m.pattern) {
			t.Errorf("matrix row %s names no route", m.pattern)
		}
		if method, _, _ := strings.Cut(m.pattern, " "); (m.action == "") != (method == http.MethodGet || strings.HasSuffix(m.pattern, "/reversal-preview")) {
			t.Errorf("matrix row %s: action %q, but a write, and only a write, records one", m.pattern, m.action)
		}
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.serveWebhooks()
			e.order("o1", 30)
			limits := map[operator.Role]int64{operator.Support: 1000}
			var lastAudit int64
			for _, role := range operator.Roles() {
				a := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "m-" + string(role), Role: role, Limit: limits[role]})
				for _, m := range rows {
					method, _, _ := strings.Cut(m.pattern, " ")
					snap := e.Snapshot()
					got := e.doAuth(method, m.path, m.body, "Bearer "+a.Secret)
					allowed := role.Allows(permOf(e, m.pattern))
					switch {
					case !allowed && got.status != http.StatusForbidden:
						t.Errorf("%s as %s: %d, want 403: %s", m.pattern, role, got.status, got.body)
					case !allowed:
						if miss, _ := got.m["error"].(map[string]any)["missing"].(string); miss != "role "+string(m.least) {
							t.Errorf("%s as %s: missing %q, want role %s", m.pattern, role, miss, m.least)
						}
						if e.Snapshot() != snap {
							t.Errorf("%s as %s: refused, yet something was written", m.pattern, role)
						}
					case got.status == http.StatusForbidden || got.status == http.StatusUnauthorized:
						t.Errorf("%s as %s: %d, want past the check: %s", m.pattern, role, got.status, got.body)
					case m.action != "":
						// Every action past the check is in the audit log,
						// under who made it, whatever its outcome.
						es, err := e.Store.(audit.Store).AuditEntries(e.Ctx, audit.Query{Limit: 1})
						if err != nil {
							t.Fatal(err)
						}
						if len(es) == 0 || es[0].Seq <= lastAudit || es[0].OperatorID != a.Operator.ID || es[0].OperatorName != a.Operator.Name {
							t.Errorf("%s as %s (%d): no audit entry under %s: %+v", m.pattern, role, got.status, a.Operator.Name, es)
							continue
						}
						x := es[0]
						lastAudit = x.Seq
						if x.Action != m.action {
							t.Errorf("%s as %s: recorded as %s, want %s", m.pattern, role, x.Action, m.action)
						}
						wantBefore, wantAfter := m.holds == holdsBefore || m.holds == holdsBoth, m.holds == holdsAfter || m.holds == holdsBoth
						switch {
						case x.Outcome == audit.OK && ((x.Before != nil) != wantBefore || (x.After != nil) != wantAfter):
							t.Errorf("%s as %s: done, recorded with before %s and after %s; want before %v, after %v",
								m.pattern, role, x.Before, x.After, wantBefore, wantAfter)
						case x.Outcome != audit.OK && x.After != nil:
							t.Errorf("%s as %s: refused (%s), yet recorded with a record after: %s", m.pattern, role, x.Outcome, x.After)
						}
					}
				}
			}
		})
	}
}

// serveWebhooks points e at a server of its API that serves the
// webhooks too (and four eyes, as newAPIEnvOn's does).
func (e *apiEnv) serveWebhooks() {
	e.t.Helper()
	ws, ok := e.Store.(webhook.Store)
	as, ok2 := e.Store.(approval.Store)
	if !ok || !ok2 {
		e.t.Fatalf("the store %T keeps no webhooks or approvals", e.Store)
	}
	ts := httptest.NewServer(New(e.Admin(), e.ops, nil, nil).WithApprovals(approval.New(as, e.Admin())).
		WithWebhooks(webhook.NewAdmin(e.Svc, ws)))
	e.t.Cleanup(ts.Close)
	e.url = ts.URL
}

// api is the API behind e's server, rebuilt (routes are fixed by New).
func (e *apiEnv) api() *API { return New(e.Admin(), e.ops, nil, nil) }

func permOf(e *apiEnv, pattern string) operator.Permission {
	for _, rt := range e.api().routes {
		if rt.pattern == pattern {
			return rt.perm
		}
	}
	return ""
}

// order makes customer C1 spend n points on order (shop S1), after
// earning them.
func (e *apiEnv) order(order string, n int64) {
	e.t.Helper()
	e.MustCharge("C1", order+"-earn", 200)
	e.MustConsume("C1", order, n)
}

// freeze holds n points of C1 for order.
func (e *apiEnv) freeze(order string, n int64) {
	e.t.Helper()
	if _, err := e.Svc.Operate(e.Ctx, e.Caller, points.OperateRequest{Target: storetest.B1S1, Type: points.OperateFreeze, Points: n,
		OuterOrderID: order, Customer: points.CustomerLookup{CustomerID: "C1"}, OperatorID: "op", RequestID: e.ReqID()}); err != nil {
		e.t.Fatal(err)
	}
}

// TestBrandScope: an operator of brand B2 sees and acts only in B2, on
// both stores; lists leave other brands out; what spans every brand is
// refused; 403 names the brand.
func TestBrandScope(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.order("o1", 30)
			a := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "b2-admin", Role: operator.Admin, Brands: []string{"B2"}})
			do := func(method, path string, body any) answer { return e.doAuth(method, path, body, "Bearer "+a.Secret) }
			forbidden := func(method, path string, body any, missing string) {
				t.Helper()
				before := e.Snapshot()
				got := do(method, path, body).wantError(t, http.StatusForbidden, "FORBIDDEN")
				if got["missing"] != missing {
					t.Errorf("%s %s: missing %v, want %s", method, path, got["missing"], missing)
				}
				if e.Snapshot() != before {
					t.Errorf("%s %s: refused, yet something was written", method, path)
				}
			}
			forbidden("GET", "/admin/v1/customers/C1", nil, "brand B1")
			forbidden("PUT", "/admin/v1/customers/C1", map[string]any{"remark": "x", "request_id": "s1"}, "brand B1")
			forbidden("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 5, "reason": "r", "request_id": "s2"}, "brand B1")
			forbidden("GET", "/admin/v1/brands/B1", nil, "brand B1")
			forbidden("PUT", "/admin/v1/brands/B1/rule", "{}", "brand B1")
			forbidden("GET", "/admin/v1/brands/B1/orders/o1", nil, "brand B1")
			forbidden("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"request_id": "s3"}, "brand B1")
			forbidden("POST", "/admin/v1/brands/B1/holds/o1/release", nil, "brand B1")
			forbidden("GET", "/admin/v1/flows?brand_id=B1", nil, "brand B1")
			forbidden("GET", "/admin/v1/flows?brand_id=B1&format=csv", nil, "brand B1")
			forbidden("GET", "/admin/v1/customers?q=C&brand_id=B1", nil, "brand B1")
			forbidden("GET", "/admin/v1/events?brand_id=B1", nil, "brand B1")
			forbidden("GET", "/admin/v1/events", nil, "every brand")
			forbidden("GET", "/admin/v1/brands/B1/totals", nil, "brand B1")
			forbidden("POST", "/admin/v1/tenant", "{}", "every brand")
			forbidden("GET", "/admin/v1/operators", nil, "every brand")
			forbidden("PUT", "/admin/v1/brands/B9", "{}", "brand B9") // creating another brand

			// Lists hold B2 alone.
			bs := do("GET", "/admin/v1/brands", nil).want(t, http.StatusOK).get(t, "brands").([]any)
			if len(bs) != 1 || bs[0].(map[string]any)["brand_id"] != "B2" {
				t.Fatalf("brands: %v", bs)
			}
			if cs := do("GET", "/admin/v1/customers?q=C", nil).want(t, http.StatusOK).get(t, "customers").([]any); len(cs) != 0 {
				t.Fatalf("customers of B1 found by an operator of B2: %v", cs)
			}
			if cs := e.do("GET", "/admin/v1/customers?q=C", nil).want(t, http.StatusOK).get(t, "customers").([]any); len(cs) != 3 {
				t.Fatalf("customers found by an operator of every brand: %v, want C1, C2, C3", cs)
			}
			cs := do("GET", "/admin/v1/customers?q=X", nil).want(t, http.StatusOK).get(t, "customers").([]any)
			if len(cs) != 1 || cs[0].(map[string]any)["customer_id"] != "X1" {
				t.Fatalf("customers matching X: %v, want X1", cs)
			}
			// Its own brand it acts in.
			do("GET", "/admin/v1/customers/X1", nil).want(t, http.StatusOK)
			do("GET", "/admin/v1/flows?brand_id=B2", nil).want(t, http.StatusOK)
			do("GET", "/admin/v1/events?brand_id=B2", nil).want(t, http.StatusOK)
			do("POST", "/admin/v1/customers/X1/adjustments", map[string]any{"points": 5, "reason": "r", "request_id": "s4"}).want(t, http.StatusCreated)
		})
	}
}

// TestSupportLimit: a support operator moves at most its limit in one
// refund, adjustment or hold release; the 403 names the limit. On both
// stores.
func TestSupportLimit(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.order("o1", 100)
			a := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "客服", Role: operator.Support, Limit: 50})
			do := func(method, path string, body any) answer { return e.doAuth(method, path, body, "Bearer "+a.Secret) }
			over := func(method, path string, body any, missing string) {
				t.Helper()
				if got := do(method, path, body).wantError(t, http.StatusForbidden, "FORBIDDEN"); got["missing"] != missing {
					t.Errorf("%s %s: missing %v, want %s", method, path, got["missing"], missing)
				}
			}
			over("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": -51, "reason": "r", "request_id": "l1"}, "limit 51")
			over("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 51, "reason": "r", "request_id": "l1"}, "limit 51")
			over("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"points": 60, "request_id": "l2"}, "limit 60")
			over("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"request_id": "l3"}, "limit 100") // all that is left
			do("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": -50, "reason": "r", "request_id": "l4"}).want(t, http.StatusCreated)
			do("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"points": 50, "request_id": "l5"}).want(t, http.StatusCreated)
			do("POST", "/admin/v1/brands/B1/orders/o1/reversals", map[string]any{"request_id": "l6"}).want(t, http.StatusCreated) // 50 left
			e.freeze("h1", 60)
			over("POST", "/admin/v1/brands/B1/holds/h1/release", nil, "limit 60")
			e.freeze("h2", 20)
			do("POST", "/admin/v1/brands/B1/holds/h2/release", nil).want(t, http.StatusOK)
		})
	}
}

// TestWrittenByOperator: flows written through the API carry the
// authenticated operator's id and name, whatever the body says; the
// bootstrap admin token writes as "bootstrap". On both stores.
func TestWrittenByOperator(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			e.MustCharge("C1", "earn", 100)
			a := storetest.MustAddOperator(t, e.Env, e.ops, operator.NewOperator{Name: "张经理", Role: operator.Support, Limit: 100})
			e.doAuth("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 7, "reason": "r", "request_id": "w1"},
				"Bearer "+a.Secret).want(t, http.StatusCreated)
			e.doAuth("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 8, "reason": "r", "request_id": "w2"},
				"Bearer "+token).want(t, http.StatusCreated)
			e.doAuth("POST", "/admin/v1/customers/C1/adjustments", map[string]any{"points": 9, "reason": "r", "request_id": "w3",
				"operator_id": "x"}, "Bearer "+a.Secret).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
			by := map[int64][2]string{}
			for _, f := range e.Flows("C1") {
				if f.Type == ledger.Adjust {
					by[f.ChangePoint()] = [2]string{f.OperatorID, f.OperatorName}
				}
			}
			if by[7] != [2]string{a.Operator.ID, "张经理"} || by[8] != [2]string{"bootstrap", "bootstrap"} || len(by) != 2 {
				t.Fatalf("adjustments recorded under %v", by)
			}
			if f := e.Flows("C1")[0]; f.AppKey != points.AdminAppKey {
				t.Fatalf("app key %q", f.AppKey)
			}
		})
	}
}

// TestTokens: tokens through the API — /me, revocation, a disabled
// operator, a password change — on both stores.
func TestTokens(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newAPIEnvOn(t, st.open)
			added := e.do("POST", "/admin/v1/operators", map[string]any{"name": "王五", "role": "viewer", "brands": []string{"B1"}}).
				want(t, http.StatusCreated)
			id, pw, secret := added.get(t, "operator.id").(string), added.get(t, "password").(string), added.get(t, "token.token").(string)
			me := e.doAuth("GET", "/admin/v1/me", nil, "Bearer "+secret).want(t, http.StatusOK)
			if me.get(t, "name") != "王五" || me.get(t, "role") != "viewer" || me.get(t, "id") != id {
				t.Fatalf("me: %s", me.body)
			}
			// The list shows no secret.
			if l := e.do("GET", "/admin/v1/operators/"+id+"/tokens", nil).want(t, http.StatusOK); strings.Contains(string(l.body), secret) {
				t.Fatalf("token list shows the secret: %s", l.body)
			}
			second := e.do("POST", "/admin/v1/operators/"+id+"/tokens", map[string]any{"name": "脚本"}).want(t, http.StatusCreated)
			secret2 := second.get(t, "token").(string)
			tokID := added.get(t, "token.id").(string)
			e.do("DELETE", "/admin/v1/operators/"+id+"/tokens/"+tokID, nil).want(t, http.StatusNoContent)
			e.doAuth("GET", "/admin/v1/me", nil, "Bearer "+secret).wantError(t, http.StatusUnauthorized, "UNAUTHORIZED")
			e.doAuth("GET", "/admin/v1/me", nil, "Bearer "+secret2).want(t, http.StatusOK)
			e.do("DELETE", "/admin/v1/operators/"+id+"/tokens/nope", nil).wantError(t, http.StatusNotFound, operator.CodeTokenNotFound)
			// Its own password.
			e.doAuth("POST", "/admin/v1/me/password", map[string]any{"old_password": "wrong", "new_password": "a-long-new-password"},
				"Bearer "+secret2).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
			e.doAuth("POST", "/admin/v1/me/password", map[string]any{"old_password": pw, "new_password": "a-long-new-password"},
				"Bearer "+secret2).want(t, http.StatusNoContent)
			if _, err := e.ops.SignIn(e.Ctx, "王五", "a-long-new-password"); err != nil {
				t.Fatalf("sign in with the changed password: %v", err)
			}
			// Disabled: 401 at the next request; enabled: back.
			e.do("PUT", "/admin/v1/operators/"+id, map[string]any{"disabled": true}).want(t, http.StatusOK)
			e.doAuth("GET", "/admin/v1/me", nil, "Bearer "+secret2).wantError(t, http.StatusUnauthorized, "UNAUTHORIZED")
			e.do("PUT", "/admin/v1/operators/"+id, map[string]any{"disabled": false, "role": "support", "limit": 10}).want(t, http.StatusOK)
			if me := e.doAuth("GET", "/admin/v1/me", nil, "Bearer "+secret2).want(t, http.StatusOK); me.get(t, "role") != "support" {
				t.Fatalf("me after the change: %s", me.body)
			}
			reset := e.do("POST", "/admin/v1/operators/"+id+"/reset-password", nil).want(t, http.StatusOK).get(t, "password").(string)
			if _, err := e.ops.SignIn(e.Ctx, "王五", reset); err != nil {
				t.Fatalf("sign in with the reset password: %v", err)
			}
			e.do("POST", "/admin/v1/operators", map[string]any{"name": "王五", "role": "viewer"}).wantError(t, http.StatusConflict, operator.CodeOperatorExists)
			e.do("POST", "/admin/v1/operators", map[string]any{"name": "x", "role": "boss"}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
			// The bootstrap token is an admin of every brand.
			if me := e.doAuth("GET", "/admin/v1/me", nil, "Bearer "+token).want(t, http.StatusOK); me.get(t, "name") != "bootstrap" || me.get(t, "role") != "admin" {
				t.Fatalf("bootstrap me: %s", me.body)
			}
		})
	}
}
