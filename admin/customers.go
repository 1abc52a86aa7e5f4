package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/bodylimit"
	"jifen/ledger"
	"jifen/operator"
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
	cs, err := SearchCustomers(r.Context(), api.admin, principal(r), q.Get("brand_id"), q.Get("q"), int(limit))
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
	if err == nil {
		err = principal(r).NeedBrand(v.Brand.ID)
	}
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, customerViewOut(v))
}

// SearchCustomers searches in brandID, which p must act in, or in every
// brand p acts in.
func SearchCustomers(ctx context.Context, a *backoffice.Office, p operator.Principal, brandID, q string, limit int) ([]ledger.Customer, error) {
	if strings.TrimSpace(brandID) != "" || p.AllBrands() {
		if err := p.NeedBrand(brandID); brandID != "" && err != nil {
			return nil, err
		}
		return a.SearchCustomers(ctx, brandID, q, limit)
	}
	if limit <= 0 || limit > backoffice.MaxSearch {
		limit = 50
	}
	var out []ledger.Customer
	for _, b := range p.Brands {
		cs, err := a.SearchCustomers(ctx, b, q, limit-len(out))
		if err != nil {
			return nil, err
		}
		if out = append(out, cs...); len(out) >= limit {
			break
		}
	}
	return out, nil
}

// writeBody is what every write carries: the key that makes sending it
// twice harmless. Who does it is the authenticated operator: a body that
// names one ("operator") is refused as having an unknown field.
type writeBody struct {
	RequestID string `json:"request_id"`
}

// Adjustment is the body of POST /admin/v1/customers/{id}/adjustments,
// and what the audit log records as asked of an adjustment (the
// console's too).
type Adjustment struct {
	Points *int64 `json:"points"` // > 0 adds, < 0 takes
	Reason string `json:"reason"`
	writeBody
}

// NewAdjustment is the adjustment of n points (nil: none could be read)
// for reason, under requestID.
func NewAdjustment(n *int64, reason, requestID string) Adjustment {
	return Adjustment{Points: n, Reason: reason, writeBody: writeBody{RequestID: requestID}}
}

// CustomerUpdate is the body of PUT /admin/v1/customers/{id}, and what
// the audit log records as asked of a customer.update (the console's
// too): a field absent (nil) is left as it is, "" clears it.
type CustomerUpdate struct {
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

// CustomerUpdateOf is the body that asks for u.
func CustomerUpdateOf(u points.UpdateCustomerRequest) CustomerUpdate {
	return CustomerUpdate{Mobile: u.Mobile, Name: u.Name, LevelID: u.LevelID, Gender: u.Gender, Email: u.Email,
		Birthday: u.Birthday, Address: u.Address, Remark: u.Remark, CustomerType: u.CustomerType,
		writeBody: writeBody{RequestID: u.RequestID}}
}

func (b CustomerUpdate) request(id string) points.UpdateCustomerRequest {
	return points.UpdateCustomerRequest{CustomerID: id, Mobile: b.Mobile, Name: b.Name, LevelID: b.LevelID, Gender: b.Gender,
		Email: b.Email, Birthday: b.Birthday, Address: b.Address, Remark: b.Remark, CustomerType: b.CustomerType,
		RequestID: b.RequestID}
}

// customerBrand is the brand of the customer r's path names; it refuses,
// before a write, a customer whose brand r's operator does not act in.
func (api *API) customerBrand(r *http.Request) (string, error) {
	b, err := api.admin.CustomerBrand(r.Context(), r.PathValue("id"))
	if err != nil {
		return "", err
	}
	return b, principal(r).NeedBrand(b)
}

// POST /admin/v1/customers/{id}/adjustments
// {"points": -30, "reason": "…", "request_id": "…"}: in the name of the
// authenticated operator, within a support operator's points limit; a
// support operator's above the brand's approval_above is recorded for
// approval instead (202).
func (api *API) adjust(w http.ResponseWriter, r *http.Request) {
	var body Adjustment
	e := audit.Entry{Action: audit.Adjustment, Target: r.PathValue("id")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	var err error
	if body.Points == nil {
		err = ledger.Invalid("points", "不可为空: 正数增加, 负数扣减")
	} else {
		err = principal(r).NeedPoints(*body.Points)
	}
	if err == nil {
		e.BrandID, err = api.customerBrand(r)
	}
	var before backoffice.CustomerView
	if err == nil {
		before, err = api.admin.Customer(r.Context(), r.PathValue("id"))
	}
	var out points.Outcome
	var asked *approval.Approval
	if err == nil {
		e.Before = AuditAccount(before)
		out, asked, err = api.adjustOrAsk(r, points.AdjustRequest{CustomerID: r.PathValue("id"),
			Points: *body.Points, Reason: body.Reason, RequestID: body.RequestID})
	}
	if err == nil && asked != nil {
		// Recorded for approval: nothing is written yet.
		e.After = audit.JSON(asked.Summary())
		if api.audited(w, r, e, nil) {
			pending(w, *asked)
		}
		return
	}
	// The account after, read before the entry is recorded so that the
	// entry holds it; a failure to read it is not the adjustment's.
	var v backoffice.CustomerView
	var readErr error
	if err == nil {
		if v, readErr = api.admin.Customer(r.Context(), r.PathValue("id")); readErr == nil {
			e.After = AuditAccount(v)
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
// "request_id": "…"}: a field absent (or null) is left as it is, ""
// clears it; customer.update in the authenticated operator's name. The
// answer is the customer as stored now.
func (api *API) updateCustomer(w http.ResponseWriter, r *http.Request) {
	var body CustomerUpdate
	e := audit.Entry{Action: audit.CustomerUpdate, Target: r.PathValue("id")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	var err error
	e.BrandID, err = api.customerBrand(r)
	var before backoffice.CustomerView
	if err == nil {
		before, err = api.admin.Customer(r.Context(), r.PathValue("id"))
	}
	var out points.Outcome
	if err == nil {
		e.Before = AuditCustomer(before.Account.Customer)
		out, err = api.admin.UpdateCustomer(r.Context(), actor(r), body.request(r.PathValue("id")))
	}
	var v backoffice.CustomerView
	var readErr error
	if err == nil {
		if v, readErr = api.admin.Customer(r.Context(), out.Result); readErr == nil {
			e.After = AuditCustomer(v.Account.Customer)
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
