package admin

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/points"
	"jifen/sqlite"
	"jifen/storetest"
	"jifen/webhook"
)

// newWebhookAPIEnv is newAPIEnv with the webhooks served, and the store.
func newWebhookAPIEnv(t *testing.T) (*apiEnv, *sqlite.Store) {
	t.Helper()
	var st *sqlite.Store
	e := newAPIEnvOn(t, func(t testing.TB) storetest.OperatorStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "jifen.db"))
		if err != nil {
			t.Fatal(err)
		}
		st = s
		return s
	})
	ts := httptest.NewServer(New(e.Admin(), e.ops, nil, nil).WithWebhooks(webhook.NewAdmin(e.Svc, st)))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e, st
}

func TestAPI_Webhooks(t *testing.T) {
	e, st := newWebhookAPIEnv(t)
	r := storetest.NewReceiver(t, "")

	// Bad input names the field, in the tenant file's words; nothing is
	// written.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"webhook_id": "crm", "url": "ftp://x.example.com/"}, "webhooks[0].url"},
		{map[string]any{"webhook_id": "crm"}, "webhooks[0].url"},
		{map[string]any{"url": "https://x.example.com/"}, "webhooks[0].webhook_id"},
		{map[string]any{"webhook_id": "crm", "url": "https://x.example.com/", "events": []string{"nope"}}, "webhooks[0].events[0]"},
		{map[string]any{"webhook_id": "crm", "url": "https://x.example.com/", "brands": []string{"B9"}}, "webhooks[0].brands[0]"},
		{map[string]any{"webhook_id": "crm", "url": "https://x.example.com/", "secret": "hunter2"}, "webhooks[0].secret"},
	} {
		err := e.do("POST", "/admin/v1/webhooks", c.body).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
		if err["field"] != c.field {
			t.Fatalf("%v: field %v, want %s", c.body, err["field"], c.field)
		}
	}
	e.do("POST", "/admin/v1/webhooks", `{"webhook_id": "crm", "url": "https://x.example.com/", "uri": 1}`).
		wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")
	if a := e.do("GET", "/admin/v1/webhooks", nil).want(t, http.StatusOK); len(a.get(t, "webhooks").([]any)) != 0 {
		t.Fatalf("refused bodies wrote: %s", a.body)
	}

	// Create: the generated secret, once.
	a := e.do("POST", "/admin/v1/webhooks", map[string]any{"webhook_id": "crm", "url": r.URL(), "brands": []string{"B1"},
		"events": []string{points.EventFlowCreated}}).want(t, http.StatusCreated)
	secret, _ := a.get(t, "secret").(string)
	if _, err := points.WebhookKey(secret); err != nil || a.get(t, "webhook.state") != "active" || a.get(t, "webhook.url") != r.URL() {
		t.Fatalf("created: %s", a.body)
	}
	r.SetSecret(secret)
	e.do("POST", "/admin/v1/webhooks", map[string]any{"webhook_id": "crm", "url": r.URL()}).wantError(t, http.StatusConflict, webhook.CodeWebhookExists)
	for _, path := range []string{"/admin/v1/webhooks", "/admin/v1/webhooks/crm"} {
		if a := e.do("GET", path, nil).want(t, http.StatusOK); strings.Contains(string(a.body), "whsec_") {
			t.Fatalf("GET %s shows the secret: %s", path, a.body)
		}
	}
	if a := e.do("GET", "/admin/v1/webhooks", nil); a.get(t, "webhooks.0.webhook_id") != "crm" || a.get(t, "webhooks.0.events.0") != points.EventFlowCreated {
		t.Fatalf("list: %s", a.body)
	}
	e.do("GET", "/admin/v1/webhooks/nope", nil).wantError(t, http.StatusNotFound, webhook.CodeWebhookNotFound)
	e.do("PUT", "/admin/v1/webhooks/crm", map[string]any{"webhook_id": "other", "url": r.URL()}).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")

	// Deliveries, with their attempts.
	storetest.StartDispatcher(t, e.Svc, st, storetest.FastDelivery())
	flow := e.MustCharge("C1", "g1", 10)
	r.WaitAcked(t, []points.Event{{ID: flow.FlowID}}, 30*time.Second)
	var d answer
	waitUntil(t, func() bool {
		d = e.do("GET", "/admin/v1/webhooks/crm/deliveries", nil).want(t, http.StatusOK)
		ds := d.get(t, "deliveries").([]any)
		return len(ds) == 1 && d.get(t, "deliveries.0.state") == webhook.Delivered
	})
	if d.get(t, "deliveries.0.event_id") != flow.FlowID || d.num(t, "deliveries.0.attempts") != 1 || d.get(t, "deliveries.0.batched") != true ||
		d.num(t, "deliveries.0.attempt_log.0.status") != http.StatusNoContent || d.get(t, "deliveries.0.attempt_log.0.latency_ms").(float64) <= 0 {
		t.Fatalf("deliveries: %s", d.body)
	}
	pos := d.num(t, "deliveries.0.position")
	if a := e.do("GET", "/admin/v1/webhooks/crm/deliveries?state=failed", nil).want(t, http.StatusOK); len(a.get(t, "deliveries").([]any)) != 0 {
		t.Fatalf("failed deliveries: %s", a.body)
	}
	if err := e.do("GET", "/admin/v1/webhooks/crm/deliveries?state=lost", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER"); err["field"] != "state" {
		t.Fatalf("bad state: %v", err)
	}
	if err := e.do("GET", "/admin/v1/webhooks/crm/deliveries?limit=x", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER"); err["field"] != "limit" {
		t.Fatalf("bad limit: %v", err)
	}
	e.do("GET", "/admin/v1/webhooks/nope/deliveries", nil).wantError(t, http.StatusNotFound, webhook.CodeWebhookNotFound)

	// Redeliver one: it arrives again.
	e.do("POST", "/admin/v1/webhooks/crm/deliveries/"+itoa(pos)+"/redeliver", nil).want(t, http.StatusOK)
	waitUntil(t, func() bool {
		d = e.do("GET", "/admin/v1/webhooks/crm/deliveries", nil)
		return d.num(t, "deliveries.0.attempts") == 2 && d.get(t, "deliveries.0.state") == webhook.Delivered
	})
	if strings.Contains(string(d.body), `"batched"`) {
		t.Fatalf("redelivered, it has a row of its own: %s", d.body)
	}
	if n := len(r.Arrivals()); n != 2 {
		t.Fatalf("%d requests after redelivering, want 2", n)
	}
	e.do("POST", "/admin/v1/webhooks/crm/deliveries/999999/redeliver", nil).wantError(t, http.StatusNotFound, webhook.CodeDeliveryNotFound)
	if err := e.do("POST", "/admin/v1/webhooks/crm/deliveries/x/redeliver", nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER"); err["field"] != "pos" {
		t.Fatalf("bad pos: %v", err)
	}
	if a := e.do("POST", "/admin/v1/webhooks/crm/redeliver-failed", nil).want(t, http.StatusOK); a.num(t, "redelivered") != 0 {
		t.Fatalf("redeliver failed: %s", a.body)
	}

	// Update: the secret is kept; disabled and enabled again.
	a = e.do("PUT", "/admin/v1/webhooks/crm", map[string]any{"url": r.URL(), "disabled": true}).want(t, http.StatusOK)
	if a.get(t, "webhook.state") != "disabled" || a.get(t, "webhook.disabled_reason") != points.WebhookDisabledByOperator || a.m["secret"] != nil {
		t.Fatalf("disabled: %s", a.body)
	}
	a = e.do("PUT", "/admin/v1/webhooks/crm", map[string]any{"url": r.URL()}).want(t, http.StatusOK)
	if a.get(t, "webhook.state") != "active" || a.get(t, "webhook.brands") == nil {
		t.Fatalf("enabled: %s", a.body)
	}
	if ep, err := st.Webhook(e.Ctx, "crm"); err != nil || ep.Secret != secret {
		t.Fatalf("secret after PUT: %v", err)
	}
	// Rotate: a new secret, which deliveries use from now on.
	a = e.do("POST", "/admin/v1/webhooks/crm/rotate-secret", nil).want(t, http.StatusOK)
	rotated, _ := a.get(t, "secret").(string)
	if rotated == secret || !strings.HasPrefix(rotated, "whsec_") {
		t.Fatalf("rotated: %s", a.body)
	}
	r.SetSecret(rotated)
	f2 := e.MustCharge("C1", "g2", 10)
	r.WaitAcked(t, []points.Event{{ID: f2.FlowID}}, 30*time.Second)
	if ps := r.Problems(); len(ps) > 0 {
		t.Fatalf("receiver: %v", ps)
	}
	e.do("POST", "/admin/v1/webhooks/nope/rotate-secret", nil).wantError(t, http.StatusNotFound, webhook.CodeWebhookNotFound)

	// Delete.
	e.do("DELETE", "/admin/v1/webhooks/crm", nil).want(t, http.StatusOK)
	e.do("GET", "/admin/v1/webhooks/crm", nil).wantError(t, http.StatusNotFound, webhook.CodeWebhookNotFound)
	e.do("DELETE", "/admin/v1/webhooks/crm", nil).wantError(t, http.StatusNotFound, webhook.CodeWebhookNotFound)
	e.do("PATCH", "/admin/v1/webhooks/crm", nil).wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
}

// TestAPI_WebhooksNotServed: without WithWebhooks the paths are 404.
func TestAPI_WebhooksNotServed(t *testing.T) {
	e := newAPIEnv(t)
	e.do("GET", "/admin/v1/webhooks", nil).wantError(t, http.StatusNotFound, "NOT_FOUND")
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("not within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
