package webhook

import (
	"context"
	"errors"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// Admin is the operators' side of webhooks, behind the admin API and the
// console: endpoints are written through the service (as the tenant file
// writes them, with its validation), deliveries through the Store.
type Admin struct {
	svc   *points.Service
	store Store
	now   func() time.Time
}

// NewAdmin returns the operators' side over svc and store.
func NewAdmin(svc *points.Service, store Store) *Admin {
	return &Admin{svc: svc, store: store, now: time.Now}
}

// Webhooks lists every endpoint with its counts of pending and failed
// deliveries.
func (a *Admin) Webhooks(ctx context.Context) ([]Endpoint, error) {
	eps, err := a.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	for i := range eps {
		if err := a.count(ctx, &eps[i]); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

func (a *Admin) count(ctx context.Context, e *Endpoint) (err error) {
	e.Pending, e.Failed, err = a.store.CountDeliveries(ctx, e.ID, CountCap)
	return err
}

// CountCap is where the counts of an endpoint's deliveries stop: a count
// above it is shown as "1000+".
const CountCap = 1000

// Webhook returns one endpoint with its counts.
func (a *Admin) Webhook(ctx context.Context, id string) (Endpoint, error) {
	if points.CheckText("webhook_id", id) != nil {
		return Endpoint{}, webhookNotFound(id) // no endpoint has such an id
	}
	e, err := a.store.Webhook(ctx, strings.TrimSpace(id))
	if errors.Is(err, points.ErrNotFound) {
		return e, webhookNotFound(id)
	}
	if err != nil {
		return e, err
	}
	return e, a.count(ctx, &e)
}

// Put creates or replaces an endpoint's configuration, as the tenant
// file does (with its validation; an endpoint put without Disabled is
// enabled again). secret is the one generated for a new endpoint given
// none, shown once.
func (a *Admin) Put(ctx context.Context, w points.Webhook) (e Endpoint, secret string, err error) {
	rep, err := a.svc.Apply(ctx, points.Tenant{Webhooks: []points.Webhook{w}})
	if err != nil {
		return e, "", err
	}
	e, err = a.Webhook(ctx, w.ID)
	return e, rep.WebhookSecrets[w.ID], err
}

// Create is Put for an endpoint that must not exist yet.
func (a *Admin) Create(ctx context.Context, w points.Webhook) (Endpoint, string, error) {
	_, err := a.store.Webhook(ctx, w.ID)
	switch {
	case err == nil:
		return Endpoint{}, "", ledger.Business(CodeWebhookExists, "Webhook 已存在", "webhook %q exists; PUT /admin/v1/webhooks/%s changes it", w.ID, w.ID)
	case !errors.Is(err, points.ErrNotFound):
		return Endpoint{}, "", err
	}
	return a.Put(ctx, w)
}

// CodeWebhookExists refuses to create an endpoint twice.
const CodeWebhookExists = "WEBHOOK_EXISTS"

// Delete deletes an endpoint and its deliveries.
func (a *Admin) Delete(ctx context.Context, id string) error {
	err := a.store.DeleteWebhook(ctx, id)
	if errors.Is(err, points.ErrNotFound) {
		return webhookNotFound(id)
	}
	return err
}

// RotateSecret gives an endpoint a new secret and returns it (shown once):
// deliveries from now on are signed with it.
func (a *Admin) RotateSecret(ctx context.Context, id string) (string, error) {
	e, err := a.store.Webhook(ctx, id)
	if errors.Is(err, points.ErrNotFound) {
		return "", webhookNotFound(id)
	}
	if err != nil {
		return "", err
	}
	w := e.Webhook
	w.Secret = points.NewWebhookSecret()
	w.Disabled = !e.Active() // rotating changes nothing else
	if _, err := a.svc.Apply(ctx, points.Tenant{Webhooks: []points.Webhook{w}}); err != nil {
		return "", err
	}
	return w.Secret, nil
}

// MaxDeliveriesPerPage caps DeliveryQuery.Limit for operators.
const MaxDeliveriesPerPage = 200

// Deliveries lists an endpoint's deliveries with their attempts, newest
// first.
func (a *Admin) Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error) {
	switch q.State {
	case "", Pending, Delivered, Failed:
	default:
		return nil, ledger.Invalidf("state", "应为 pending, delivered 或 failed, 收到 %q", q.State)
	}
	if q.Limit <= 0 || q.Limit > MaxDeliveriesPerPage {
		q.Limit = MaxDeliveriesPerPage
	}
	if q.Before < 0 {
		return nil, ledger.Invalidf("before", "不可为负: %d", q.Before)
	}
	if _, err := a.Webhook(ctx, q.WebhookID); err != nil {
		return nil, err
	}
	return a.store.Deliveries(ctx, q)
}

// EventHorizon is the highest position whose event was removed after the
// retention period (0: none).
func (a *Admin) EventHorizon(ctx context.Context) (int64, error) { return a.svc.EventHorizon(ctx) }

// Redeliver sends one event to an endpoint again, with a new retry
// window; a later event of its member not yet acknowledged waits for it.
func (a *Admin) Redeliver(ctx context.Context, id string, pos int64) error {
	if _, err := a.Webhook(ctx, id); err != nil {
		return err
	}
	h, err := a.svc.EventHorizon(ctx)
	if err != nil {
		return err
	}
	if pos <= h {
		return ledger.Business(CodeDeliveryNotFound, "事件已删除",
			"the event at position %d was removed after the retention period (events through %d were)", pos, h)
	}
	err = a.store.Redeliver(ctx, id, pos, a.now())
	if errors.Is(err, points.ErrNotFound) {
		return ledger.Business(CodeDeliveryNotFound, "投递不存在", "webhook %q has no delivery of the event at position %d", id, pos)
	}
	return err
}

// RedeliverFailed sends every failed delivery of an endpoint again and
// says how many.
func (a *Admin) RedeliverFailed(ctx context.Context, id string) (int, error) {
	if _, err := a.Webhook(ctx, id); err != nil {
		return 0, err
	}
	return a.store.RedeliverFailed(ctx, id, a.now())
}

// EventDeliveries returns one event and its deliveries, by endpoint (a
// flow's event has the flow's id and says what the flow did).
func (a *Admin) EventDeliveries(ctx context.Context, brandID, eventID string) (points.Event, []Delivery, error) {
	var ev points.Event
	var ds []Delivery
	err := points.ErrNotFound // for ids no event can have
	if points.CheckText("brand_id", brandID) == nil && points.CheckText("event_id", eventID) == nil {
		ev, ds, err = a.store.EventDeliveries(ctx, strings.TrimSpace(brandID), strings.TrimSpace(eventID))
	}
	if errors.Is(err, points.ErrNotFound) {
		if h, herr := a.svc.EventHorizon(ctx); herr == nil && h > 0 {
			return ev, nil, ledger.Business(CodeEventNotFound, "事件不存在或已按保留期删除 (流水本身仍在账本中, 见会员页)",
				"brand %q has no event %q (events through position %d were removed after the retention period; "+
					"a flow stays in the ledger: querypointflow, the customer's page)", brandID, eventID, h)
		}
		return ev, nil, ledger.Business(CodeEventNotFound, "事件不存在", "brand %q has no event %q", brandID, eventID)
	}
	return ev, ds, err
}
