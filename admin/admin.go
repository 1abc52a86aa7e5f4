// Package admin is jifen's admin JSON API under /admin/v1/: what the
// brand's operators do outside the POS — find a customer, edit their
// record, read their points and flows, look at an order, preview and
// perform a reversal, adjust points, release holds, read and write the
// tenant records, follow daily totals, manage webhooks and their
// deliveries, manage operators, approve or reject another operator's
// refund or adjustment above its brand's approval_above, and read the
// audit log, in which every write is recorded under the operator who made
// it. Every request carries an operator's API token (or the bootstrap
// admin token), and every route names the permission it needs (package
// operator).
//
// Handlers are linear (decode → validate → act → respond) over
// backoffice.Office; errors are answered from one table (ProblemOf).
package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

// API serves /admin/v1/.
type API struct {
	admin    *backoffice.Office
	ops      *operator.Service
	log      *slog.Logger
	mux      *http.ServeMux
	routes   []route
	throttle *Throttle      // failed tokens, per client
	hooks    *webhook.Admin // nil: webhooks are not served
	// approvals is four eyes; nil: not served, every write at once.
	approvals *approval.Service
	// audits is the log of the service's store; nil if the store keeps
	// none, and then every write is answered 500, as when the log cannot
	// be written.
	audits *audit.Log

	draining  chan struct{} // closed by Drain
	drainOnce sync.Once
}

// New returns the admin API over a, authenticating requests through ops
// (operators' tokens and the bootstrap admin token). Wrong tokens are
// counted by th (nil: a throttle of its own, NewThrottle(time.Second,
// 10)).
func New(a *backoffice.Office, ops *operator.Service, log *slog.Logger, th *Throttle) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if th == nil {
		th = NewThrottle(time.Second, 10)
	}
	api := &API{admin: a, ops: ops, log: log, mux: http.NewServeMux(), throttle: th, draining: make(chan struct{})}
	// The log is listed through the Office's reader when it keeps one
	// (read replicas do, appending to the primary).
	if s, ok := a.Reader().(audit.Store); ok {
		api.audits = audit.New(s, a.Service().Now)
	} else if s, ok := a.Service().Store().(audit.Store); ok {
		api.audits = audit.New(s, a.Service().Now)
	}
	api.route()
	return api
}

// route is one entry of the route table: a pattern, the permission it
// needs, and whether it spans every brand (then only an operator of
// every brand may use it). A pattern with {brand} is checked against the
// operator's brands before its handler runs; handlers that name a brand
// otherwise (a customer's, a query's) check it themselves.
type route struct {
	pattern string
	perm    operator.Permission
	wide    bool
	handler http.HandlerFunc
}

