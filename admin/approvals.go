package admin

import (
	"net/http"

	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/points"
)

// WithApprovals serves four eyes (/admin/v1/approvals) over s, and routes
// operators' refunds and adjustments through it: a support operator's
// above its brand's approval_above is answered 202 with the approval it
// recorded. Without it those paths answer 404 and every refund and
// adjustment is written at once. Call it before serving.
func (api *API) WithApprovals(s *approval.Service) *API {
	api.approvals = s
	return api
}

func (api *API) approvalsOr404(w http.ResponseWriter, r *http.Request) *approval.Service {
	if api.approvals == nil {
		api.fail(w, r, Problem{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "approvals are not served here"})
	}
	return api.approvals
}

// reverse performs r's reversal, or records it for approval.
func (api *API) reverseOrAsk(r *http.Request, rr backoffice.ReverseRequest) (points.Outcome, *approval.Approval, error) {
	if api.approvals == nil {
		out, err := api.admin.Reverse(r.Context(), actor(r), rr)
		return out, nil, err
	}
	return api.approvals.Reverse(r.Context(), principal(r), rr)
}

// adjustOrAsk performs r's adjustment, or records it for approval.
func (api *API) adjustOrAsk(r *http.Request, ar points.AdjustRequest) (points.Outcome, *approval.Approval, error) {
	if api.approvals == nil {
		out, err := api.admin.Adjust(r.Context(), actor(r), ar)
		return out, nil, err
	}
	return api.approvals.Adjust(r.Context(), principal(r), ar)
}

// pending answers a request recorded for approval: 202 Accepted.
func pending(w http.ResponseWriter, a approval.Approval) {
	reply(w, http.StatusAccepted, struct {
		Approval approvalJSON `json:"approval"`
	}{approvalOut(a)})
}

type approvalJSON struct {
	ApprovalID    string         `json:"approval_id"`
	BrandID       string         `json:"brand_id"`
	Kind          approval.Kind  `json:"kind"`
	State         approval.State `json:"state"`
	Points        int64          `json:"points"`
	Request       any            `json:"request"`
	RequestID     string         `json:"request_id"`
	RequesterID   string         `json:"requester_id"`
	RequesterName string         `json:"requester_name"`
	CreatedAt     string         `json:"created_at"`
	ExpiresAt     string         `json:"expires_at"`
	DecidedByID   string         `json:"decided_by_id,omitempty"`
	DecidedByName string         `json:"decided_by_name,omitempty"`
	DecidedAt     string         `json:"decided_at,omitempty"`
	Reason        string         `json:"reason,omitempty"`
	// FlowID is the executed flow (approved); Error the ledger's refusal
	// (failed).
	FlowID string `json:"flow_id,omitempty"`
	Error  string `json:"error,omitempty"`
}

type reversalRequestJSON struct {
	OutBizID       string `json:"out_biz_id"`
	Type           string `json:"type"`
	CustomerID     string `json:"customer_id"`
	Points         int64  `json:"points"`
	ReverseOrderID string `json:"reverse_order_id,omitempty"`
	ShopID         string `json:"shop_id,omitempty"`
	Reason         string `json:"reason"`
}

type adjustmentRequestJSON struct {
	CustomerID string `json:"customer_id"`
	Points     int64  `json:"points"`
	Reason     string `json:"reason"`
}

func approvalOut(a approval.Approval) approvalJSON {
	j := approvalJSON{ApprovalID: a.ID, BrandID: a.BrandID, Kind: a.Kind, State: a.State, Points: a.Points, RequestID: a.RequestID,
		RequesterID: a.RequesterID, RequesterName: a.RequesterName, CreatedAt: ts(a.CreatedAt), ExpiresAt: ts(a.ExpiresAt),
		DecidedByID: a.DeciderID, DecidedByName: a.DeciderName, Reason: a.Reason}
	if !a.DecidedAt.IsZero() {
		j.DecidedAt = ts(a.DecidedAt)
	}
	switch a.State {
	case approval.Approved:
		j.FlowID = a.Result
	case approval.Failed:
		j.Error = a.Result
	}
	if r, err := a.Reverse(); err == nil {
		rj := reversalRequestJSON{OutBizID: r.OutBizID, Type: string(r.Type), CustomerID: r.CustomerID,
			ReverseOrderID: r.ReverseOrderID, ShopID: r.ShopID, Reason: r.Reason}
		if r.Points != nil {
			rj.Points = *r.Points
		}
		j.Request = rj
	} else if r, err := a.Adjust(); err == nil {
		j.Request = adjustmentRequestJSON{CustomerID: r.CustomerID, Points: r.Points, Reason: r.Reason}
	}
	return j
}

// GET /admin/v1/approvals?brand_id=…&state=…&limit=…: approvals of the
// brand, or of every brand of the operator, newest first; state is
// pending, approved, rejected, expired or failed (any when absent).
func (api *API) listApprovals(w http.ResponseWriter, r *http.Request) {
	s := api.approvalsOr404(w, r)
	if s == nil {
		return
	}
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), "limit")
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	as, err := s.List(r.Context(), principal(r), q.Get("brand_id"), approval.State(q.Get("state")), int(limit))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Approvals []approvalJSON `json:"approvals"`
	}{[]approvalJSON{}}
	for _, a := range as {
		out.Approvals = append(out.Approvals, approvalOut(a))
	}
	reply(w, http.StatusOK, out)
}

// GET /admin/v1/approvals/{id}
func (api *API) getApproval(w http.ResponseWriter, r *http.Request) {
	s := api.approvalsOr404(w, r)
	if s == nil {
		return
	}
	a, err := s.Get(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, struct {
		Approval approvalJSON `json:"approval"`
	}{approvalOut(a)})
}

// POST /admin/v1/approvals/{id}/approve (no body, or {}): approves it and
// executes it in the name of the operator who asked; approving an
// approved one answers it again, writing nothing. The operator who asked
// is refused (403, missing "another operator"); an expired one is 409
// APPROVAL_EXPIRED; a refusal of the ledger is answered as the write's
// own, and the approval is failed.
func (api *API) approve(w http.ResponseWriter, r *http.Request) {
	s := api.approvalsOr404(w, r)
	if s == nil {
		return
	}
	e := audit.Entry{Action: audit.ApprovalApprove, Target: r.PathValue("id")}
	var body struct{}
	if err := decodeOptional(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	a, err := s.Approve(r.Context(), principal(r), r.PathValue("id"))
	api.decided(w, r, e, a, err)
}

// POST /admin/v1/approvals/{id}/reject {"reason": "…"}
func (api *API) reject(w http.ResponseWriter, r *http.Request) {
	s := api.approvalsOr404(w, r)
	if s == nil {
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	e := audit.Entry{Action: audit.ApprovalReject, Target: r.PathValue("id")}
	if err := decode(w, r, &body); err != nil {
		api.audited(w, r, e, err)
		return
	}
	e.Request = audit.JSON(body)
	a, err := s.Reject(r.Context(), principal(r), r.PathValue("id"), body.Reason)
	api.decided(w, r, e, a, err)
}

// decided records a decision on an approval (e, with a's brand and
// summary) and answers it.
func (api *API) decided(w http.ResponseWriter, r *http.Request, e audit.Entry, a approval.Approval, err error) {
	e.BrandID = a.BrandID
	if err == nil {
		e.After = audit.JSON(a.Summary())
	}
	if !api.audited(w, r, e, err) {
		return
	}
	reply(w, http.StatusOK, struct {
		Approval approvalJSON `json:"approval"`
	}{approvalOut(a)})
}
