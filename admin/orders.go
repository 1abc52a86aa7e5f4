package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
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

// Reversal asks for a reversal of an order (and, without request_id,
// for its preview): the body of POST …/reversals and …/reversal-preview,
// and what the audit log records as asked of a reversal (the console's
// too).
type Reversal struct {
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

// ReversalOf is the body that asks for r (its order is in the path).
func ReversalOf(r backoffice.ReverseRequest) Reversal {
	return Reversal{Type: string(r.Type), Points: r.Points, CustomerID: r.CustomerID, ReverseOrderID: r.ReverseOrderID,
		ShopID: r.ShopID, Reason: r.Reason, writeBody: writeBody{RequestID: r.RequestID}}
}

func (b Reversal) request(r *http.Request) backoffice.ReverseRequest {
	return backoffice.ReverseRequest{BrandID: r.PathValue("brand"), OutBizID: r.PathValue("order"), Type: ledger.FlowType(b.Type),
		CustomerID: b.CustomerID, Points: b.Points, ReverseOrderID: b.ReverseOrderID, ShopID: b.ShopID, Reason: b.Reason,
		RequestID: b.RequestID}
}

// POST /admin/v1/brands/{brand}/orders/{order}/reversal-preview: what the
// reversal in the body would do, lot by lot. Nothing is written.
func (api *API) previewReversal(w http.ResponseWriter, r *http.Request) {
	var body Reversal
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
// in the authenticated operator's name, idempotent by request_id; a
// support operator's above the brand's approval_above is recorded for
// approval instead (202).
func (api *API) reverse(w http.ResponseWriter, r *http.Request) {
	var body Reversal
	e := audit.Entry{Action: audit.Reversal, BrandID: r.PathValue("brand"), Target: r.PathValue("order")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	var out points.Outcome
	var asked *approval.Approval
	err := api.withinLimit(r, body)
	if err == nil {
		out, asked, err = api.reverseOrAsk(r, body.request(r))
	}
	if err == nil && asked != nil {
		// Recorded for approval: nothing is written yet.
		e.After = audit.JSON(asked.Summary())
		if api.audited(w, r, e, nil) {
			pending(w, *asked)
		}
		return
	}
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

// withinLimit refuses a reversal that would move more points than r's
// operator may in one action: the points asked for, or, for "all that is
// left", what the reversal's preview would move.
func (api *API) withinLimit(r *http.Request, body Reversal) error {
	p := principal(r)
	if p.Role == operator.Admin {
		return nil
	}
	if body.Points != nil {
		return p.NeedPoints(*body.Points)
	}
	pv, err := api.admin.PreviewReversal(r.Context(), body.request(r))
	if err != nil {
		return err
	}
	return p.NeedPoints(pv.Points)
}

// POST /admin/v1/brands/{brand}/holds/{order}/release (no body, or {}):
// gives back what is still frozen for the order (UNFREEZE), in the
// authenticated operator's name, within a support operator's limit.
func (api *API) releaseHold(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	e := audit.Entry{Action: audit.HoldRelease, BrandID: r.PathValue("brand"), Target: r.PathValue("order")}
	if err := decodeOptional(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	rel, err := ReleaseHold(r.Context(), api.admin, principal(r), r.PathValue("brand"), r.PathValue("order"))
	e.Before, e.After = rel.Before, rel.After
	if !api.audited(w, r, e, err) {
		return
	}
	v, err := rel.Order, rel.OrderErr
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, orderOut(v))
}

// HoldRelease is what ReleaseHold did: the hold before and after, as an
// audit entry holds them, and the order after.
type HoldRelease struct {
	Before, After json.RawMessage
	Order         backoffice.OrderView
	OrderErr      error // the failure to read the order after, not the release's
}

// ReleaseHold gives back what is still frozen for brand's order in p's
// name, within a support operator's points limit: the admin API, the
// console and jifen hold release all release through it.
func ReleaseHold(ctx context.Context, o *backoffice.Office, p operator.Principal, brand, order string) (HoldRelease, error) {
	var rel HoldRelease
	before, err := o.Order(ctx, brand, order)
	switch {
	case err == nil:
		rel.Before = AuditHold(before)
		if p.Role != operator.Admin {
			if err := p.NeedPoints(before.Hold.Remaining); err != nil {
				return rel, err
			}
		}
	case !ledger.IsCode(err, backoffice.CodeOrderNotFound):
		return rel, err // else the release says there is no hold
	}
	if err := o.ReleaseHold(ctx, points.Actor{ID: p.OperatorID, Name: p.Name}, brand, order); err != nil {
		return rel, err
	}
	// Read before the entry is recorded, so that the entry holds it.
	if rel.Order, rel.OrderErr = o.Order(ctx, brand, order); rel.OrderErr == nil {
		rel.After = AuditHold(rel.Order)
	}
	return rel, nil
}
