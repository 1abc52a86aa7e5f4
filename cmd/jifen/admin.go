package main

import (
	"context"
	"time"

	"jifen/approval"
	"log/slog"
	"net/http"

	"jifen/admin"
	"jifen/backoffice"
	"jifen/console"
	"jifen/operator"
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
