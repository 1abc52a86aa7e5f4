package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"jifen/admin"
	"jifen/audit"
	"jifen/ledger"
	"jifen/points"
	"jifen/tenant"
	"jifen/webhook"
)

// Webhooks: the endpoints and their state (a disabled one said loudly,
// with when and why), an endpoint's recent deliveries with every attempt,
// redelivery, enabling again; and a flow's page, with its event's
// delivery to each endpoint.

// WithWebhooks serves the webhooks' pages over h; without it they say
// webhooks are not served. Call it before serving.
func (c *Console) WithWebhooks(h *webhook.Admin) *Console {
	c.hooks = h
	return c
}

// hooksOrFail is the webhooks' use cases, or renders that there are none.
func (c *Console) hooksOrFail(w http.ResponseWriter, r *http.Request, req request) *webhook.Admin {
	if c.hooks == nil {
		pg := c.page(req, "Webhook 推送", nil)
		pg.Error = "此服务未启用 Webhook 推送"
		c.render(w, r, http.StatusNotFound, "error", pg)
	}
	return c.hooks
}

type webhooksData struct {
	Endpoints []webhook.Endpoint
	Disabled  []webhook.Endpoint
	// Horizon is the last event position removed after the retention
	// period (0: none).
	Horizon int64
}

// GET /console/webhooks
func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, req request) {
	h := c.hooksOrFail(w, r, req)
	if h == nil {
		return
	}
	var d webhooksData
	var err error
	if d.Endpoints, err = h.Webhooks(r.Context()); err == nil {
		d.Horizon, err = h.EventHorizon(r.Context())
	}
	if err != nil {
		c.fail(w, r, req, "webhooks", "Webhook 推送", d, err)
		return
	}
	for _, e := range d.Endpoints {
		if !e.Active() {
			d.Disabled = append(d.Disabled, e)
		}
	}
	c.render(w, r, http.StatusOK, "webhooks", c.page(req, "Webhook 推送", d))
}

type webhookData struct {
	Endpoint   webhook.Endpoint
	Deliveries []webhook.Delivery
	State      string // the filter
	Now        time.Time
	Next       string // the next page's URL
	Back       string // this page, to come back to after a redelivery
}

// deliveriesPerPage is how many deliveries a page of the console shows.
const deliveriesPerPage = 50

// GET /console/webhooks/{id}?state=&before=
func (c *Console) webhook(w http.ResponseWriter, r *http.Request, req request) {
	h := c.hooksOrFail(w, r, req)
	if h == nil {
		return
	}
	id := r.PathValue("id")
	q := r.URL.Query()
	d := webhookData{State: q.Get("state"), Now: time.Now(), Back: r.URL.RequestURI()}
	title := "推送 " + id
	var err error
	if d.Endpoint, err = h.Webhook(r.Context(), id); err != nil {
		c.fail(w, r, req, "error", title, nil, err)
		return
	}
	var before int64
	if s := q.Get("before"); s != "" {
		if before, err = strconv.ParseInt(s, 10, 64); err != nil || before < 0 {
			c.fail(w, r, req, "webhook", title, d, ledger.Invalidf("before", "应为非负整数, 收到 %q", s))
			return
		}
	}
	d.Deliveries, err = h.Deliveries(r.Context(), webhook.DeliveryQuery{WebhookID: id, State: d.State, Before: before, Limit: deliveriesPerPage})
	if err != nil {
		c.fail(w, r, req, "webhook", title, d, err)
		return
	}
	if len(d.Deliveries) == deliveriesPerPage {
		v := url.Values{"before": {strconv.FormatInt(d.Deliveries[len(d.Deliveries)-1].Pos, 10)}}
		if d.State != "" {
			v.Set("state", d.State)
		}
		d.Next = webhookPath(id) + "?" + v.Encode()
	}
	pg := c.page(req, title, d)
	pg.Notice = webhookNotice(q)
	ids := make([]string, 0, len(d.Deliveries))
	for _, dl := range d.Deliveries {
		ids = append(ids, dl.Subject)
	}
	pg.Names = c.names(r, ids...)
	c.render(w, r, http.StatusOK, "webhook", pg)
}

func webhookPath(id string) string { return "/console/webhooks/" + url.PathEscape(id) }

