package top

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"jifen/bodylimit"
	"jifen/ledger"
)

// ErrorResponse is the platform error_response: what the gateway sends for
// anything that is not a success or a business outcome, and what Client
// decodes. Field order is the wire order observed on the real platform.
type ErrorResponse struct {
	Code      int    `json:"code" xml:"code"`
	Msg       string `json:"msg" xml:"msg"`
	SubCode   string `json:"sub_code,omitempty" xml:"sub_code,omitempty"`
	SubMsg    string `json:"sub_msg,omitempty" xml:"sub_msg,omitempty"`
	RequestID string `json:"request_id,omitempty" xml:"request_id,omitempty"`
}

// Error renders every field but request_id, so a logged client error
// carries the sub_code that decides whether to retry.
func (e *ErrorResponse) Error() string {
	s := "top: " + strconv.Itoa(e.Code) + " " + e.Msg
	if e.SubCode != "" {
		s += " (" + e.SubCode + ")"
	}
	if e.SubMsg != "" {
		s += ": " + e.SubMsg
	}
	return s
}

// Platform error codes this gateway emits. The messages in platformMsg are
// the platform's own spellings, which clients log and people search for.
const (
	CodeAppCallLimited    = 7
	CodeHTTPAction        = 9
	CodeISVPermission     = 11
	CodeRemoteService     = 15
	CodeMissingMethod     = 21
	CodeInvalidMethod     = 22
	CodeInvalidFormat     = 23
	CodeMissingSignature  = 24
	CodeInvalidSignature  = 25
	CodeMissingAppKey     = 28
	CodeInvalidAppKey     = 29
	CodeMissingTimestamp  = 30
	CodeInvalidTimestamp  = 31
	CodeMissingVersion    = 32
	CodeInvalidVersion    = 33
	CodeUnsupportedVer    = 34
	CodeMissingArguments  = 40
	CodeInvalidArguments  = 41
	CodeParameterError    = 43
	CodeInvalidEncoding   = 47
	CodeBusinessParameter = 50
)

var platformMsg = map[int]string{
	CodeAppCallLimited:    "App Call Limited",
	CodeHTTPAction:        "Http action not allowed",
	CodeISVPermission:     "Insufficient isv permissions",
	CodeRemoteService:     "Remote service error",
	CodeMissingMethod:     "Missing method",
	CodeInvalidMethod:     "Invalid method",
	CodeInvalidFormat:     "Invalid format",
	CodeMissingSignature:  "Missing signature",
	CodeInvalidSignature:  "Invalid signature",
	CodeMissingAppKey:     "Missing app key",
	CodeInvalidAppKey:     "Invalid app Key",
	CodeMissingTimestamp:  "Missing timestamp",
	CodeInvalidTimestamp:  "Invalid timestamp",
	CodeMissingVersion:    "Missing version",
	CodeInvalidVersion:    "Invalid version",
	CodeUnsupportedVer:    "Unsupported version",
	CodeMissingArguments:  "Missing required arguments",
	CodeInvalidArguments:  "Invalid arguments",
	CodeParameterError:    "parameter error",
	CodeInvalidEncoding:   "Invalid encoding",
	CodeBusinessParameter: "Remote service error",
}

// platformError builds an error_response with the platform's msg for code.
func platformError(code int, subCode, subMsg string) *ErrorResponse {
	return &ErrorResponse{Code: code, Msg: platformMsg[code], SubCode: subCode, SubMsg: subMsg}
}

// MissingArgument is the answer for an absent required parameter, such as
// an object parameter a method cannot work without. The parameter name is
// appended to msg, as the live platform does ("Missing required
// arguments:phone_no_b").
func MissingArgument(name string) *ErrorResponse {
	return &ErrorResponse{
		Code:    CodeMissingArguments,
		Msg:     platformMsg[CodeMissingArguments] + ":" + name,
		SubCode: "isv.missing-parameter:" + name,
	}
}

