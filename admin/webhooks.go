package admin

import (
	"net/http"
	"strconv"
	"time"

	"jifen/audit"
	"jifen/ledger"
	"jifen/points"
	"jifen/tenant"
	"jifen/webhook"
)

// Webhooks: endpoints are read and written in the tenant file's shape
// (webhooks:) with jifen apply's validation; a secret is shown only when
// it is made (a new endpoint given none, a rotation). Deliveries are
// listed with their attempts and can be sent again.

// WithWebhooks serves /admin/v1/webhooks over h; without it those paths
// answer 404. Call it before serving.
func (api *API) WithWebhooks(h *webhook.Admin) *API {
	api.hooks = h
	return api
}

type webhookJSON struct {
	WebhookID string   `json:"webhook_id"`
	URL       string   `json:"url"`
	Brands    []string `json:"brands"`
	Events    []string `json:"events"`
	Disabled  bool     `json:"disabled"`
	// State is "active" or "disabled"; a disabled one says when and why.
	State          string `json:"state"`
	DisabledAt     string `json:"disabled_at,omitempty"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// FailingSince is when its attempts began to fail ("" when the last
	// one succeeded).
	FailingSince string `json:"failing_since,omitempty"`
	// ScheduledPosition is the event position up to which deliveries are
	// made.
	ScheduledPosition int64  `json:"scheduled_position"`
	Pending           int    `json:"pending"`
	Failed            int    `json:"failed"`
	CreatedAt         string `json:"created_at"`
	UpdatedAt         string `json:"updated_at"`
}

func webhookOut(e webhook.Endpoint) webhookJSON {
	state := "active"
	if !e.Active() {
		state = "disabled"
	}
	events := nonNil(e.Events)
	if len(events) == 0 {
		events = []string{"*"}
	}
	return webhookJSON{WebhookID: e.ID, URL: e.URL, Brands: nonNil(e.Brands), Events: events, Disabled: !e.Active(),
		State: state, DisabledAt: ts(e.DisabledAt), DisabledReason: e.DisabledReason, FailingSince: ts(e.FailingSince),
		ScheduledPosition: e.ScheduledPos, Pending: e.Pending, Failed: e.Failed, CreatedAt: ts(e.CreatedAt), UpdatedAt: ts(e.UpdatedAt)}
}

type attemptJSON struct {
	N         int     `json:"n"`
	At        string  `json:"at"`
	Status    int     `json:"status"` // 0: no answer
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

type deliveryJSON struct {
	Position  int64  `json:"position"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	BrandID   string `json:"brand_id"`
	Subject   string `json:"subject"`
	State     string `json:"state"`
	InFlight  bool   `json:"in_flight,omitempty"`
	Attempts  int    `json:"attempts"`
	NextAt    string `json:"next_at,omitempty"`
	Waiting   bool   `json:"waiting,omitempty"` // for the member's earlier event
	DoneAt    string `json:"done_at,omitempty"`
	// Batched: acknowledged at its first attempt in a batch of the
	// endpoint's cursor; the batch's record is its record.
	Batched bool          `json:"batched,omitempty"`
	Log     []attemptJSON `json:"attempt_log"`
}

func deliveryOut(d webhook.Delivery, now time.Time) deliveryJSON {
	out := deliveryJSON{Position: d.Pos, EventID: d.EventID, EventType: d.EventType, BrandID: d.BrandID, Subject: d.Subject,
		State: d.State, Attempts: d.Attempts, NextAt: ts(d.NextAt), DoneAt: ts(d.DoneAt), Batched: d.Batched, Log: []attemptJSON{}}
	if d.State == webhook.Pending {
		out.Waiting = d.NextAt.IsZero()
		out.InFlight = d.LeaseUntil.After(now)
	}
	for _, a := range d.Log {
		out.Log = append(out.Log, attemptJSON{N: a.N, At: ts(a.At), Status: a.Status,
			LatencyMS: float64(a.Latency.Microseconds()) / 1000, Error: a.Error})
	}
	return out
}

// hooksOr404 is the webhooks' use cases, or answers 404 where they are
// not served.
func (api *API) hooksOr404(w http.ResponseWriter, r *http.Request) *webhook.Admin {
	if api.hooks == nil {
		api.fail(w, r, Problem{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "webhooks are not served here"})
	}
	return api.hooks
}

// GET /admin/v1/webhooks: every endpoint with its state and counts of
// pending and failed deliveries (counted up to 1000, then "1001").
func (api *API) listWebhooks(w http.ResponseWriter, r *http.Request) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	eps, err := h.Webhooks(r.Context())
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Webhooks []webhookJSON `json:"webhooks"`
	}{Webhooks: []webhookJSON{}}
	for _, e := range eps {
		out.Webhooks = append(out.Webhooks, webhookOut(e))
	}
	reply(w, http.StatusOK, out)
}

// GET /admin/v1/webhooks/{id}
func (api *API) getWebhook(w http.ResponseWriter, r *http.Request) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	e, err := h.Webhook(r.Context(), r.PathValue("id"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, struct {
		Webhook webhookJSON `json:"webhook"`
	}{webhookOut(e)})
}

// POST /admin/v1/webhooks: creates an endpoint (an entry of the tenant
// file's webhooks:); 409 WEBHOOK_EXISTS if its id is taken.
func (api *API) createWebhook(w http.ResponseWriter, r *http.Request) {
	api.putWebhookWith(w, r, true)
}

// PUT /admin/v1/webhooks/{id}: creates or replaces an endpoint; one that
// was disabled is enabled again unless the body says "disabled": true.
func (api *API) putWebhook(w http.ResponseWriter, r *http.Request) {
	api.putWebhookWith(w, r, false)
}

