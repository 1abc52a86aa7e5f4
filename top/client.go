package top

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Client calls a TOP gateway (this one or the platform) with signed,
// form-urlencoded POSTs. A Client is safe for concurrent use; reuse one so
// that connections are kept alive.
type Client struct {
	URL    string // e.g. http://127.0.0.1:8080/router/rest
	AppKey string
	Secret string
	// SignMethod is md5 (the default when empty), hmac or hmac-sha256.
	SignMethod string
	// Format is json (the default when empty) or xml.
	Format string
	// Simplify asks for answers without the <method>_response wrapper.
	Simplify bool
	// HTTP is the client used; nil means http.DefaultClient.
	HTTP *http.Client
	// Now is the clock for the timestamp; nil means time.Now.
	Now func() time.Time
}

// Response is a gateway's answer to one call.
type Response struct {
	Body      []byte // as received (decompressed)
	Format    string // json or xml, from the Content-Type
	RequestID string
	// Err is the error_response, if the answer is one.
	Err *ErrorResponse
	// Result is the raw `result` value of a JSON success answer, a slice
	// of Body.
	Result json.RawMessage
}

// Decode unmarshals the JSON result into dst.
func (r *Response) Decode(dst any) error {
	if r.Err != nil {
		return r.Err
	}
	if r.Result == nil {
		return errors.New("top: answer has no JSON result")
	}
	return json.Unmarshal(r.Result, dst)
}

// Outcome reads the business outcome of a JSON success answer: the
// biz_success and result_code of its result, a CommonResult, and nothing
// else of it — a caller that counts outcomes, like the load tool, need not
// decode a page of flows to learn that the call succeeded. The keys are
// matched exactly, as the gateway writes them; an absent or null
// biz_success is false.
func (r *Response) Outcome() (success bool, code string, err error) {
	if r.Err != nil {
		return false, "", r.Err
	}
	if r.Result == nil {
		return false, "", errors.New("top: answer has no JSON result")
	}
	if !json.Valid(r.Result) {
		return false, "", errors.New("top: result is not valid JSON")
	}
	var bizSuccess, resultCode []byte
	err = walkObject(r.Result, func(key, value []byte) {
		switch {
		case keyIs(key, "biz_success"):
			bizSuccess = value
		case keyIs(key, "result_code"):
			resultCode = value
		}
	})
	if err != nil {
		return false, "", fmt.Errorf("top: result: %w", err)
	}
	switch string(bizSuccess) {
	case "true":
		success = true
	case "false", "null", "":
	default:
		return false, "", fmt.Errorf("top: result: biz_success %.50s is not a boolean", bizSuccess)
	}
	if resultCode != nil {
		if code, err = jsonString(resultCode); err != nil {
			return false, "", fmt.Errorf("top: result: result_code: %w", err)
		}
	}
	return success, code, nil
}

// jsonString decodes a valid JSON value that should be a string (or null,
// which leaves it empty), without encoding/json for one that needs no
// unescaping.
func jsonString(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// Call invokes method with params. A string value is sent as is; any other
// value (an object parameter, a number, a bool) as its JSON encoding, and a
// time.Time in the platform's date format. A nil value is not sent. The
// error is for transport and decoding failures; an error_response arrives
// as Response.Err.
func (c *Client) Call(ctx context.Context, method string, params map[string]any) (*Response, error) {
	body, err := c.AppendForm(nil, method, params)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("top: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", ContentTypeForm)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("top: %s: %w", method, err)
	}
	defer resp.Body.Close()
	// Read to the end, so the connection goes back to the pool.
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("top: %s: reading answer: %w", method, err)
	}
	return ReadAnswer(method, resp.Status, resp.StatusCode, resp.Header.Get("Content-Type"), answer)
}

// ContentTypeForm is the Content-Type of a call's signed form.
const ContentTypeForm = "application/x-www-form-urlencoded;charset=UTF-8"

