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
	"net/url"
	"strings"
	"time"
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
	// Result is the raw `result` value of a JSON success answer.
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

// Call invokes method with params. A string value is sent as is; any other
// value (an object parameter, a number, a bool) as its JSON encoding, and a
// time.Time in the platform's date format. A nil value is not sent. The
// error is for transport and decoding failures; an error_response arrives
// as Response.Err.
func (c *Client) Call(ctx context.Context, method string, params map[string]any) (*Response, error) {
	form, err := c.form(method, params)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("top: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
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
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("top: %s: reading answer: %w", method, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("top: %s: HTTP %s: %.200s", method, resp.Status, body)
	}
	r := &Response{Body: body, Format: FormatXML}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); strings.Contains(mt, "json") {
		r.Format = FormatJSON
	}
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

// form builds the signed parameters.
func (c *Client) form(method string, params map[string]any) (url.Values, error) {
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
	p := map[string]string{
		"method":      method,
		"app_key":     c.AppKey,
		"timestamp":   now().In(cst).Format(TimeLayout),
		"v":           "2.0",
		"sign_method": signMethod,
		"format":      format,
	}
	if c.Simplify {
		p["simplify"] = "true"
	}
	for k, v := range params {
		switch v := v.(type) {
		case nil:
			continue
		case string:
			p[k] = v
		case time.Time:
			p[k] = v.In(cst).Format(TimeLayout)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("top: %s: parameter %s: %w", method, k, err)
			}
			p[k] = string(b)
		}
	}
	sign, err := Sign(p, c.Secret, signMethod)
	if err != nil {
		return nil, err
	}
	form := make(url.Values, len(p)+1)
	for k, v := range p {
		form.Set(k, v)
	}
	form.Set("sign", sign)
	return form, nil
}

// readJSON finds the error_response, or the result and request_id in the
// wrapper (or at the root of a simplified answer).
func (r *Response) readJSON(method string) error {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &root); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	if raw, ok := root["error_response"]; ok {
		var e ErrorResponse
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("decoding error_response: %w", err)
		}
		r.Err, r.RequestID = &e, e.RequestID
		return nil
	}
	inner := root
	if raw, ok := root[ResponseName(method)]; ok {
		inner = nil
		if err := json.Unmarshal(raw, &inner); err != nil {
			return fmt.Errorf("decoding %s: %w", ResponseName(method), err)
		}
	}
	r.Result = inner["result"]
	if raw, ok := inner["request_id"]; ok {
		if err := json.Unmarshal(raw, &r.RequestID); err != nil {
			return fmt.Errorf("decoding request_id: %w", err)
		}
	}
	return nil
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