// webhookNotice turns a redirect's ?ok= into a sentence.
func webhookNotice(q url.Values) string {
	switch q.Get("ok") {
	case "redelivered":
		return "已重新投递"
	case "redelivered-failed":
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || n < 0 {
			return ""
		}
		return "已重新投递 " + strconv.Itoa(n) + " 条失败的投递"
	case "enabled":
		return "推送地址已重新启用"
	}
	return ""
}

// back is where a form asks to return to: a console page, else def.
func back(r *http.Request, def string) string {
	b := r.PostForm.Get("back")
	if u, err := url.Parse(b); err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(b, "/console/") {
		return b
	}
	return def
}

// withOK adds ok (and more query parameters) to a console path.
func withOK(path string, kv ...string) string {
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	q.Del("n")
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// POST /console/webhooks/{id}/deliveries/{pos}/redeliver
func (c *Console) redeliver(w http.ResponseWriter, r *http.Request, req request) {
	h := c.hooksOrFail(w, r, req)
	if h == nil {
		return
	}
	id := r.PathValue("id")
	e := audit.Entry{Action: audit.WebhookRedeliver, Target: id, Request: audit.JSON(map[string]string{"pos": r.PathValue("pos")})}
	pos, err := strconv.ParseInt(r.PathValue("pos"), 10, 64)
	if err != nil || pos <= 0 {
		err = ledger.Invalidf("pos", "应为事件位置, 收到 %q", r.PathValue("pos"))
	} else {
		err = h.Redeliver(r.Context(), id, pos)
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err != nil {
		c.fail(w, r, req, "error", "重新投递", nil, err)
		return
	}
	http.Redirect(w, r, withOK(back(r, webhookPath(id)), "ok", "redelivered"), http.StatusSeeOther)
}

// POST /console/webhooks/{id}/redeliver-failed
func (c *Console) redeliverFailed(w http.ResponseWriter, r *http.Request, req request) {
	h := c.hooksOrFail(w, r, req)
	if h == nil {
		return
	}
	id := r.PathValue("id")
	n, err := h.RedeliverFailed(r.Context(), id)
	e := audit.Entry{Action: audit.WebhookRedeliver, Target: id, Request: audit.JSON(map[string]string{"pos": "failed"}),
		After: audit.JSON(map[string]int{"redelivered": n})}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err != nil {
		c.fail(w, r, req, "error", "重新投递", nil, err)
		return
	}
	http.Redirect(w, r, withOK(webhookPath(id), "ok", "redelivered-failed", "n", strconv.Itoa(n)), http.StatusSeeOther)
}

// POST /console/webhooks/{id}/enable: enables a disabled endpoint again,
// its configuration unchanged.
func (c *Console) enableWebhook(w http.ResponseWriter, r *http.Request, req request) {
	h := c.hooksOrFail(w, r, req)
	if h == nil {
		return
	}
	id := r.PathValue("id")
	// Recorded as the admin API records a PUT of the endpoint with
	// "disabled": false.
	entry := audit.Entry{Action: audit.WebhookUpdate, Target: id}
	e, err := h.Webhook(r.Context(), id)
	if err == nil {
		entry.Before = admin.AuditWebhook(e)
		wh := e.Webhook
		wh.Disabled = false
		entry.Request = audit.JSON(tenant.WebhookOf(wh))
		if e, _, err = h.Put(r.Context(), wh); err == nil {
			entry.After = admin.AuditWebhook(e)
		}
	}
	if !c.audited(w, r, req, entry, err) {
		return
	}
	if err != nil {
		c.fail(w, r, req, "error", "启用推送", nil, err)
		return
	}
	http.Redirect(w, r, withOK(webhookPath(id), "ok", "enabled"), http.StatusSeeOther)
}

type flowData struct {
	Event      points.Event
	Flow       points.FlowEventData
	Deliveries []webhook.Delivery
	Now        time.Time
	Back       string
	// Removed: the flow's event was removed after the retention period
	// (events through Horizon were); Flow is the ledger's, without the
	// balances after it, which only the event kept.
	Removed bool
	Horizon int64
}

// GET /console/brands/{brand}/flows/{flow}: a flow, as its event tells
// it, and the event's delivery to each endpoint.
func (c *Console) flow(w http.ResponseWriter, r *http.Request, req request) {
	h := c.hooksOrFail(w, r, req)
	if h == nil {
		return
	}
	d := flowData{Now: time.Now(), Back: r.URL.RequestURI()}
	var err error
	d.Event, d.Deliveries, err = h.EventDeliveries(r.Context(), r.PathValue("brand"), r.PathValue("flow"))
	if customer := r.URL.Query().Get("customer"); customer != "" && isCode(err, webhook.CodeEventNotFound) {
		// Its event may have been removed after the retention period: the
		// flow is still in the ledger.
		if d.Horizon, err = h.EventHorizon(r.Context()); err == nil && d.Horizon > 0 {
			var f ledger.Flow
			if f, err = c.admin.Flow(r.Context(), r.PathValue("brand"), customer, r.PathValue("flow")); err == nil {
				d.Removed, d.Flow = true, ledgerFlowData(f)
				d.Event = points.Event{ID: f.ID, BrandID: f.BrandID, Type: points.EventFlowCreated, Subject: f.CustomerID, Time: f.CreatedAt}
				p := c.page(req, "流水 "+f.ID, d)
				p.Names = c.names(r, f.CustomerID)
				c.render(w, r, http.StatusOK, "flow", p)
				return
			}
		}
		if err == nil || errors.Is(err, points.ErrNotFound) {
			_, _, err = h.EventDeliveries(r.Context(), r.PathValue("brand"), r.PathValue("flow")) // the not-found answer
		}
	}
	if err == nil && d.Event.Type != points.EventFlowCreated {
		err = ledger.Business(webhook.CodeEventNotFound, "流水不存在", "event %q is not a flow's", d.Event.ID)
	}
	if err == nil {
		err = json.Unmarshal(d.Event.Data, &d.Flow)
	}
	if err != nil {
		c.fail(w, r, req, "error", "流水", nil, err)
		return
	}
	p := c.page(req, "流水 "+d.Flow.FlowID, d)
	p.Names = c.names(r, d.Flow.CustomerID)
	c.render(w, r, http.StatusOK, "flow", p)
}

// deliveryState is a delivery's state as the console says it.
func deliveryState(d webhook.Delivery, now time.Time) string {
	switch {
	case d.State == webhook.Delivered && d.Batched:
		return "已送达 (批量)"
	case d.State == webhook.Delivered:
		return "已送达"
	case d.State == webhook.Failed:
		return "失败"
	}
	switch {
	case d.LeaseUntil.After(now):
		return "投递中"
	case d.NextAt.IsZero():
		return "排队 (等待该会员的上一条)"
	case d.Attempts > 0:
		return "重试中"
	}
	return "待投递"
}

// flowPath is a flow's page; the customer lets it show the flow from the
// ledger when its event was removed after the retention period.
func flowPath(brand, customer, flow string) string {
	p := "/console/brands/" + url.PathEscape(brand) + "/flows/" + url.PathEscape(flow)
	if customer != "" {
		p += "?customer=" + url.QueryEscape(customer)
	}
	return p
}

var stateNames = map[string]string{"": "全部", webhook.Pending: "待投递", webhook.Delivered: "已送达", webhook.Failed: "失败"}

// isCode reports whether err is the ledger's business outcome code.
func isCode(err error, code string) bool {
	var le *ledger.Error
	return errors.As(err, &le) && le.Code == code
}

// ledgerFlowData is what a flow's page shows of a flow read from the
// ledger: all but the balances after it, which only its event kept.
func ledgerFlowData(f ledger.Flow) points.FlowEventData {
	return points.FlowEventData{FlowID: f.ID, BrandID: f.BrandID, CustomerID: f.CustomerID, Seq: f.Seq,
		BizType: string(f.Type), BizTypeDescription: f.Type.Description(), ChangePoint: f.ChangePoint(),
		RemainPoint: f.RemainPoint, OutBizID: f.OutBizID, ReverseOrderID: f.ReverseOrderID, ShopID: f.ShopID,
		ShopName: f.ShopName, Channel: f.Channel, OperatorID: f.OperatorID, OperatorName: f.OperatorName,
		Reason: f.Reason, Time: f.CreatedAt.UTC().Format(time.RFC3339Nano)}
}
