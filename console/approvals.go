package console

import (
	"net/http"
	"net/url"

	"jifen/approval"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
)

// reverseOrAsk performs the reversal, or records it for approval.
func (c *Console) reverseOrAsk(r *http.Request, req request, ar backoffice.ReverseRequest) (points.Outcome, *approval.Approval, error) {
	if c.approvals == nil {
		out, err := c.admin.Reverse(r.Context(), req.actor(), ar)
		return out, nil, err
	}
	return c.approvals.Reverse(r.Context(), req.who, ar)
}

// adjustOrAsk performs the adjustment, or records it for approval.
func (c *Console) adjustOrAsk(r *http.Request, req request, ar points.AdjustRequest) (points.Outcome, *approval.Approval, error) {
	if c.approvals == nil {
		out, err := c.admin.Adjust(r.Context(), req.actor(), ar)
		return out, nil, err
	}
	return c.approvals.Adjust(r.Context(), req.who, ar)
}

// WithApprovals serves four eyes over s: the 待审批 page, and refunds and
// adjustments of support operators above their brand's approval_above
// recorded for approval. Without it every write is made at once. Call it
// before serving.
func (c *Console) WithApprovals(s *approval.Service) *Console {
	c.approvals = s
	return c
}

// pendingFor counts the pending approvals p may decide: of p's brands,
// asked by others. Shown in the navigation; 0 where none are served.
func (c *Console) pendingFor(r *http.Request, p operator.Principal) int {
	if c.approvals == nil || !p.Allows(operator.Approve) {
		return 0
	}
	as, err := c.approvals.List(r.Context(), p, "", approval.Pending, 0)
	if err != nil {
		c.log.Error("console: pending approvals", "operator", p.Name, "error", err)
		return 0
	}
	n := 0
	for _, a := range as {
		if a.RequesterID != p.OperatorID {
			n++
		}
	}
	return n
}

type approvalsData struct {
	Pending []approvalRow
	Me      string // the signed-in operator's id: its own requests have no buttons
	// Refused is the approval whose decision was refused, with the reason
	// typed and the input the error named (Bad).
	Refused, Reason, Bad string
}

// approvalsPage lists the pending approvals of the operator's brands,
// with approve and reject buttons on those others asked for.
func (c *Console) approvalsPage(w http.ResponseWriter, r *http.Request, req request) {
	d := approvalsData{Me: req.who.OperatorID}
	if c.approvals == nil {
		c.fail(w, r, req, "approvals", "待审批", d, approvalsOff)
		return
	}
	as, err := c.approvals.List(r.Context(), req.who, "", approval.Pending, 0)
	if err != nil {
		c.fail(w, r, req, "approvals", "待审批", d, err)
		return
	}
	p := c.page(req, "待审批", nil)
	d.Pending, p.Names = c.approvalRows(r, as)
	p.Data = d
	switch r.URL.Query().Get("ok") {
	case "approved":
		p.Notice = "已批准并执行"
	case "rejected":
		p.Notice = "已驳回"
	}
	c.render(w, r, http.StatusOK, "approvals", p)
}

// approvalsOff is the error of the approvals' pages where none are served.
var approvalsOff = &operator.Forbidden{Missing: "approvals", Message: "approvals are not served here", View: "此服务未启用审批"}

// decide approves or rejects (with the form's reason) one approval.
func (c *Console) decide(w http.ResponseWriter, r *http.Request, req request) {
	if c.approvals == nil {
		c.fail(w, r, req, "approvals", "待审批", approvalsData{Me: req.who.OperatorID}, approvalsOff)
		return
	}
	var err error
	var a approval.Approval
	ok := ""
	e := audit.Entry{Target: r.PathValue("id")}
	switch r.PathValue("action") {
	case "approve":
		e.Action = audit.ApprovalApprove
		a, err = c.approvals.Approve(r.Context(), req.who, r.PathValue("id"))
		ok = "approved"
	case "reject":
		e.Action = audit.ApprovalReject
		e.Request = audit.JSON(map[string]string{"reason": r.PostFormValue("reason")})
		a, err = c.approvals.Reject(r.Context(), req.who, r.PathValue("id"), r.PostFormValue("reason"))
		ok = "rejected"
	default:
		http.NotFound(w, r)
		return
	}
	e.BrandID = a.BrandID
	if err == nil {
		e.After = audit.JSON(a.Summary())
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err == nil {
		http.Redirect(w, r, "/console/approvals?ok="+url.QueryEscape(ok), http.StatusSeeOther)
		return
	}
	d := approvalsData{Me: req.who.OperatorID, Refused: r.PathValue("id"), Reason: r.PostFormValue("reason")}
	p := c.page(req, "待审批", nil)
	if as, lerr := c.approvals.List(r.Context(), req.who, "", approval.Pending, 0); lerr == nil {
		d.Pending, p.Names = c.approvalRows(r, as)
	}
	var status int
	status, d.Bad = c.refused(r, &p, err)
	p.Data = d
	c.render(w, r, status, "approvals", p)
}

// approvalRow is an approval as a reviewer reads it: what it would do,
// to whom and why.
type approvalRow struct {
	approval.Approval
	CustomerID string
	OrderID    string // a reversal's order
	Change     int64  // an adjustment's points, signed
	Reason     string // why its operator asked
}

// approvalRows are the rows of as, with the customers they name (read
// in one query).
func (c *Console) approvalRows(r *http.Request, as []approval.Approval) ([]approvalRow, map[string]ledger.Customer) {
	rows := make([]approvalRow, 0, len(as))
	ids := make([]string, 0, len(as))
	for _, a := range as {
		row := approvalRow{Approval: a}
		if rr, err := a.Reverse(); err == nil {
			row.CustomerID, row.OrderID, row.Reason = rr.CustomerID, rr.OutBizID, rr.Reason
		} else if ar, err := a.Adjust(); err == nil {
			row.CustomerID, row.Change, row.Reason = ar.CustomerID, ar.Points, ar.Reason
		}
		if row.CustomerID != "" {
			ids = append(ids, row.CustomerID)
		}
		rows = append(rows, row)
	}
	return rows, c.names(r, ids...)
}