// route is the API's one table of paths, each with the permission it
// needs (TestRoleMatrix has a row for each).
func (api *API) route() {
	const wide = true
	api.routes = []route{
		{"GET /admin/v1/me", operator.Self, false, api.me},
		{"POST /admin/v1/me/password", operator.Self, false, api.changePassword},
		{"GET /admin/v1/customers", operator.Read, false, api.searchCustomers},
		{"GET /admin/v1/customers/{id}", operator.Read, false, api.getCustomer},
		{"PUT /admin/v1/customers/{id}", operator.EditCustomer, false, api.updateCustomer},
		{"POST /admin/v1/customers/{id}/adjustments", operator.Adjust, false, api.adjust},
		{"GET /admin/v1/flows", operator.Read, false, api.listFlows},
		{"GET /admin/v1/brands", operator.Read, false, api.listBrands},
		{"GET /admin/v1/brands/{brand}", operator.Read, false, api.getBrand},
		{"PUT /admin/v1/brands/{brand}", operator.Tenant, false, api.putBrand},
		{"GET /admin/v1/brands/{brand}/shops", operator.Read, false, api.listShops},
		{"PUT /admin/v1/brands/{brand}/shops/{shop}", operator.Tenant, false, api.putShop},
		{"GET /admin/v1/brands/{brand}/rule", operator.Read, false, api.getRule},
		{"PUT /admin/v1/brands/{brand}/rule", operator.Tenant, false, api.putRule},
		{"GET /admin/v1/brands/{brand}/orders/{order}", operator.Read, false, api.getOrder},
		{"POST /admin/v1/brands/{brand}/orders/{order}/reversal-preview", operator.Read, false, api.previewReversal},
		{"POST /admin/v1/brands/{brand}/orders/{order}/reversals", operator.Refund, false, api.reverse},
		{"POST /admin/v1/brands/{brand}/holds/{order}/release", operator.ReleaseHold, false, api.releaseHold},
		{"GET /admin/v1/brands/{brand}/totals", operator.Read, false, api.totals},
		{"GET /admin/v1/apps", operator.Tenant, wide, api.listApps},
		{"PUT /admin/v1/apps/{key}", operator.Tenant, wide, api.putApp},
		{"POST /admin/v1/apps/{key}/rotate-secret", operator.Tenant, wide, api.rotateAppSecret},
		{"POST /admin/v1/tenant", operator.Tenant, wide, api.applyTenant},
		{"GET /admin/v1/events", operator.Read, false, api.listEvents},
		{"GET /admin/v1/webhooks", operator.Webhooks, wide, api.listWebhooks},
		{"POST /admin/v1/webhooks", operator.Webhooks, wide, api.createWebhook},
		{"GET /admin/v1/webhooks/{id}", operator.Webhooks, wide, api.getWebhook},
		{"PUT /admin/v1/webhooks/{id}", operator.Webhooks, wide, api.putWebhook},
		{"DELETE /admin/v1/webhooks/{id}", operator.Webhooks, wide, api.deleteWebhook},
		{"POST /admin/v1/webhooks/{id}/rotate-secret", operator.Webhooks, wide, api.rotateWebhookSecret},
		{"GET /admin/v1/webhooks/{id}/deliveries", operator.Webhooks, wide, api.listDeliveries},
		{"POST /admin/v1/webhooks/{id}/deliveries/{pos}/redeliver", operator.Webhooks, wide, api.redeliver},
		{"POST /admin/v1/webhooks/{id}/redeliver-failed", operator.Webhooks, wide, api.redeliverFailed},
		{"GET /admin/v1/approvals", operator.Approve, false, api.listApprovals},
		{"GET /admin/v1/approvals/{id}", operator.Approve, false, api.getApproval},
		{"POST /admin/v1/approvals/{id}/approve", operator.Approve, false, api.approve},
		{"POST /admin/v1/approvals/{id}/reject", operator.Approve, false, api.reject},
		{"GET /admin/v1/operators", operator.Operators, wide, api.listOperators},
		{"POST /admin/v1/operators", operator.Operators, wide, api.addOperator},
		{"GET /admin/v1/operators/{id}", operator.Operators, wide, api.getOperator},
		{"PUT /admin/v1/operators/{id}", operator.Operators, wide, api.putOperator},
		{"POST /admin/v1/operators/{id}/reset-password", operator.Operators, wide, api.resetPassword},
		{"GET /admin/v1/operators/{id}/tokens", operator.Operators, wide, api.listTokens},
		{"POST /admin/v1/operators/{id}/tokens", operator.Operators, wide, api.createToken},
		{"DELETE /admin/v1/operators/{id}/tokens/{token}", operator.Operators, wide, api.revokeToken},
		{"GET /admin/v1/audit", operator.Audit, wide, api.listAudit},
	}
	for _, rt := range api.routes {
		api.mux.HandleFunc(rt.pattern, api.need(rt))
	}
	api.mux.HandleFunc("/admin/v1/", api.noRoute)
}

// exportTargets are the routes whose format=csv is an export, by what
// they export.
var exportTargets = map[string]string{
	"GET /admin/v1/flows":                 "flows",
	"GET /admin/v1/brands/{brand}/totals": "totals",
	"GET /admin/v1/audit":                 "audit",
}

