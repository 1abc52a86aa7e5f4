package admin

import (
	"net/http"

	"jifen/audit"
	"jifen/backoffice"
	"jifen/ledger"
)

// GET /admin/v1/brands/{brand}/orders/{order}: everything recorded for
// the order — spent, reversed, still reversible, earned, clawed back, its
// hold — with the flows behind each figure.
func (api *API) getOrder(w http.ResponseWriter, r *http.Request) {
	v, err := api.admin.Order(r.Context(), r.PathValue("brand"), r.PathValue("order"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, orderOut(v))
}

// reverseBody asks for a reversal of an order (and, without operator and
// request_id, for its preview).
type reverseBody struct {
	// Type is DEDUCT_FROM_CONSUME_REVERSE (the default: refund points
	// spent) or EXTRA_CHARGE_REVERSE (claw back points earned).
	Type           string `json:"type"`
	Points         *int64 `json:"points"` // absent: all that is left
	CustomerID     string `json:"customer_id"`
	ReverseOrderID string `json:"reverse_order_id"`
	ShopID         string `json:"shop_id"`
	Reason         string `json:"reason"`
	writeBody
}

func (b reverseBody) request(r *http.Request) backoffice.ReverseRequest {
	return backoffice.ReverseRequest{BrandID: r.PathValue("brand"), OutBizID: r.PathValue("order"), Type: ledger.FlowType(b.Type),
		CustomerID: b.CustomerID, Points: b.Points, ReverseOrderID: b.ReverseOrderID, ShopID: b.ShopID, Reason: b.Reason,
		RequestID: b.RequestID}
}

// POST /admin/v1/brands/{brand}/orders/{order}/reversal-preview: what the
// reversal in the body would do, lot by lot. Nothing is written.
func (api *API) previewReversal(w http.ResponseWriter, r *http.Request) {
	var body reverseBody
	if err := decode(w, r, &body); err != nil {
		api.failErr(w, r, err)
		return
	}
	p, err := api.admin.PreviewReversal(r.Context(), body.request(r))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, previewOut(p))
}

// POST /admin/v1/brands/{brand}/orders/{order}/reversals: the reversal,
// in the operator's name, idempotent by request_id.
func (api *API) reverse(w http.ResponseWriter, r *http.Request) {
	var body reverseBody
	e := audit.Entry{Action: audit.Reversal, BrandID: r.PathValue("brand"), Target: r.PathValue("order")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	out, err := api.admin.Reverse(r.Context(), body.Operator, body.request(r))
	if err == nil {
		e.After = audit.JSON(map[string]any{"flow_id": out.FlowID, "replayed": out.Replayed})
	}
	if !api.audited(w, r, e, err) {
		return
	}
	v, err := api.admin.Order(r.Context(), r.PathValue("brand"), r.PathValue("order"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, written(out), struct {
		FlowID   string    `json:"flow_id"`
		Replayed bool      `json:"replayed"`
		Order    orderJSON `json:"order"`
	}{out.FlowID, out.Replayed, orderOut(v)})
}

// POST /admin/v1/brands/{brand}/holds/{order}/release {"operator": "…"}:
// gives back what is still frozen for the order (UNFREEZE).
func (api *API) releaseHold(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Operator string `json:"operator"`
	}
	e := audit.Entry{Action: audit.HoldRelease, BrandID: r.PathValue("brand"), Target: r.PathValue("order")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	if !api.audited(w, r, e, api.admin.ReleaseHold(r.Context(), body.Operator, r.PathValue("brand"), r.PathValue("order"))) {
		return
	}
	v, err := api.admin.Order(r.Context(), r.PathValue("brand"), r.PathValue("order"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, orderOut(v))
}