// ReadAnswer makes the Response of an HTTP answer read to its end: an
// error unless 200, the format from the Content-Type, the error_response or
// result and request_id from the body. status is the status line after the
// protocol ("404 Not Found"), for the error. It is exported, with
// AppendForm, for a caller that sends the form over another HTTP client
// than net/http's and must read the answer as Call reads it; the Response
// keeps answer, so it must not be reused.
func ReadAnswer(method, status string, statusCode int, contentType string, answer []byte) (*Response, error) {
	if statusCode != http.StatusOK {
		return nil, fmt.Errorf("top: %s: HTTP %s: %.200s", method, status, answer)
	}
	r := &Response{Body: answer, Format: FormatXML}
	switch contentType {
	case ContentTypeJSON: // the gateway's own content types need no parsing
		r.Format = FormatJSON
	case ContentTypeXML:
	default:
		if mt, _, _ := mime.ParseMediaType(contentType); strings.Contains(mt, "json") {
			r.Format = FormatJSON
		}
	}
	var err error
	if r.Format == FormatJSON {
		err = r.readJSON(method)
	} else {
		err = r.readXML()
	}
	if err != nil {
		return nil, fmt.Errorf("top: %s: %w", method, err)
	}
	return r, nil
}

// param is one form parameter of a call.
type param struct{ key, value string }

// AppendForm appends the signed form of a call to dst — the body Call
// sends, with Content-Type ContentTypeForm: the system parameters and
// params sorted by key, signed over that order and encoded in it, the
// bytes url.Values.Encode gives for the same parameters and Sign's
// signature. It sorts once for both and appends into one buffer, which the
// caller may reuse, with no maps, because the load tool calls it for every
// request it sends and its CPU is taken from the server it measures.
func (c *Client) AppendForm(dst []byte, method string, params map[string]any) ([]byte, error) {
	signMethod := c.SignMethod
	if signMethod == "" {
		signMethod = SignMD5
	}
	format := c.Format
	if format == "" {
		format = FormatJSON
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	var stamp [len(TimeLayout)]byte
	ps := make([]param, 0, 8+len(params))
	ps = append(ps,
		param{"method", method},
		param{"app_key", c.AppKey},
		param{"timestamp", string(now().In(cst).AppendFormat(stamp[:0], TimeLayout))},
		param{"v", "2.0"},
		param{"sign_method", signMethod},
		param{"format", format})
	if c.Simplify {
		ps = append(ps, param{"simplify", "true"})
	}
	for k, v := range params {
		var value string
		switch v := v.(type) {
		case nil:
			continue
		case string:
			value = v
		case time.Time:
			value = v.In(cst).Format(TimeLayout)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("top: %s: parameter %s: %w", method, k, err)
			}
			value = string(b)
		}
		if k == "sign" {
			continue // the signature is computed, never taken from params
		}
		// A parameter named like a system one replaces it.
		if i := slices.IndexFunc(ps, func(p param) bool { return p.key == k }); i >= 0 {
			ps[i].value = value
		} else {
			ps = append(ps, param{k, value})
		}
	}
	slices.SortFunc(ps, func(a, b param) int { return strings.Compare(a.key, b.key) })
	if dst == nil {
		n := 0
		for _, p := range ps {
			n += len(p.key) + len(p.value)
		}
		dst = make([]byte, 0, 3*n+64)
	}
	start := len(dst)
	buf := dst
	for _, p := range ps {
		buf = append(buf, p.key...)
		buf = append(buf, p.value...)
	}
	sign, err := appendSignature(buf[len(buf):], buf[start:], c.Secret, signMethod)
	if err != nil {
		return nil, err
	}
	i, _ := slices.BinarySearchFunc(ps, "sign", func(p param, k string) int { return strings.Compare(p.key, k) })
	ps = slices.Insert(ps, i, param{"sign", string(sign)})
	// The form replaces the signature base in the same buffer.
	buf = buf[:start]
	for i, p := range ps {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = appendQueryEscape(buf, p.key)
		buf = append(buf, '=')
		buf = appendQueryEscape(buf, p.value)
	}
	return buf, nil
}

