// Package top serves the Taobao Open Platform (TOP) REST protocol at
// /router/rest, so that unmodified TOP client SDKs (Java, Python, PHP,
// .NET, Node, both Go SDKs) can call the ledger's methods. It also holds
// the signed Client the command-line tools and end-to-end tests use.
//
// The gateway checks what the platform checks (method, app key, timestamp,
// version, signature, rate), then hands the call to a Method, and maps what
// the Method returns to the wire in one table (errors.go). Answers are JSON
// or XML, encoded by reflection from one Go struct per result (encode.go).
package top

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// App is a calling application as the gateway needs to know it.
type App struct {
	Key    string
	Secret string
	Active bool
	// RateLimit is the steady rate allowed, in requests per second, with a
	// burst of one second's worth; 0 means unlimited.
	RateLimit float64
}

// Apps finds applications by app_key. found is false for an unknown key;
// err is for a failed lookup only.
type Apps interface {
	LookupApp(ctx context.Context, appKey string) (app App, found bool, err error)
}

// Method serves one TOP method. It returns the value to send as `result`
// (a struct with json tags, usually a CommonResult) or an error, which the
// gateway maps to the wire: see answerFor in errors.go.
type Method func(ctx context.Context, c *Call) (any, error)

// Call is one authenticated call handed to a Method.
type Call struct {
	AppKey string
	Method string
	// RequestID is the gateway's fresh request_id for this answer.
	RequestID string
	// Params holds every text parameter, system and business, from the
	// query string and the body.
	Params map[string]string
	// Files holds multipart file parts, which are not signed.
	Files []File
	// BizRequestID is set by the Method to the business request_id of the
	// call, so that the log line ties the two together.
	BizRequestID string
}

// DefaultTimestampWindow is the platform's allowed clock skew.
const DefaultTimestampWindow = 10 * time.Minute

// Gateway is the http.Handler for /router/rest. Set the fields before the
// first request and do not change them afterwards.
type Gateway struct {
	Apps    Apps
	Methods map[string]Method
	Logger  *slog.Logger
	// Now is the clock for the timestamp window and rate limits; nil means
	// time.Now.
	Now func() time.Time
	// TimestampWindow is the allowed skew either way; 0 means
	// DefaultTimestampWindow.
	TimestampWindow time.Duration
	// MaxBodyBytes bounds a request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Observe, if set, is told of every answer. outcome is "ok", the
	// result_code of a business failure, or the error code as a string.
	// method is "unknown" for a name not in Methods, so that metric labels
	// stay few whatever callers send. It is called from many goroutines.
	Observe func(method, outcome string, d time.Duration)

	mu       sync.Mutex
	limiters map[string]*appLimiter
}

type appLimiter struct {
	rps float64
	lim *rate.Limiter
}

// exchange is what one request becomes on its way to the answer.
type exchange struct {
	requestID    string
	appKey       string
	method       string
	bizRequestID string
	format       string
	simplify     bool

	result  any            // a success (or business failure) result
	errResp *ErrorResponse // else an error_response
	outcome string
	level   slog.Level
	detail  string // for the log line only
	cause   error  // for the log line only
}

func (x *exchange) fail(e *ErrorResponse, detail string) {
	x.errResp = e
	x.outcome = strconv.Itoa(e.Code)
	x.detail = detail
}

// ServeHTTP answers one TOP call. Every answer is HTTP 200, as every SDK
// treats other statuses as transport failures and never reads the body.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := &exchange{requestID: newRequestID(start), format: FormatXML, level: slog.LevelInfo}
	g.handle(r, x)
	body := g.encode(x)
	writeAnswer(w, r, x.format, body)

	d := time.Since(start)
	attrs := []slog.Attr{
		slog.String("request_id", x.requestID),
		slog.String("app_key", clip(x.appKey)),
		slog.String("method", clip(x.method)),
		slog.String("biz_request_id", clip(x.bizRequestID)),
		slog.String("outcome", x.outcome),
		slog.Duration("duration", d),
	}
	if x.detail != "" {
		attrs = append(attrs, slog.String("detail", x.detail))
	}
	if x.cause != nil && x.level >= slog.LevelWarn {
		attrs = append(attrs, slog.String("error", x.cause.Error()))
	}
	g.logger().LogAttrs(r.Context(), x.level, "top call", attrs...)
	if g.Observe != nil {
		m := x.method
		if _, ok := g.Methods[m]; !ok {
			m = "unknown"
		}
		g.Observe(m, x.outcome, d)
	}
}

