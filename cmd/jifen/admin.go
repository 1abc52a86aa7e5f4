package main

import (
	"log/slog"
	"net/http"

	"jifen/admin"
	"jifen/backoffice"
	"jifen/console"
	"jifen/webhook"
)

// minAdminToken is the shortest admin token serve accepts.
const minAdminToken = 16

// mountAdmin serves the admin JSON API (/admin/v1/) and the operators'
// console (/console/) when an admin token is configured, and says at start
// whether they are on.
func mountAdmin(mux *http.ServeMux, c handlerConfig) {
	log := c.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.adminToken == "" {
		log.Info("admin API and console are off: no --admin-token")
		return
	}
	a := backoffice.New(c.svc, c.store)
	api := admin.New(a, c.adminToken, log, c.throttle)
	if c.onShutdown != nil {
		c.onShutdown(api.Drain) // long polls of events answer at once
	}
	con := console.New(a, c.adminToken, log, c.throttle)
	if c.hooks != nil {
		h := webhook.NewAdmin(c.svc, c.hooks)
		api.WithWebhooks(h)
		con.WithWebhooks(h)
	}
	mux.Handle("/admin/v1/", api)
	mux.Handle("/console/", con)
	log.Info("admin API and console are on", "admin_api", "/admin/v1/", "console", "/console/")
}