// appendQueryEscape appends s escaped as url.QueryEscape escapes it: the
// unreserved characters kept, a space as '+', every other byte as %XX.
func appendQueryEscape(dst []byte, s string) []byte {
	const upperHex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// readJSON finds the error_response, or the result and request_id in the
// wrapper (or at the root of a simplified answer). It validates the answer
// once and then walks only the two levels it reads, keeping the result as
// a slice of Body: decoding the whole answer into maps, level by level,
// scanned a page of flows several times and was most of the load tool's
// JSON cost.
func (r *Response) readJSON(method string) error {
	if !json.Valid(r.Body) {
		var v any
		return fmt.Errorf("decoding answer: %w", json.Unmarshal(r.Body, &v))
	}
	name := ResponseName(method)
	var errResp, wrapper, result, requestID []byte
	err := walkObject(r.Body, func(key, value []byte) {
		switch {
		case keyIs(key, "error_response"):
			errResp = value
		case keyIs(key, name):
			wrapper = value
		case keyIs(key, "result"):
			result = value
		case keyIs(key, "request_id"):
			requestID = value
		}
	})
	if err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	if errResp != nil {
		var e ErrorResponse
		if err := json.Unmarshal(errResp, &e); err != nil {
			return fmt.Errorf("decoding error_response: %w", err)
		}
		r.Err, r.RequestID = &e, e.RequestID
		return nil
	}
	if wrapper != nil {
		result, requestID = nil, nil
		err := walkObject(wrapper, func(key, value []byte) {
			switch {
			case keyIs(key, "result"):
				result = value
			case keyIs(key, "request_id"):
				requestID = value
			}
		})
		if err != nil {
			return fmt.Errorf("decoding %s: %w", name, err)
		}
	}
	r.Result = result
	if requestID != nil {
		if err := json.Unmarshal(requestID, &r.RequestID); err != nil {
			return fmt.Errorf("decoding request_id: %w", err)
		}
	}
	return nil
}

// errNotObject is walkObject's answer for a value that is not an object.
var errNotObject = errors.New("not a JSON object")

// walkObject calls fn with the raw key (quotes included) and the raw value
// of each member of the JSON object data, in order; for null it calls
// nothing. data must be valid JSON (json.Valid), which is what lets the
// walk skip values by counting brackets outside strings.
func walkObject(data []byte, fn func(key, value []byte)) error {
	i := skipSpace(data, 0)
	if bytes.HasPrefix(data[i:], []byte("null")) {
		return nil
	}
	if data[i] != '{' {
		return errNotObject
	}
	i = skipSpace(data, i+1)
	for data[i] != '}' {
		end := skipValue(data, i) // the key, a string
		key := data[i:end]
		i = skipSpace(data, skipSpace(data, end)+1) // past the colon
		end = skipValue(data, i)
		fn(key, data[i:end])
		i = skipSpace(data, end)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return nil
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the valid JSON value at i.
func skipValue(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i // the end of the enclosing value: a scalar ended here
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i // a number or literal ended
			}
		}
	}
	return i
}

// keyIs reports whether the raw JSON string key decodes to want. Keys
// without escapes or non-ASCII bytes are compared as they are; others are
// decoded as encoding/json decodes map keys.
func keyIs(key []byte, want string) bool {
	raw := key[1 : len(key)-1]
	plain := true
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return string(raw) == want
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == want
}

// readXML finds the error_response, or the request_id under the root.
func (r *Response) readXML() error {
	var doc struct {
		XMLName   xml.Name
		RequestID string `xml:"request_id"`
	}
	if err := xml.Unmarshal(r.Body, &doc); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	r.RequestID = doc.RequestID
	if doc.XMLName.Local == "error_response" {
		var e ErrorResponse
		if err := xml.NewDecoder(bytes.NewReader(r.Body)).Decode(&e); err != nil {
			return fmt.Errorf("decoding error_response: %w", err)
		}
		r.Err = &e
	}
	return nil
}
