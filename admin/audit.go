package admin

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"jifen/audit"
	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
	"jifen/webhook"
)

// The audit log: every write of the API is recorded after it ran, with
// its outcome (api.audited), every CSV download before it is sent
// (api.exporting), and GET /admin/v1/audit lists the log.

// errNoAuditStore is the recording failure of a store that keeps no log.
var errNoAuditStore = errors.New("the store keeps no audit log")

// audited records e, the action r asked for, with the outcome err, and
// answers err if the action failed. It reports whether the handler is to
// answer the action's success. The action ran before: an entry is never
// recorded for an action that then did not happen. When the entry cannot
// be recorded, the answer is 500 AUDIT_FAILED, saying whether the action
// itself succeeded.
func (api *API) audited(w http.ResponseWriter, r *http.Request, e audit.Entry, err error) bool {
	e, aerr := api.record(r, e, err)
	if aerr != nil {
		what := "the action succeeded, but it"
		if err != nil {
			what = "the action failed (" + e.Outcome + "), but it"
		}
		api.auditFailed(w, r, e, aerr, what)
		return false
	}
	if err != nil {
		api.failErr(w, r, err)
		return false
	}
	return true
}

// record appends e, the action r asked for, with the outcome err, under
// r's operator and client address. It returns the entry as it was to be
// recorded, and the failure to record it.
func (api *API) record(r *http.Request, e audit.Entry, err error) (audit.Entry, error) {
	by := actor(r)
	e.OperatorID, e.OperatorName = by.ID, by.Name
	e.ClientAddr = api.throttle.ClientAddr(r)
	if err != nil {
		p := ProblemOf(err, "")
		e.Outcome, e.Message = p.Code, p.Message
		if p.Internal {
			e.Message = "" // its text is for the server's log only
		}
	}
	l := api.audits
	if l == nil {
		return e, errNoAuditStore
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), AuditTimeout)
	defer cancel()
	_, aerr := l.Record(ctx, e)
	return e, aerr
}

// exportEntry is the audit entry of a CSV download of what (flows,
// totals, audit) of brand ("" for none): the filters asked, as r's query
// parameters (the first value of each, as the handlers read them).
func exportEntry(r *http.Request, what, brand string) audit.Entry {
	q := r.URL.Query()
	asked := make(map[string]string, len(q))
	for k := range q {
		asked[k] = q.Get(k)
	}
	return audit.Entry{Action: audit.Export, BrandID: strings.TrimSpace(brand), Target: what, Request: audit.JSON(asked)}
}

// exporting records e, a CSV download about to be answered (rows rows,
// or an unknown number if negative), before a byte of it is sent: a
// download the log cannot hold is answered AUDIT_FAILED, never sent. It
// reports whether to send it.
func (api *API) exporting(w http.ResponseWriter, r *http.Request, e audit.Entry, rows int) bool {
	if rows >= 0 {
		e.After = audit.JSON(map[string]int{"rows": rows})
	}
	e, aerr := api.record(r, e, nil)
	if aerr != nil {
		api.auditFailed(w, r, e, aerr, "the download was not sent: it")
		return false
	}
	return true
}

// auditFailed answers 500 AUDIT_FAILED for e, which could not be recorded
// (aerr, logged under a request id the answer names); what says what
// became of the action.
func (api *API) auditFailed(w http.ResponseWriter, r *http.Request, e audit.Entry, aerr error, what string) {
	id := api.admin.Service().NewID()
	api.log.Error("admin API: audit log", "method", r.Method, "path", r.URL.Path, "request_id", id,
		"action", e.Action, "outcome", e.Outcome, "error", aerr)
	w.Header().Set("X-Request-Id", id)
	api.fail(w, r, Problem{Status: http.StatusInternalServerError, Code: "AUDIT_FAILED",
		Message: what + " could not be recorded in the audit log; request_id " + id})
}

// cutShort ends a CSV download whose sending failed with err after rows
// rows: the answer has begun, so it can only be logged and cut short
// (http.ErrAbortHandler), so that the client sees a broken download,
// never a complete-looking one.
func (api *API) cutShort(r *http.Request, rows int, err error) {
	if err == nil {
		return
	}
	api.log.Error("admin API: export cut short", "method", r.Method, "path", r.URL.Path, "rows", rows, "error", err)
	panic(http.ErrAbortHandler)
}

// What audit entries hold of the records an action changes (Before,
// After): each as the API shows it, so that an entry reads the same
// whether the API or the console recorded it.

// AuditAccount is a customer's account (balances, lifetime totals).
func AuditAccount(v backoffice.CustomerView) json.RawMessage {
	return audit.JSON(customerViewOut(v).Account)
}

// AuditHold is what an order still holds frozen (null: no hold).
func AuditHold(v backoffice.OrderView) json.RawMessage {
	return audit.JSON(orderOut(v).Hold)
}

// AuditCustomer is a customer's record.
func AuditCustomer(c ledger.Customer) json.RawMessage { return audit.JSON(customerOut(c)) }

// AuditBrand is a brand with its settings, shops and rule.
func AuditBrand(v backoffice.BrandView) json.RawMessage { return audit.JSON(brandViewOut(v)) }

// AuditShop is a shop, in a list as GET …/shops shows it.
func AuditShop(s ledger.Shop) json.RawMessage { return audit.JSON(shopsOut([]ledger.Shop{s})) }

// AuditRule is a rule version.
func AuditRule(r ledger.Rule) json.RawMessage { return audit.JSON(ruleOut(r)) }