// handle validates the request in the order of the platform's error codes
// and calls the Method; it leaves the answer in x.
func (g *Gateway) handle(r *http.Request, x *exchange) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		x.format = errorFormat(nil, r.URL.RawQuery)
		x.fail(platformError(CodeHTTPAction, "", "use GET or POST"), clip(r.Method))
		return
	}
	var body io.Reader
	if r.Method == http.MethodPost {
		body = r.Body
	}
	maxBody := g.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	params, files, perr := parseParams(r.URL.RawQuery, r.Header.Get("Content-Type"), body, maxBody)
	if perr != nil {
		x.format = errorFormat(params, r.URL.RawQuery)
		x.fail(perr, perr.SubMsg)
		return
	}
	switch f := params["format"]; {
	case f == "" || strings.EqualFold(f, FormatXML):
		x.format = FormatXML
	case strings.EqualFold(f, FormatJSON):
		x.format = FormatJSON
	default:
		x.fail(platformError(CodeInvalidFormat, "", "format must be xml or json"), "")
		return
	}
	s := params["simplify"]
	x.simplify = strings.EqualFold(s, "true") || s == "1"

	x.method = params["method"]
	if x.method == "" {
		x.fail(platformError(CodeMissingMethod, "", ""), "")
		return
	}
	x.appKey = params["app_key"]
	if x.appKey == "" {
		x.fail(platformError(CodeMissingAppKey, "", ""), "")
		return
	}
	app, found, err := g.Apps.LookupApp(r.Context(), x.appKey)
	if err != nil {
		g.failWith(x, fmt.Errorf("looking up app: %w", err))
		return
	}
	if !found || !app.Active {
		// The same answer for both, as for a key that never existed.
		detail := "unknown app"
		if found {
			detail = "inactive app"
		}
		x.fail(platformError(CodeInvalidAppKey, "isv.appkey-not-exists", ""), detail)
		return
	}
	now := g.now()
	if e := g.checkTimestamp(params["timestamp"], now); e != nil {
		x.fail(e, e.SubMsg)
		return
	}
	if e := checkVersion(params["v"]); e != nil {
		x.fail(e, "")
		return
	}
	sign := params["sign"]
	if sign == "" {
		x.fail(platformError(CodeMissingSignature, "", ""), "")
		return
	}
	signMethod := strings.ToLower(params["sign_method"])
	switch signMethod {
	case SignMD5, SignHMAC, SignHMACSHA256, SignLegacy:
	default:
		x.fail(platformError(CodeInvalidSignature, "", "unsupported sign_method"), "sign_method "+clip(params["sign_method"]))
		return
	}
	if !verifySignature(params, app.Secret, signMethod, sign) {
		x.fail(platformError(CodeInvalidSignature, "", ""), "sign_method "+signMethod)
		return
	}
	m, ok := g.Methods[x.method]
	if !ok {
		x.fail(platformError(CodeInvalidMethod, "", ""), "")
		return
	}
	if wait, ok := g.allow(app, now); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		x.fail(platformError(CodeAppCallLimited, "accesscontrol.limited-by-app-access-count",
			fmt.Sprintf("This ban will last for %d more seconds", max(secs, 1))), "")
		return
	}

	call := &Call{
		AppKey:    x.appKey,
		Method:    x.method,
		RequestID: x.requestID,
		Params:    params,
		Files:     files,
	}
	res, err := invoke(r.Context(), m, call)
	x.bizRequestID = call.BizRequestID
	if err != nil {
		g.failWith(x, err)
		return
	}
	x.result = res
	x.outcome = "ok"
	// A method may answer a business failure itself rather than by error.
	switch cr := res.(type) {
	case CommonResult:
		if !cr.BizSuccess {
			x.outcome = cr.ResultCode
		}
	case *CommonResult:
		if cr != nil && !cr.BizSuccess {
			x.outcome = cr.ResultCode
		}
	}
}

// failWith puts the wire form of a Method's (or the app lookup's) error in x.
func (g *Gateway) failWith(x *exchange, err error) {
	a := answerFor(err, x.requestID)
	if a.business != nil {
		x.result = *a.business
	} else {
		x.errResp = a.errResp
	}
	x.outcome = a.outcome
	x.level = a.level
	x.cause = err
}

// invoke calls m, turning a panic into an internal error so that one bad
// call cannot take the connection (or a shared lock) down with it.
func invoke(ctx context.Context, m Method, c *Call) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in method %s: %v\n%s", c.Method, p, debug.Stack())
		}
	}()
	return m(ctx, c)
}

// encode renders x's answer; a result that cannot be encoded becomes an
// internal error.
func (g *Gateway) encode(x *exchange) []byte {
	if x.errResp == nil {
		body, err := encodeSuccess(x.format, x.simplify, x.method, x.result, x.requestID)
		if err == nil {
			return body
		}
		g.failWith(x, fmt.Errorf("encoding result: %w", err))
	}
	e := *x.errResp
	e.RequestID = x.requestID
	return encodeError(x.format, &e)
}

// Content types of answers. The charset is explicit because .NET decodes
// a body without one as ISO-8859-1; official Node reads JSON only under a
// content type that contains application/json.
const (
	ContentTypeJSON = "application/json;charset=UTF-8"
	ContentTypeXML  = "text/xml;charset=UTF-8"
)

// gzipMinBytes is the smallest answer worth compressing.
const gzipMinBytes = 1024