func (api *API) putWebhookWith(w http.ResponseWriter, r *http.Request, create bool) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	entry := audit.Entry{Action: audit.WebhookUpdate, Target: r.PathValue("id")}
	if create {
		entry.Action = audit.WebhookCreate
	}
	var tw tenant.Webhook
	err := decodeTenant(w, r, &tw)
	if err == nil {
		entry.Request = audit.JSON(tw)
		if create {
			entry.Target = tw.WebhookID
		} else {
			tw.WebhookID, err = pathKey("webhook_id", tw.WebhookID, r.PathValue("id"))
		}
	}
	var t points.Tenant
	if err == nil {
		t, err = tenant.File{Webhooks: []tenant.Webhook{tw}}.Tenant()
	}
	if err == nil {
		if old, oerr := h.Webhook(r.Context(), tw.WebhookID); oerr == nil {
			entry.Before = AuditWebhook(old)
		}
	}
	put := h.Put
	status := http.StatusOK
	if create {
		put, status = h.Create, http.StatusCreated
	}
	var e webhook.Endpoint
	var secret string
	if err == nil {
		e, secret, err = put(r.Context(), t.Webhooks[0])
	}
	if err == nil {
		entry.After = AuditWebhook(e)
	}
	if !api.audited(w, r, entry, err) {
		return
	}
	reply(w, status, struct {
		Webhook webhookJSON `json:"webhook"`
		Secret  string      `json:"secret,omitempty"`
	}{webhookOut(e), secret})
}

// DELETE /admin/v1/webhooks/{id}: deletes an endpoint and its deliveries.
func (api *API) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	id := r.PathValue("id")
	entry := audit.Entry{Action: audit.WebhookDelete, Target: id}
	if old, err := h.Webhook(r.Context(), id); err == nil {
		entry.Before = AuditWebhook(old)
	}
	if !api.audited(w, r, entry, h.Delete(r.Context(), id)) {
		return
	}
	reply(w, http.StatusOK, struct {
		Deleted string `json:"deleted"`
	}{id})
}

// POST /admin/v1/webhooks/{id}/rotate-secret: a new secret, shown once;
// deliveries from now on are signed with it.
func (api *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	secret, err := h.RotateSecret(r.Context(), r.PathValue("id"))
	if !api.audited(w, r, audit.Entry{Action: audit.WebhookRotate, Target: r.PathValue("id")}, err) {
		return
	}
	reply(w, http.StatusOK, struct {
		Secret string `json:"secret"`
	}{secret})
}

// GET /admin/v1/webhooks/{id}/deliveries?state=&before=&limit=: the
// endpoint's deliveries, newest first, with every attempt (status code,
// latency, error); next_before pages on.
func (api *API) listDeliveries(w http.ResponseWriter, r *http.Request) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	q := r.URL.Query()
	before, err := intParam(q.Get("before"), "before")
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	limit, err := intParam(q.Get("limit"), "limit")
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	if limit > webhook.MaxDeliveriesPerPage {
		api.failErr(w, r, ledger.Invalidf("limit", "最多 %d, 收到 %d", webhook.MaxDeliveriesPerPage, limit))
		return
	}
	if limit == 0 {
		limit = 50
	}
	ds, err := h.Deliveries(r.Context(), webhook.DeliveryQuery{WebhookID: r.PathValue("id"), State: q.Get("state"),
		Before: before, Limit: int(limit)})
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Deliveries []deliveryJSON `json:"deliveries"`
		NextBefore int64          `json:"next_before,omitempty"`
	}{Deliveries: []deliveryJSON{}}
	// Leases keep real time, not the sandbox's.
	now := time.Now()
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryOut(d, now))
	}
	if len(ds) == int(limit) {
		out.NextBefore = ds[len(ds)-1].Pos
	}
	reply(w, http.StatusOK, out)
}

// POST /admin/v1/webhooks/{id}/deliveries/{pos}/redeliver: sends one
// event again (with a new retry window).
func (api *API) redeliver(w http.ResponseWriter, r *http.Request) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	entry := audit.Entry{Action: audit.WebhookRedeliver, Target: r.PathValue("id"),
		Request: audit.JSON(map[string]string{"pos": r.PathValue("pos")})}
	pos, err := strconv.ParseInt(r.PathValue("pos"), 10, 64)
	if err != nil || pos <= 0 {
		err = ledger.Invalidf("pos", "应为事件位置 (正整数), 收到 %q", r.PathValue("pos"))
	} else {
		err = h.Redeliver(r.Context(), r.PathValue("id"), pos)
	}
	if !api.audited(w, r, entry, err) {
		return
	}
	reply(w, http.StatusOK, struct {
		Redelivered int `json:"redelivered"`
	}{1})
}

// POST /admin/v1/webhooks/{id}/redeliver-failed: sends every failed
// delivery again.
func (api *API) redeliverFailed(w http.ResponseWriter, r *http.Request) {
	h := api.hooksOr404(w, r)
	if h == nil {
		return
	}
	n, err := h.RedeliverFailed(r.Context(), r.PathValue("id"))
	entry := audit.Entry{Action: audit.WebhookRedeliver, Target: r.PathValue("id"),
		Request: audit.JSON(map[string]string{"pos": "failed"})}
	if err == nil {
		entry.After = audit.JSON(map[string]int{"redelivered": n})
	}
	if !api.audited(w, r, entry, err) {
		return
	}
	reply(w, http.StatusOK, struct {
		Redelivered int `json:"redelivered"`
	}{n})
}
