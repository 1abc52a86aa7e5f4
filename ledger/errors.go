package ledger

import (
	"errors"
	"fmt"
)

// Kind classifies an Error by who must act on it. Each edge (the TOP
// gateway, the admin API) maps kinds and codes to its wire in one table.
type Kind int

const (
	// KindInvalid is bad input: a missing, ill-typed, out-of-range or
	// contradictory field. Field names it. Nothing was written.
	KindInvalid Kind = iota + 1
	// KindPermission is an app acting for a brand or channel it may not use.
	KindPermission
	// KindBusiness is a business outcome (not enough points, order not
	// found, …). Code is one of the upper-case codes below.
	KindBusiness
	// KindUnavailable is a transient failure; the caller may retry the same
	// request, and idempotency makes that safe.
	KindUnavailable
)

// Business outcome codes (ledger-rules §5–§8). They travel as result_code.
const (
	CodePointNotEnough        = "POINT_NOT_ENOUGH"
	CodeConsumeOrderNotFound  = "CONSUME_ORDER_NOT_FOUND"
	CodeChargeOrderNotFound   = "CHARGE_ORDER_NOT_FOUND"
	CodeReverseOrderConflict  = "REVERSE_ORDER_CONFLICT"
	CodeAlreadyFullyReversed  = "ALREADY_FULLY_REVERSED"
	CodeReverseExceedsSpent   = "REVERSE_EXCEEDS_CONSUMED"
	CodeReverseExceedsGranted = "REVERSE_EXCEEDS_GRANTED"
	CodeIdempotencyConflict   = "IDEMPOTENCY_CONFLICT"
	CodeDeductionDisabled     = "POINT_DEDUCTION_DISABLED"
	CodeExceedsMaxPoint       = "POINT_EXCEEDS_MAX"
	CodeHoldNotFound          = "HOLD_NOT_FOUND"
	CodeHoldExceeded          = "HOLD_EXCEEDS_FROZEN"
	CodeHoldConflict          = "HOLD_ORDER_CONFLICT"
	CodeHoldExpired           = "HOLD_EXPIRED"
	CodeCustomerExists        = "CUSTOMER_ALREADY_EXISTS"
	CodeCustomerNotFound      = "CUSTOMER_NOT_FOUND"
	CodeRuleNotFound          = "RULE_NOT_FOUND"
)

// Error is the ledger's one error type for outcomes a caller must see.
// Anything else reaching an edge is an internal error.
type Error struct {
	Kind  Kind
	Code  string // business code (KindBusiness) or a short machine word
	Field string // the offending field (KindInvalid, KindPermission)
	// Message says what happened in plain words, with the numbers involved.
	Message string
	// View is a short Chinese sentence fit to show a cashier.
	View string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	if e.Code != "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return e.Message
}

// Invalid reports bad input in field; reason is a short Chinese or English
// phrase such as "不可为空" or "must be a whole number".
func Invalid(field, reason string) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid-parameter", Field: field, Message: reason}
}

// Invalidf is Invalid with a formatted reason.
func Invalidf(field, format string, args ...any) *Error {
	return Invalid(field, fmt.Sprintf(format, args...))
}

// Denied reports that the calling app may not act as asked.
func Denied(field, reason string) *Error {
	return &Error{Kind: KindPermission, Code: "permission-denied", Field: field, Message: reason}
}

// Business reports a business outcome.
func Business(code, view, format string, args ...any) *Error {
	return &Error{Kind: KindBusiness, Code: code, Message: fmt.Sprintf(format, args...), View: view}
}

// Unavailable reports a transient failure worth retrying.
func Unavailable(format string, args ...any) *Error {
	return &Error{Kind: KindUnavailable, Code: "service-unavailable", Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// IsCode reports whether err is a business outcome with the given code.
func IsCode(err error, code string) bool {
	e, ok := AsError(err)
	return ok && e.Code == code
}