// InvalidArgument is the answer for a parameter that cannot be read at all,
// such as an object parameter that is not a JSON object. Bad fields inside
// a readable object are ledger.Invalid errors instead (code 50).
func InvalidArgument(name, reason string) *ErrorResponse {
	return &ErrorResponse{
		Code:    CodeInvalidArguments,
		Msg:     platformMsg[CodeInvalidArguments] + ":" + name,
		SubCode: "isv.invalid-parameter:" + name,
		SubMsg:  reason,
	}
}

// kindWire is the one table from ledger error kinds to error_response
// fields. KindBusiness is absent on purpose: business outcomes travel in
// the method's normal envelope (see answerFor).
var kindWire = map[ledger.Kind]struct {
	code     int
	subCode  string
	prefix   string // sub_msg prefix before "<field> <reason>"
	withText bool   // whether the ledger's text may reach the client
}{
	ledger.KindInvalid:     {CodeBusinessParameter, "isv.invalid-parameter", "非法参数: ", true},
	ledger.KindPermission:  {CodeISVPermission, "isv.permission-denied", "权限不足: ", true},
	ledger.KindUnavailable: {CodeRemoteService, "isp.service-unavailable", "", false},
}

// answer is what an error from a Method becomes on the wire: exactly one
// of errResp (an error_response) or business (the envelope's result).
type answer struct {
	errResp  *ErrorResponse
	business *CommonResult
	outcome  string     // for the log line and Observe
	level    slog.Level // of the request's log line; Warn and above log the cause
}

// answerFor maps err, returned by a Method, to the wire. It is the only
// place where that mapping is decided.
func answerFor(err error, requestID string) answer {
	var er *ErrorResponse
	if errors.As(err, &er) {
		c := *er
		return answer{errResp: &c, outcome: strconv.Itoa(c.Code)}
	}
	if le, ok := ledger.AsError(err); ok {
		if le.Kind == ledger.KindBusiness {
			return answer{
				business: &CommonResult{ResultCode: le.Code, ResultDesc: le.Message, ResultView: le.View},
				outcome:  le.Code,
			}
		}
		if w, ok := kindWire[le.Kind]; ok {
			e := platformError(w.code, w.subCode, "")
			if w.withText {
				e.SubMsg = w.prefix + fieldReason(le)
			} else {
				e.SubMsg = "service temporarily unavailable, retry later, request_id " + requestID
			}
			lvl := slog.LevelInfo
			if !w.withText {
				lvl = slog.LevelWarn
			}
			return answer{errResp: e, outcome: strconv.Itoa(e.Code), level: lvl}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// A timeout is transient, and idempotency makes a retry safe; a
		// cancelled call is one whose caller went away.
		e := platformError(CodeRemoteService, "isp.service-unavailable",
			"service temporarily unavailable, retry later, request_id "+requestID)
		return answer{errResp: e, outcome: strconv.Itoa(e.Code), level: slog.LevelWarn}
	}
	e := platformError(CodeRemoteService, "isp.unknown-error", "internal error, request_id "+requestID)
	return answer{errResp: e, outcome: strconv.Itoa(e.Code), level: slog.LevelError}
}

// bodyError is the answer for a request body that could not be read or
// decoded; otherwise is the sub_msg when no reason below applies. A body
// the server would not hold (see package bodylimit) is told apart:
// one that did not arrive in time is the client's doing (43, like any
// unreadable body); one refused because other large bodies hold the
// memory set aside for them is the server's state, worth a retry (15).
func bodyError(err error, otherwise string) *ErrorResponse {
	switch {
	case errors.Is(err, errTooLarge):
		return tooLarge()
	case errors.Is(err, bodylimit.ErrBusy):
		return platformError(CodeRemoteService, "isp.service-unavailable",
			"server busy with other large request bodies, retry later")
	case errors.Is(err, bodylimit.ErrTimeout):
		return platformError(CodeParameterError, "", "request body not received in time")
	}
	return platformError(CodeParameterError, "", otherwise)
}

func fieldReason(e *ledger.Error) string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + " " + e.Message
}
