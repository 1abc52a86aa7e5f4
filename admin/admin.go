// Package admin is jifen's admin JSON API under /admin/v1/: what the
// brand's operators do outside the POS — find a customer, edit their
// record, read their points and flows, look at an order, preview and
// perform a reversal, adjust points, release holds, read and write the
// tenant records, follow daily totals, manage webhooks and their
// deliveries, and read the audit log, in which every write is recorded.
// Every request carries the admin bearer token.
//
// Handlers are linear (decode → validate → act → respond) over
// backoffice.Office; errors are answered from one table (ProblemOf).
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"jifen/audit"
	"jifen/backoffice"
	"jifen/webhook"
)

// API serves /admin/v1/.
type API struct {
	admin    *backoffice.Office
	token    string
	log      *slog.Logger
	mux      *http.ServeMux
	throttle *Throttle      // failed tokens, per client
	hooks    *webhook.Admin // nil: webhooks are not served
	// audits is the log of the service's store; nil if the store keeps
	// none, and then every write is answered 500, as when the log cannot
	// be written.
	audits *audit.Log

	draining  chan struct{} // closed by Drain
	drainOnce sync.Once
}

// New returns the admin API over a, for bearer token token (which must not
// be empty). Wrong tokens are counted by th (nil: a throttle of its own,
// NewThrottle(time.Second, 10)).
func New(a *backoffice.Office, token string, log *slog.Logger, th *Throttle) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if th == nil {
		th = NewThrottle(time.Second, 10)
	}
	api := &API{admin: a, token: token, log: log, mux: http.NewServeMux(), throttle: th, draining: make(chan struct{})}
	if s, ok := a.Service().Store().(audit.Store); ok {
		api.audits = audit.New(s, a.Service().Now)
	}
	api.routes()
	return api
}

// routes is the API's one table of paths.
func (api *API) routes() {
	m := api.mux
	m.HandleFunc("GET /admin/v1/customers", api.searchCustomers)
	m.HandleFunc("GET /admin/v1/customers/{id}", api.getCustomer)
	m.HandleFunc("PUT /admin/v1/customers/{id}", api.updateCustomer)
	m.HandleFunc("POST /admin/v1/customers/{id}/adjustments", api.adjust)
	m.HandleFunc("GET /admin/v1/flows", api.listFlows)
	m.HandleFunc("GET /admin/v1/brands", api.listBrands)
	m.HandleFunc("GET /admin/v1/brands/{brand}", api.getBrand)
	m.HandleFunc("PUT /admin/v1/brands/{brand}", api.putBrand)
	m.HandleFunc("GET /admin/v1/brands/{brand}/shops", api.listShops)
	m.HandleFunc("PUT /admin/v1/brands/{brand}/shops/{shop}", api.putShop)
	m.HandleFunc("GET /admin/v1/brands/{brand}/rule", api.getRule)
	m.HandleFunc("PUT /admin/v1/brands/{brand}/rule", api.putRule)
	m.HandleFunc("GET /admin/v1/brands/{brand}/orders/{order}", api.getOrder)
	m.HandleFunc("POST /admin/v1/brands/{brand}/orders/{order}/reversal-preview", api.previewReversal)
	m.HandleFunc("POST /admin/v1/brands/{brand}/orders/{order}/reversals", api.reverse)
	m.HandleFunc("POST /admin/v1/brands/{brand}/holds/{order}/release", api.releaseHold)
	m.HandleFunc("GET /admin/v1/brands/{brand}/totals", api.totals)
	m.HandleFunc("GET /admin/v1/apps", api.listApps)
	m.HandleFunc("PUT /admin/v1/apps/{key}", api.putApp)
	m.HandleFunc("POST /admin/v1/tenant", api.applyTenant)
	m.HandleFunc("GET /admin/v1/events", api.listEvents)
	m.HandleFunc("GET /admin/v1/webhooks", api.listWebhooks)
	m.HandleFunc("POST /admin/v1/webhooks", api.createWebhook)
	m.HandleFunc("GET /admin/v1/webhooks/{id}", api.getWebhook)
	m.HandleFunc("PUT /admin/v1/webhooks/{id}", api.putWebhook)
	m.HandleFunc("DELETE /admin/v1/webhooks/{id}", api.deleteWebhook)
	m.HandleFunc("POST /admin/v1/webhooks/{id}/rotate-secret", api.rotateWebhookSecret)
	m.HandleFunc("GET /admin/v1/webhooks/{id}/deliveries", api.listDeliveries)
	m.HandleFunc("POST /admin/v1/webhooks/{id}/deliveries/{pos}/redeliver", api.redeliver)
	m.HandleFunc("POST /admin/v1/webhooks/{id}/redeliver-failed", api.redeliverFailed)
	m.HandleFunc("GET /admin/v1/audit", api.listAudit)
	m.HandleFunc("/admin/v1/", api.noRoute)
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

// ServeHTTP checks the bearer token, then routes.
func (api *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	right, allowed := api.throttle.Check(r, Bearer(r), api.token)
	if !allowed {
		w.Header().Set("Retry-After", "1")
		api.fail(w, r, Problem{Status: http.StatusTooManyRequests, Code: "TOO_MANY_FAILURES",
			Message: "too many requests with a wrong admin token from this client; retry later"})
		return
	}
	if !right {
		w.Header().Set("WWW-Authenticate", `Bearer realm="jifen admin"`)
		api.fail(w, r, Problem{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED",
			Message: "a valid admin bearer token is required (Authorization: Bearer …)"})
		return
	}
	api.mux.ServeHTTP(w, r)
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

// decode reads a JSON body into v (DecodeJSON).
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return DecodeJSON(http.MaxBytesReader(w, r.Body, maxBody), v)
}
