package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/ledger"
	"jifen/points"
	"jifen/storetest"
	"jifen/webhook"
)

func newWebhookConsoleEnv(t *testing.T) (*consoleEnv, consoleStore) {
	t.Helper()
	e := newConsoleEnv(t)
	st := e.Store.(consoleStore)
	ts := httptest.NewServer(New(e.Admin(), e.ops, nil, nil).WithWebhooks(webhook.NewAdmin(e.Svc, st)))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e, st
}

// TestConsole_Webhooks: the webhooks page lists endpoints and says
// loudly which is disabled, when and why; an endpoint's page shows its
// deliveries with their attempts, redelivers and enables it again; a
// flow's page shows its event's delivery to each endpoint.
func TestConsole_Webhooks(t *testing.T) {
	e, st := newWebhookConsoleEnv(t)
	csrf := e.signIn()
	ok := storetest.NewReceiver(t, "")
	down := storetest.NewReceiver(t, "")
	rep, err := e.Svc.Apply(e.Ctx, points.Tenant{Webhooks: []points.Webhook{
		{ID: "crm", URL: ok.URL(), Brands: []string{"B1"}},
		{ID: "bi", URL: down.URL()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ok.SetSecret(rep.WebhookSecrets["crm"])
	down.SetSecret(rep.WebhookSecrets["bi"])
	down.SetAnswer(func(int, storetest.Arrival) (int, time.Duration) { return http.StatusBadGateway, 0 })
	o := storetest.FastDelivery()
	o.RetryWindow = 300 * time.Millisecond
	storetest.StartDispatcher(t, e.Svc, st, o)
	flow := e.MustCharge("C1", "g1", 10)
	ok.WaitAcked(t, []points.Event{{ID: flow.FlowID}}, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ep, err := st.Webhook(e.Ctx, "bi")
		if err != nil {
			t.Fatal(err)
		}
		if !ep.Active() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bi not disabled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	storetest.RecordedDeliveries(t, e.Ctx, st, "crm", []string{flow.FlowID}, 30*time.Second)

	e.get("/console/webhooks").want(t, http.StatusOK, `id="disabled-webhooks"`, "1 个推送地址已停用", "every attempt failed for the retry window",
		"HTTP 502", `id="webhook-crm"`, ok.URL(), "正常", `id="webhook-bi"`, "已停用")
	e.get("/console/webhooks/bi").want(t, http.StatusOK, `id="disabled"`, `id="enable"`, "失败", "HTTP 502", "次尝试",
		`id="redeliver-failed"`, flow.FlowID)
	e.get("/console/webhooks/crm").want(t, http.StatusOK, "已送达 (批量)", "HTTP 204", flow.FlowID, "张三", "13800000001")
	e.get("/console/webhooks/crm?state=failed").want(t, http.StatusOK, "没有投递")
	e.get("/console/webhooks/nope").want(t, http.StatusNotFound, webhook.CodeWebhookNotFound)

	// The flow's page: delivered to crm, failed to bi.
	fp := "/console/brands/B1/flows/" + flow.FlowID
	e.get(fp).want(t, http.StatusOK, "C1", `id="delivery-crm"`, "已送达 (批量)", `id="delivery-bi"`, "失败", "HTTP 502", "C1")
	e.get("/console/brands/B1/flows/nope").want(t, http.StatusNotFound)
	// Flows link to their page.
	e.get("/console/customers/C1").want(t, http.StatusOK, `href="`+fp+`?customer=C1"`)

	// Enabled again and healthy, redelivering the failed one brings it.
	down.SetAnswer(nil)
	e.post("/console/webhooks/bi/enable", url.Values{}).want(t, http.StatusForbidden) // no CSRF token
	r := e.post("/console/webhooks/bi/enable", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther || r.location != "/console/webhooks/bi?ok=enabled" {
		t.Fatalf("enable: %d %s", r.status, r.location)
	}
	e.get(r.location).want(t, http.StatusOK, "推送地址已重新启用", "正常")
	r = e.post("/console/webhooks/bi/redeliver-failed", url.Values{"csrf": {csrf}})
	if r.status != http.StatusSeeOther || r.location != "/console/webhooks/bi?n=1&ok=redelivered-failed" {
		t.Fatalf("redeliver failed: %d %s", r.status, r.location)
	}
	e.get(r.location).want(t, http.StatusOK, "已重新投递 1 条失败的投递")
	down.WaitAcked(t, []points.Event{{ID: flow.FlowID}}, 30*time.Second)

	// Redeliver one from the flow's page, and come back to it.
	evs, err := st.Deliveries(e.Ctx, webhook.DeliveryQuery{WebhookID: "crm"})
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	r = e.post("/console/webhooks/crm/deliveries/"+strconv.FormatInt(evs[0].Pos, 10)+"/redeliver",
		url.Values{"csrf": {csrf}, "back": {fp}})
	if r.status != http.StatusSeeOther || r.location != fp+"?ok=redelivered" {
		t.Fatalf("redeliver: %d %s", r.status, r.location)
	}
	r = e.post("/console/webhooks/crm/deliveries/"+strconv.FormatInt(evs[0].Pos, 10)+"/redeliver",
		url.Values{"csrf": {csrf}, "back": {"https://evil.example/"}})
	if r.location != "/console/webhooks/crm?ok=redelivered" {
		t.Fatalf("redeliver back elsewhere: %s", r.location)
	}
	deadline = time.Now().Add(30 * time.Second)
	for n := 0; n < 2; {
		n = 0
		for _, a := range ok.Arrivals() {
			if a.ID == flow.FlowID && a.AckSeq > 0 {
				n++
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redelivered %d times", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.post("/console/webhooks/crm/deliveries/x/redeliver", url.Values{"csrf": {csrf}}).want(t, http.StatusBadRequest, "pos")
}

// TestConsole_WebhooksNotServed: without WithWebhooks the pages say so.
// TestConsole_WebhooksHorizon: once events were removed after the
// retention period, the webhooks page says up to where.
func TestConsole_WebhooksHorizon(t *testing.T) {
	e, _ := newWebhookConsoleEnv(t)
	e.signIn()
	if body := e.get("/console/webhooks").want(t, http.StatusOK, "Webhook 推送").body; strings.Contains(body, "event-horizon") {
		t.Fatalf("a horizon shown before any removal:\n%s", body)
	}
	e.MustCharge("C1", "old", 10)
	e.Clock.Advance(48 * time.Hour)
	e.MustCharge("C1", "new", 10)
	p, err := e.Svc.PruneEvents(e.Ctx, 24*time.Hour)
	if err != nil || p.Horizon == 0 {
		t.Fatalf("prune: %+v, %v", p, err)
	}
	e.get("/console/webhooks").want(t, http.StatusOK, `id="event-horizon"`, "位置 "+strconv.FormatInt(p.Horizon, 10)+" 及之前的事件")

	// A flow whose event went is shown from the ledger, linked with its
	// customer from the flow lists; without the customer, the answer says
	// why it is not found.
	var old ledger.Flow
	for _, f := range e.Flows("C1") {
		if f.OutBizID == "old" {
			old = f
		}
	}
	link := "/console/brands/B1/flows/" + old.ID + "?customer=C1"
	e.get("/console/customers/C1").want(t, http.StatusOK, link)
	e.get(link).want(t, http.StatusOK, old.ID, `id="event-removed"`, "已超过保留期删除")
	e.get("/console/brands/B1/flows/"+old.ID).want(t, http.StatusNotFound, "已按保留期删除")
	e.get("/console/brands/B1/flows/nope?customer=C1").want(t, http.StatusNotFound, "已按保留期删除")
}

func TestConsole_WebhooksNotServed(t *testing.T) {
	e := newConsoleEnv(t)
	e.signIn()
	e.get("/console/webhooks").want(t, http.StatusNotFound, "未启用")
}
