package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"jifen/admin"
	"jifen/audit"
)

// The audit log: the console's actions are recorded after they ran, with
// their outcome (c.audited), and /console/audit lists the log.

// audited records e, the action r asked for in req, with the outcome err
// (nil: it succeeded). It reports whether the handler may go on to show
// the action's outcome; when the entry cannot be recorded it has shown
// an error page (500) saying whether the action itself succeeded.
func (c *Console) audited(w http.ResponseWriter, r *http.Request, req request, e audit.Entry, err error) bool {
	by := req.actor()
	e.OperatorID, e.OperatorName = by.ID, by.Name
	e.ClientAddr = c.logins.ClientAddr(r)
	if err != nil {
		p := admin.ProblemOf(err, "")
		e.Outcome, e.Message = p.Code, p.Message
		if p.Internal {
			e.Message = ""
		}
	}
	aerr := errors.New("the store keeps no audit log")
	if c.audits != nil {
		// Recorded even if the browser went away: the action has run.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), admin.AuditTimeout)
		_, aerr = c.audits.Record(ctx, e)
		cancel()
	}
	if aerr == nil {
		return true
	}
	id := c.admin.Service().NewID()
	c.log.Error("console: audit log", "method", r.Method, "path", r.URL.Path, "request_id", id, "action", e.Action,
		"outcome", e.Outcome, "error", aerr)
	what := "操作已完成"
	if err != nil {
		what = "操作未成功 (" + e.Outcome + ")"
	}
	pg := c.page(req, "审计日志写入失败", nil)
	pg.Error = what + ", 但未能记入审计日志, 请联系管理员 (AUDIT_FAILED, request_id " + id + ")"
	c.render(w, r, http.StatusInternalServerError, "error", pg)
	return false
}

type auditData struct {
	Filter  url.Values // as given, for the form and the pages
	Entries []auditRow
	Next    string // the next page's URL; "" on the last
	Actions []string
	Bad     string // the filter input an error named
}

// auditActions are the choices of the action filter.
var auditActions = []string{audit.SignIn, audit.SignInFailed, audit.SignOut, audit.Reversal, audit.HoldRelease,
	audit.Adjustment, audit.CustomerUpdate, audit.TenantApply, audit.BrandPut, audit.ShopPut, audit.RulePut, audit.AppPut,
	"webhook.*", "operator.*", audit.Export}

// GET /console/audit?operator=&action=&brand_id=&outcome=&from=&to=&before=:
// the audit log, newest first, a page at a time.
func (c *Console) auditLog(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	d := auditData{Filter: q, Actions: auditActions}
	aq, err := admin.ParseAuditQuery(r)
	if err == nil && c.audits == nil {
		err = errors.New("the store keeps no audit log")
	}
	var next int64
	var es []audit.Entry
	if err == nil {
		es, next, err = c.audits.List(r.Context(), aq)
	}
	if err != nil {
		p := c.page(req, "审计日志", nil)
		var status int
		status, d.Bad = c.refused(r, &p, err)
		p.Data = d
		c.render(w, r, status, "audit", p)
		return
	}
	if next != 0 {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("before", strconv.FormatInt(next, 10))
		d.Next = "/console/audit?" + nq.Encode()
	}
	ids := make([]string, 0, len(es))
	for _, e := range es {
		row := auditRow{Entry: e, Customer: entryCustomer(e),
			Order: (e.Action == audit.Reversal || e.Action == audit.HoldRelease) && e.BrandID != "" && e.Target != ""}
		if row.Customer != "" {
			ids = append(ids, row.Customer)
		}
		d.Entries = append(d.Entries, row)
	}
	p := c.page(req, "审计日志", d)
	p.Names = c.names(r, ids...)
	c.render(w, r, http.StatusOK, "audit", p)
}

// auditRow is an entry as the page shows it: with the member it is
// about, shown by name and mobile.
type auditRow struct {
	audit.Entry
	Customer string // the customer's id; "" for none
	Order    bool   // Target is an order of BrandID
}

// entryCustomer is the customer an entry is about: its target for an
// adjustment or a customer's edit, the customer asked for a reversal.
func entryCustomer(e audit.Entry) string {
	switch e.Action {
	case audit.Adjustment, audit.CustomerUpdate:
		return e.Target
	case audit.Reversal:
		// Entries the console recorded before it used the API's shape
		// name it CustomerID.
		var req struct {
			CustomerID string `json:"customer_id"`
			Old        string `json:"CustomerID"`
		}
		if json.Unmarshal(e.Request, &req) == nil {
			return cmp.Or(req.CustomerID, req.Old)
		}
	}
	return ""
}