// gzipWriters are reused: a new compressor allocates about a megabyte,
// and answers are small, so the fastest level is the right trade.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level cannot fail
	return zw
}}

func writeAnswer(w http.ResponseWriter, r *http.Request, format string, body []byte) {
	h := w.Header()
	if format == FormatJSON {
		h.Set("Content-Type", ContentTypeJSON)
	} else {
		h.Set("Content-Type", ContentTypeXML)
	}
	h.Set("Vary", "Accept-Encoding")
	if len(body) >= gzipMinBytes && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(w)
		// A failed write means the client went away; nothing to tell it.
		_, _ = zw.Write(body)
		_ = zw.Close()
		gzipWriters.Put(zw)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// acceptsGzip reads an Accept-Encoding header: gzip listed and not q=0.
func acceptsGzip(header string) bool {
	for enc := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(enc, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// checkTimestamp accepts "yyyy-MM-dd HH:mm:ss" in GMT+8 (most SDKs), epoch
// milliseconds (the Python SDK) or epoch seconds, within the window.
func (g *Gateway) checkTimestamp(s string, now time.Time) *ErrorResponse {
	if s == "" {
		return platformError(CodeMissingTimestamp, "", "")
	}
	var t time.Time
	switch {
	case allDigits(s) && len(s) == 13:
		ms, _ := strconv.ParseInt(s, 10, 64) // 13 digits always fit
		t = time.UnixMilli(ms)
	case allDigits(s) && len(s) == 10:
		sec, _ := strconv.ParseInt(s, 10, 64) // 10 digits always fit
		t = time.Unix(sec, 0)
	default:
		var err error
		t, err = time.ParseInLocation(TimeLayout, s, cst)
		if err != nil {
			return platformError(CodeInvalidTimestamp, "",
				"timestamp must be yyyy-MM-dd HH:mm:ss (GMT+8) or epoch milliseconds")
		}
	}
	window := g.TimestampWindow
	if window <= 0 {
		window = DefaultTimestampWindow
	}
	if skew := now.Sub(t); skew > window || skew < -window {
		return platformError(CodeInvalidTimestamp, "", fmt.Sprintf(
			"timestamp is outside ±%d seconds of server time %s (GMT+8)",
			int(window/time.Second), now.In(cst).Format(TimeLayout)))
	}
	return nil
}

// checkVersion accepts v=2.0 only: absent is 32, a number other than 2.0
// is 34 (unsupported), anything else 33 (invalid).
func checkVersion(v string) *ErrorResponse {
	switch {
	case v == "":
		return platformError(CodeMissingVersion, "", "")
	case v == "2.0":
		return nil
	case isVersionNumber(v):
		return platformError(CodeUnsupportedVer, "", "only v=2.0 is supported")
	}
	return platformError(CodeInvalidVersion, "", "")
}

func isVersionNumber(v string) bool {
	whole, frac, hasDot := strings.Cut(v, ".")
	return allDigits(whole) && (!hasDot || allDigits(frac))
}

// allow takes one token from app's bucket at now, or says how long until
// one is free.
func (g *Gateway) allow(app App, now time.Time) (time.Duration, bool) {
	if app.RateLimit <= 0 {
		return 0, true
	}
	g.mu.Lock()
	if g.limiters == nil {
		g.limiters = make(map[string]*appLimiter)
	}
	l := g.limiters[app.Key]
	if l == nil || l.rps != app.RateLimit {
		burst := max(1, int(math.Ceil(app.RateLimit)))
		l = &appLimiter{rps: app.RateLimit, lim: rate.NewLimiter(rate.Limit(app.RateLimit), burst)}
		g.limiters[app.Key] = l
	}
	g.mu.Unlock()
	res := l.lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Second, false
	}
	wait := res.DelayFrom(now)
	if wait <= 0 {
		return 0, true
	}
	res.CancelAt(now)
	return wait, false
}

func (g *Gateway) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Gateway) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// newRequestID returns 13 lower-case base-36 characters, like the
// platform's: 8 of the time in milliseconds, so ids sort by time, and 5 of
// a sequence that starts at a random point, so ids in one process never
// repeat (that would take 36^5 requests in one millisecond) and ids of
// different processes rarely do.
func newRequestID(now time.Time) string {
	r := strconv.FormatUint(requestSeq.Add(1)%requestSeqSpace, 36)
	return strconv.FormatInt(now.UnixMilli(), 36) + strings.Repeat("0", 5-len(r)) + r
}

const requestSeqSpace = 36 * 36 * 36 * 36 * 36

var requestSeq = func() *atomic.Uint64 {
	var n atomic.Uint64
	n.Store(rand.Uint64N(requestSeqSpace))
	return &n
}()

// clip bounds caller-chosen text in the log line.
func clip(s string) string {
	const limit = 128
	if len(s) > limit {
		return strings.ToValidUTF8(s[:limit], "") + "…"
	}
	return s
}