// AuditApp is an app, never its secret.
func AuditApp(a ledger.App) json.RawMessage { return audit.JSON(appOut(a)) }

// AuditWebhook is a webhook endpoint with its state, never its secret.
func AuditWebhook(e webhook.Endpoint) json.RawMessage { return audit.JSON(webhookOut(e)) }

// AuditTimeout bounds the recording of an audit entry. An entry is
// recorded without the request's cancellation: the action has run (or
// been refused) by then, and a client that went away, or a body that did
// not come in time, must not keep it out of the log.
const AuditTimeout = 10 * time.Second

// ParseAuditQuery reads an audit query from r's parameters: operator,
// action, brand_id, outcome, from, to (times as the flows' filter reads
// them), before, limit.
func ParseAuditQuery(r *http.Request) (audit.Query, error) {
	q := r.URL.Query()
	aq := audit.Query{Operator: q.Get("operator"), Action: q.Get("action"), BrandID: q.Get("brand_id"), Outcome: q.Get("outcome")}
	// Text no entry can hold (a control character, bad UTF-8: PostgreSQL
	// would refuse the query) is bad input, named.
	for _, f := range []struct{ name, v string }{{"operator", aq.Operator}, {"action", aq.Action},
		{"brand_id", aq.BrandID}, {"outcome", aq.Outcome}} {
		if err := points.CheckText(f.name, f.v); err != nil {
			return aq, err
		}
	}
	var err error
	if aq.From, err = parseTime("from", q.Get("from"), false); err != nil {
		return aq, err
	}
	if aq.To, err = parseTime("to", q.Get("to"), true); err != nil {
		return aq, err
	}
	if !aq.To.IsZero() {
		aq.To = aq.To.Add(time.Microsecond) // to is inclusive here, exclusive in the query
	}
	if aq.Before, err = intParam(q.Get("before"), "before"); err != nil {
		return aq, err
	}
	limit, err := intParam(q.Get("limit"), "limit")
	aq.Limit = int(limit)
	return aq, err
}

// auditJSON is an entry as the API shows it.
type auditJSON struct {
	Seq          int64           `json:"seq"`
	At           time.Time       `json:"at"`
	OperatorID   string          `json:"operator_id"`
	OperatorName string          `json:"operator_name"`
	ClientAddr   string          `json:"client_addr"`
	Action       string          `json:"action"`
	BrandID      string          `json:"brand_id"`
	Target       string          `json:"target"`
	Request      json.RawMessage `json:"request"`
	Outcome      string          `json:"outcome"`
	Message      string          `json:"message"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	PrevHash     string          `json:"prev_hash"`
	Hash         string          `json:"hash"`
}

func auditOut(e audit.Entry) auditJSON {
	null := func(m json.RawMessage) json.RawMessage {
		if m == nil {
			return json.RawMessage("null")
		}
		return m
	}
	return auditJSON{Seq: e.Seq, At: e.At.In(ledger.Shanghai), OperatorID: e.OperatorID, OperatorName: e.OperatorName,
		ClientAddr: e.ClientAddr, Action: e.Action, BrandID: e.BrandID, Target: e.Target, Request: null(e.Request),
		Outcome: e.Outcome, Message: e.Message, Before: null(e.Before), After: null(e.After), PrevHash: e.PrevHash, Hash: e.Hash}
}

// GET /admin/v1/audit?operator=&action=&brand_id=&outcome=&from=&to=&before=&limit=[&format=csv]:
// audit log entries, newest first; next_before pages on. A CSV download
// is an export, recorded in the log before it is sent (so the page it
// answers, read before, does not hold its own entry).
func (api *API) listAudit(w http.ResponseWriter, r *http.Request) {
	csvOut := r.URL.Query().Get("format") == "csv"
	fail := func(err error) {
		if csvOut {
			api.audited(w, r, exportEntry(r, "audit", ""), err)
		} else {
			api.failErr(w, r, err)
		}
	}
	q, err := ParseAuditQuery(r)
	if err != nil {
		fail(err)
		return
	}
	l := api.audits
	if l == nil {
		fail(errNoAuditStore)
		return
	}
	es, next, err := l.List(r.Context(), q)
	if err != nil {
		fail(err)
		return
	}
	if !csvOut {
		out := struct {
			Entries    []auditJSON `json:"entries"`
			NextBefore int64       `json:"next_before,omitempty"`
		}{Entries: []auditJSON{}, NextBefore: next}
		for _, e := range es {
			out.Entries = append(out.Entries, auditOut(e))
		}
		reply(w, http.StatusOK, out)
		return
	}
	if !api.exporting(w, r, exportEntry(r, "audit", ""), len(es)) {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="jifen-audit.csv"`)
	if next != 0 {
		w.Header().Set("X-Next-Before", strconv.FormatInt(next, 10))
	}
	w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	cw.Write([]string{"seq", "at", "operator_id", "operator_name", "client_addr", "action", "brand_id", "target", "request",
		"outcome", "message", "before", "after", "prev_hash", "hash"})
	for _, e := range es {
		cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.In(ledger.Shanghai).Format(time.RFC3339Nano), cell(e.OperatorID),
			cell(e.OperatorName), cell(e.ClientAddr), e.Action, cell(e.BrandID), cell(e.Target), cell(string(e.Request)),
			e.Outcome, cell(e.Message), cell(string(e.Before)), cell(string(e.After)), e.PrevHash, e.Hash})
	}
	cw.Flush()
	api.cutShort(r, len(es), cw.Error())
}