// need lets a request through to rt's handler when its operator has rt's
// permission, every brand where rt spans them, and the brand its path
// names; otherwise it answers 403 naming what is missing.
func (api *API) need(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principal(r)
		err := p.Need(rt.perm)
		if err == nil && rt.wide {
			err = p.NeedAllBrands()
		}
		if b := r.PathValue("brand"); err == nil && b != "" {
			err = p.NeedBrand(b)
		}
		if err != nil {
			if what, ok := exportTargets[rt.pattern]; ok && r.URL.Query().Get("format") == "csv" {
				// A refused download is a refused export.
				api.audited(w, r, exportEntry(r, what, r.PathValue("brand")), err)
				return
			}
			api.failErr(w, r, err)
			return
		}
		if r.Method != http.MethodGet {
			// A write reads what it changes, and its audit entry's
			// before, from the primary database, never a replica.
			r = r.WithContext(backoffice.ReadPrimary(r.Context()))
		}
		rt.handler(w, r)
	}
}

// principal is the authenticated operator of r (ServeHTTP put it there).
func principal(r *http.Request) operator.Principal {
	p, _ := operator.PrincipalFrom(r.Context())
	return p
}

// actor is who r's writes are recorded under, in the ledger and the audit
// log: its authenticated operator ("bootstrap" for the bootstrap token).
func actor(r *http.Request) points.Actor {
	p := principal(r)
	return points.Actor{ID: p.OperatorID, Name: p.Name}
}

// noRoute answers a path no route serves (404), or serves with other
// methods (405).
func (api *API) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := api.mux.Handler(other); pattern != "/admin/v1/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		api.fail(w, r, Problem{Status: http.StatusMethodNotAllowed, Code: "METHOD_NOT_ALLOWED",
			Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + strings.Join(allow, ", ")})
		return
	}
	api.fail(w, r, Problem{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
}

// ServeHTTP authenticates the bearer token — an operator's API token or
// the bootstrap admin token — then routes with its operator in the
// request's context. Wrong tokens are counted by the throttle; a request
// without one is answered 401 and not counted.
func (api *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	unauthorized := func() {
		w.Header().Set("WWW-Authenticate", `Bearer realm="jifen admin"`)
		api.fail(w, r, Problem{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED",
			Message: "a valid operator token (or the bootstrap admin token) is required: Authorization: Bearer …"})
	}
	tok := Bearer(r)
	if tok == "" {
		unauthorized()
		return
	}
	done, allowed := api.throttle.Begin(r)
	if !allowed {
		w.Header().Set("Retry-After", "1")
		api.fail(w, r, Problem{Status: http.StatusTooManyRequests, Code: "TOO_MANY_FAILURES",
			Message: "too many requests with a wrong admin token from this client; retry later"})
		return
	}
	p, err := api.ops.Authenticate(r.Context(), tok)
	// A failure to look the token up is no wrong guess.
	done(err == nil || !errors.Is(err, operator.ErrUnauthenticated))
	if errors.Is(err, operator.ErrUnauthenticated) {
		unauthorized()
		return
	}
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	api.mux.ServeHTTP(w, r.WithContext(operator.WithPrincipal(r.Context(), p)))
}

// Bearer is r's bearer token; "" if it has none.
func Bearer(r *http.Request) string {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return got
}

// TokenMatches compares a presented token with the configured one in time
// that depends on neither (both are hashed first, so not even their
// lengths leak). An empty configured token matches nothing.
func TokenMatches(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// reply writes v as JSON with status.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// fail answers p.
func (api *API) fail(w http.ResponseWriter, r *http.Request, p Problem) {
	reply(w, p.Status, map[string]Problem{"error": p})
}

// failErr answers err through the one table.
func (api *API) failErr(w http.ResponseWriter, r *http.Request, err error) {
	id := api.admin.Service().NewID()
	p := ProblemOf(err, id)
	if p.Internal {
		api.log.Error("admin API", "method", r.Method, "path", r.URL.Path, "request_id", id, "error", err)
	}
	w.Header().Set("X-Request-Id", id)
	api.fail(w, r, p)
}

// maxBody bounds a request body (a whole tenant file fits).
const maxBody = 4 << 20

// decodeOptional reads a JSON body into v (DecodeJSON) if there is one:
// no body at all is an empty one.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return invalidBody(err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return DecodeJSON(bytes.NewReader(data), v)
}

// decode reads a JSON body into v (DecodeJSON).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return DecodeJSON(http.MaxBytesReader(w, r.Body, maxBody), v)
}
