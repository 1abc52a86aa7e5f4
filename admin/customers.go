package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"jifen/audit"
	"jifen/backoffice"
	"jifen/bodylimit"
	"jifen/ledger"
	"jifen/points"
)

// GET /admin/v1/customers?q=…[&brand_id=…][&limit=…]: customers whose id
// starts with q, or whose mobile or name contains it.
func (api *API) searchCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit")
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	cs, err := api.admin.SearchCustomers(r.Context(), q.Get("brand_id"), q.Get("q"), int(limit))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Customers []customerJSON `json:"customers"`
	}{Customers: []customerJSON{}}
	for _, c := range cs {
		out.Customers = append(out.Customers, customerOut(c))
	}
	reply(w, http.StatusOK, out)
}

// GET /admin/v1/customers/{id}: the customer, their account, live lots
// (expiring soon marked) and latest holds.
func (api *API) getCustomer(w http.ResponseWriter, r *http.Request) {
	v, err := api.admin.Customer(r.Context(), r.PathValue("id"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, customerViewOut(v))
}

// writeBody is what every write carries: who does it, and the key that
// makes sending it twice harmless.
type writeBody struct {
	Operator  string `json:"operator"`
	RequestID string `json:"request_id"`
}

// POST /admin/v1/customers/{id}/adjustments
// {"points": -30, "reason": "…", "operator": "…", "request_id": "…"}
func (api *API) adjust(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Points *int64 `json:"points"`
		Reason string `json:"reason"`
		writeBody
	}
	e := audit.Entry{Action: audit.Adjustment, Target: r.PathValue("id")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	before, err := api.admin.Customer(r.Context(), r.PathValue("id"))
	if err == nil {
		e.BrandID, e.Before = before.Brand.ID, audit.JSON(customerViewOut(before).Account)
		if body.Points == nil {
			err = ledger.Invalid("points", "不可为空: 正数增加, 负数扣减")
		}
	}
	var out points.Outcome
	if err == nil {
		out, err = api.admin.Adjust(r.Context(), body.Operator, points.AdjustRequest{CustomerID: r.PathValue("id"),
			Points: *body.Points, Reason: body.Reason, RequestID: body.RequestID})
	}
	// The account after, read before the entry is recorded so that the
	// entry holds it; a failure to read it is not the adjustment's.
	var v backoffice.CustomerView
	var readErr error
	if err == nil {
		if v, readErr = api.admin.Customer(r.Context(), r.PathValue("id")); readErr == nil {
			e.After = audit.JSON(customerViewOut(v).Account)
		}
	}
	if !api.audited(w, r, e, err) {
		return
	}
	if readErr != nil {
		api.failErr(w, r, readErr)
		return
	}
	reply(w, written(out), struct {
		FlowID   string      `json:"flow_id"`
		Replayed bool        `json:"replayed"`
		Account  accountJSON `json:"account"`
	}{out.FlowID, out.Replayed, customerViewOut(v).Account})
}

// PUT /admin/v1/customers/{id}
// {"name": "…", "mobile": "…", "level_id": "…", "gender": "1", "email": "…",
// "birthday": "1990-05-01", "address": "…", "remark": "…", "customer_type": 1,
// "operator": "…", "request_id": "…"}: a field absent (or null) is left as
// it is, "" clears it; customer.update in the operator's name. The answer
// is the customer as stored now.
func (api *API) updateCustomer(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mobile       *string `json:"mobile"`
		Name         *string `json:"name"`
		LevelID      *string `json:"level_id"`
		Gender       *string `json:"gender"`
		Email        *string `json:"email"`
		Birthday     *string `json:"birthday"`
		Address      *string `json:"address"`
		Remark       *string `json:"remark"`
		CustomerType *int    `json:"customer_type"`
		writeBody
	}
	e := audit.Entry{Action: audit.CustomerUpdate, Target: r.PathValue("id")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	before, err := api.admin.Customer(r.Context(), r.PathValue("id"))
	var out points.Outcome
	if err == nil {
		e.BrandID, e.Before = before.Brand.ID, audit.JSON(customerOut(before.Account.Customer))
		out, err = api.admin.UpdateCustomer(r.Context(), body.Operator, points.UpdateCustomerRequest{CustomerID: r.PathValue("id"),
			Mobile: body.Mobile, Name: body.Name, LevelID: body.LevelID, Gender: body.Gender, Email: body.Email,
			Birthday: body.Birthday, Address: body.Address, Remark: body.Remark, CustomerType: body.CustomerType,
			RequestID: body.RequestID})
	}
	var v backoffice.CustomerView
	var readErr error
	if err == nil {
		if v, readErr = api.admin.Customer(r.Context(), out.Result); readErr == nil {
			e.After = audit.JSON(customerOut(v.Account.Customer))
		}
	}
	if !api.audited(w, r, e, err) {
		return
	}
	if readErr != nil {
		api.failErr(w, r, readErr)
		return
	}
	reply(w, http.StatusOK, struct {
		Replayed bool         `json:"replayed"`
		Customer customerJSON `json:"customer"`
	}{out.Replayed, customerOut(v.Account.Customer)})
}

// written is the status of an accepted write: 201 when it wrote, 200 when
// it answered an earlier one again.
func written(o points.Outcome) int {
	if o.Replayed {
		return http.StatusOK
	}
	return http.StatusCreated
}

// intParam reads an optional whole number query parameter.
func intParam(s, field string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, ledger.Invalidf(field, "应为非负整数, 收到 %q", s)
	}
	return n, nil
}

// invalidBody is the error for a body that could not be read or decoded.
// A body the server would not hold (package bodylimit: not received in
// time, or no memory for it now) is not the body's fault: it keeps its
// error, which ProblemOf answers.
func invalidBody(err error) error {
	if errors.Is(err, bodylimit.ErrTimeout) || errors.Is(err, bodylimit.ErrBusy) {
		return err
	}
	return ledger.Invalidf("body", "请求体无法解析: %v", err)
}
