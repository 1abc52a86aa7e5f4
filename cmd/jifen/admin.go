package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"jifen/admin"
	"jifen/approval"
	"jifen/backoffice"
	"jifen/console"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

// minAdminToken is the shortest admin token serve accepts.
const minAdminToken = 16

// mountAdmin serves the admin JSON API (/admin/v1/) and the operators'
// console (/console/), for named operators (jifen operator add) and, with
// --admin-token, the bootstrap operator.
func mountAdmin(mux *http.ServeMux, c handlerConfig) {
	log := c.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.store == nil {
		log.Info("admin API and console are off: no store to read")
		return
	}
	var read backoffice.Reader = c.store
	if c.read != nil {
		read = c.read
	}
	a := backoffice.New(c.svc, read)
	ops := operator.New(c.store, c.svc, c.adminToken)
	ap := approval.New(c.store, a)
	api := admin.New(a, ops, log, c.throttle).WithApprovals(ap)
	if c.onShutdown != nil {
		c.onShutdown(api.Drain) // long polls of events answer at once
	}
	con := console.New(a, ops, log, c.throttle).WithApprovals(ap)
	if c.hooks != nil {
		h := webhook.NewAdmin(c.svc, c.hooks)
		api.WithWebhooks(h)
		con.WithWebhooks(h)
	}
	mux.Handle("/admin/v1/", api)
	mux.Handle("/console/", con)
	log.Info("admin API and console are on", "admin_api", "/admin/v1/", "console", "/console/", "bootstrap_token", c.adminToken != "")
}

// retryApprovals expires the approvals that waited too long and executes
// again those approved whose execution was cut short (approval.Service.Retry),
// every interval until ctx ends.
func retryApprovals(ctx context.Context, ap *approval.Service, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		expired, executed, err := ap.Retry(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("approvals", "error", err)
		} else if expired+executed > 0 {
			log.Info("approvals", "expired", expired, "executed", executed)
		}
	}
}

// pruneEvents removes, every so often, the events older than retention
// that every webhook endpoint and recorded output has got.
func pruneEvents(ctx context.Context, svc *points.Service, retention, every time.Duration, log *slog.Logger,
	observe func(removed int, horizon int64)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p, err := svc.PruneEvents(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("events: remove after the retention period", "error", err)
		case err == nil:
			observe(p.Removed, p.Horizon)
			if p.Removed > 0 {
				log.Info("events: removed after the retention period", "removed", p.Removed, "through_position", p.Horizon,
					"consumers_allow", p.Floor)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// outputEvery is how often a server records how far its NATS stream
// got: every 10 s, or a quarter of a shorter retention period (a record
// older than the period holds nothing back).
func outputEvery(retention time.Duration) time.Duration {
	if retention <= 0 {
		return 10 * time.Second
	}
	return min(10*time.Second, max(100*time.Millisecond, retention/4))
}

// recordOutput records, every so often while ctx lasts, how far an
// output has published (position), so that event retention keeps what
// it has not got; a position of 0 (not yet known) holds back every event
// until the first is recorded.
func recordOutput(ctx context.Context, svc *points.Service, name string, every time.Duration, position func() int64, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := svc.RecordOutput(ctx, name, position()); err != nil && ctx.Err() == nil {
			log.Warn("events: record the output's position", "output", name, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
