package admin

import (
	"context"
	"errors"
	"net/http"

	"jifen/approval"
	"jifen/backoffice"
	"jifen/bodylimit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
	"jifen/webhook"
)

// Problem is an error as the admin API answers it:
// {"error": {"code": …, "message": …}}.
type Problem struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"` // the offending field, for INVALID_PARAMETER
	View    string `json:"view,omitempty"`  // a short Chinese sentence, for business outcomes and FORBIDDEN
	// Missing is what an operator lacks, for FORBIDDEN: "role support",
	// "brand B1", "every brand", "limit 500".
	Missing string `json:"missing,omitempty"`
	// Internal is set for errors the client must not see the text of; the
	// edge logs them.
	Internal bool `json:"-"`
}

// The one table from the ledger's error kinds and business codes to HTTP.
var (
	kindProblem = map[ledger.Kind]struct {
		status   int
		code     string
		withText bool // whether the ledger's text may reach the client
	}{
		ledger.KindInvalid:     {http.StatusBadRequest, "INVALID_PARAMETER", true},
		ledger.KindPermission:  {http.StatusForbidden, "PERMISSION_DENIED", true},
		ledger.KindUnavailable: {http.StatusServiceUnavailable, "UNAVAILABLE", false},
		// Business outcomes keep their own code; the ledger refused a well
		// formed request: 422 unless businessStatus says otherwise.
		ledger.KindBusiness: {http.StatusUnprocessableEntity, "", true},
	}
	businessStatus = map[string]int{
		ledger.CodeConsumeOrderNotFound: http.StatusNotFound,
		ledger.CodeChargeOrderNotFound:  http.StatusNotFound,
		ledger.CodeHoldNotFound:         http.StatusNotFound,
		ledger.CodeCustomerNotFound:     http.StatusNotFound,
		ledger.CodeRuleNotFound:         http.StatusNotFound,
		backoffice.CodeBrandNotFound:    http.StatusNotFound,
		backoffice.CodeOrderNotFound:    http.StatusNotFound,
		backoffice.CodeAppNotFound:      http.StatusNotFound,
		ledger.CodeIdempotencyConflict:  http.StatusConflict,
		ledger.CodeReverseOrderConflict: http.StatusConflict,
		ledger.CodeHoldConflict:         http.StatusConflict,
		ledger.CodeCustomerExists:       http.StatusConflict,
		webhook.CodeWebhookNotFound:     http.StatusNotFound,
		webhook.CodeDeliveryNotFound:    http.StatusNotFound,
		webhook.CodeEventNotFound:       http.StatusNotFound,
		webhook.CodeWebhookExists:       http.StatusConflict,
		operator.CodeOperatorNotFound:   http.StatusNotFound,
		operator.CodeTokenNotFound:      http.StatusNotFound,
		operator.CodeOperatorExists:     http.StatusConflict,
		approval.CodeApprovalNotFound:   http.StatusNotFound,
		approval.CodeApprovalDecided:    http.StatusConflict,
		approval.CodeApprovalExpired:    http.StatusConflict,
	}
)

// ProblemOf maps err to its answer. It is the only place that decides it;
// the console shows the same codes and messages.
func ProblemOf(err error, requestID string) Problem {
	// An authenticated operator's missing role, brand or points limit.
	var fb *operator.Forbidden
	if errors.As(err, &fb) {
		return Problem{Status: http.StatusForbidden, Code: "FORBIDDEN", Message: fb.Message, Missing: fb.Missing, View: fb.View}
	}
	if le, ok := ledger.AsError(err); ok {
		if k, ok := kindProblem[le.Kind]; ok {
			p := Problem{Status: k.status, Code: k.code, Field: le.Field, Message: le.Message, View: le.View}
			if le.Kind == ledger.KindBusiness {
				p.Code = le.Code
				if s, ok := businessStatus[le.Code]; ok {
					p.Status = s
				}
			}
			if !k.withText {
				p.Message, p.Field, p.View = "service temporarily unavailable, retry later, request_id "+requestID, "", ""
				p.Internal = true
			}
			return p
		}
	}
	// A body the server would not hold (package bodylimit).
	if errors.Is(err, bodylimit.ErrTimeout) {
		return Problem{Status: http.StatusRequestTimeout, Code: "REQUEST_TIMEOUT",
			Message: "the request body was not received in time; send it whole, at once"}
	}
	if errors.Is(err, bodylimit.ErrBusy) {
		return Problem{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE",
			Message: "server busy with other large request bodies, retry later"}
	}
	if errors.Is(err, points.ErrNotFound) {
		return Problem{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "not found"}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Problem{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE", Internal: true,
			Message: "service temporarily unavailable, retry later, request_id " + requestID}
	}
	return Problem{Status: http.StatusInternalServerError, Code: "INTERNAL", Internal: true,
		Message: "internal error, request_id " + requestID}
}
