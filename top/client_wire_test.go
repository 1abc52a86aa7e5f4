package top

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// referenceForm is the client's form as it was built before the
// append-based encoder (a map of strings, Sign over it, url.Values): the
// new encoder must give the gateway the same bytes.
func referenceForm(c *Client, method string, params map[string]any) (url.Values, error) {
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

// referenceReadJSON is the client's JSON answer reading as it was before
// the walk over the validated answer: maps, level by level.
func referenceReadJSON(r *Response, method string) error {
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

// clientCases are calls whose form the encoder must get right: every sign
// method, format and simplify; objects, numbers, times, nil; values that
// need escaping; parameters named like system ones, and "sign".
func clientCases() []struct {
	c      *Client
	method string
	params map[string]any
} {
	now := func() time.Time { return testNow.Add(7 * time.Second) }
	obj := map[string]any{"biz_channel": "KRY", "customer_id": "c-1", "change_point": 100, "operator_name": "压测 <&> \u2028",
		"request_id": "r-1", "nested": map[string]any{"a": []any{1, "b", nil, true}}}
	paramSets := []map[string]any{
		nil,
		{"param_consume_point_open_req": obj},
		{"param_reverse_consume_point_open_req": obj, "nothing": nil, "page": 3, "ok": true, "at": testNow.UTC()},
		{"q": "a b+c&d=e/f?g#h%i~j.k_l-m", "empty": "", "ünï": "çödé", "ctl": "\x00\x01\t\n\xff"},
		{"method": "override.method", "timestamp": "2020-01-01 00:00:00", "sign": "ignored", "v": nil},
		{"sign": nil, "format": "xml", "a": "1", "A": "2", "_": "3", "~": "4"},
	}
	var cases []struct {
		c      *Client
		method string
		params map[string]any
	}
	for _, sm := range []string{"", SignMD5, SignHMAC, SignHMACSHA256} {
		for _, format := range []string{"", FormatJSON, FormatXML} {
			for _, simplify := range []bool{false, true} {
				for _, ps := range paramSets {
					cases = append(cases, struct {
						c      *Client
						method string
						params map[string]any
					}{&Client{AppKey: "app key&1", Secret: "s3cr3t 秘密", SignMethod: sm, Format: format, Simplify: simplify, Now: now},
						testMethod, ps})
				}
			}
		}
	}
	return cases
}

// TestClient_BodyIsTheReferenceForm: the append-based encoder sends the
// bytes the map-and-url.Values encoder sent, signature included.
func TestClient_BodyIsTheReferenceForm(t *testing.T) {
	for i, tc := range clientCases() {
		want, err := referenceForm(tc.c, tc.method, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tc.c.AppendForm([]byte("kept"), tc.method, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "kept"+want.Encode() {
			t.Errorf("case %d (%s %s %v %v):\n got %s\nwant %s", i, tc.c.SignMethod, tc.c.Format, tc.c.Simplify, tc.params, got, want.Encode())
		}
	}
	// Errors stay errors: an unknown sign method, an unencodable value.
	if _, err := (&Client{SignMethod: "sha1"}).AppendForm(nil, "m", nil); err == nil {
		t.Error("sign_method sha1: got no error")
	}
	if _, err := (&Client{}).AppendForm(nil, "m", map[string]any{"sign": func() {}}); err == nil {
		t.Error("unencodable sign parameter: got no error")
	}
}

func FuzzClientBody(f *testing.F) {
	f.Add("param_x", `{"a":1}`, "k", "v w", SignMD5, true)
	f.Add("sign", "x", "method", "", SignHMAC, false)
	f.Add("a\x00b", "%zz+", "timestamp", "\xff\xfe", SignHMACSHA256, true)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, signMethod string, simplify bool) {
		c := &Client{AppKey: "app", Secret: "secret", SignMethod: signMethod, Simplify: simplify,
			Now: func() time.Time { return testNow }}
		params := map[string]any{k1: v1, k2: v2}
		want, werr := referenceForm(c, "m.x", params)
		got, gerr := c.AppendForm(nil, "m.x", params)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("errors: reference %v, body %v", werr, gerr)
		}
		if werr == nil && string(got) != want.Encode() {
			t.Fatalf("got  %s\nwant %s", got, want.Encode())
		}
	})
}

func TestAppendQueryEscape(t *testing.T) {
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
		s := string([]byte{byte(c)})
		if got, want := string(appendQueryEscape(nil, s)), url.QueryEscape(s); got != want {
			t.Errorf("byte %#x: got %q, want %q", c, got, want)
		}
	}
	for _, s := range []string{"", all.String(), "压测 a+b", "x=y&z"} {
		if got, want := string(appendQueryEscape([]byte("pre"), s)), "pre"+url.QueryEscape(s); got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	}
}

// answers are JSON bodies readJSON must read as the map-based reading did:
// what the gateway sends, and shapes only a strange server would.
var answers = []string{
	`{"alibaba_alsc_crm_point_reversepoint_response":{"result":{"biz_success":true,"result":"F1","result_code":"200"},"request_id":"abc"}}`,
	`{"result":{"biz_success":true},"request_id":"simplified"}`,
	`{"error_response":{"code":25,"msg":"Invalid signature","request_id":"e1"}}`,
	`{"error_response":null}`,
	`{"error_response":"x"}`,
	`{"error_response":{"code":"25"}}`,
	` { "alibaba_alsc_crm_point_reversepoint_response" : { "request_id" : "r" , "result" : [ 1 , {"a":"}\"]"} , -2.5e3 ] } } `,
	`{"alibaba_alsc_crm_point_reversepoint_response":null,"result":1}`,
	`{"alibaba_alsc_crm_point_reversepoint_response":[1],"result":1}`,
	`{"alibaba_alsc_crm_point_reversepoint_response":{"result":null,"request_id":null}}`,
	`{"alibaba_alsc_crm_point_reversepoint_response":{"request_id":7}}`,
	`{"\u0072esult":true,"request_\u0069d":"escaped","re\"sult":false}`,
	`{"result":1,"result":2,"request_id":"a","request_id":"b"}`,
	`{"alibaba_alsc_crm_point_reversepoint_response":{"result":1},"alibaba_alsc_crm_point_reversepoint_response":{"result":2}}`,
	`{"Result":1,"REQUEST_ID":"x","résult":"\xff"}`,
	`{"result\xff":1}`,
	`{}`, `null`, `[]`, `"s"`, `1`, `true`, ``, ` `, `{`, `{"a":1}x`, `{"a":1} `, `{"a" 1}`, `{"a":tru}`,
	"{\"result\":{\"k\":\"\\\\\",\"n\":[[],{}],\"t\":true,\"f\":false,\"z\":null},\"request_id\":\"\\u00e9\"}",
	`{"result":-0,"x":[1e5,{"y":[]}],"request_id":"last"}`,
}

// TestReadJSON_AsTheMapReading: the walk finds the same error_response,
// result and request_id as the map-based reading, and errs where it erred.
func TestReadJSON_AsTheMapReading(t *testing.T) {
	for _, body := range answers {
		compareReadJSON(t, body, testMethod)
	}
}

func FuzzReadJSON(f *testing.F) {
	for _, body := range answers {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		compareReadJSON(t, body, testMethod)
	})
}

func compareReadJSON(t *testing.T, body, method string) {
	t.Helper()
	want := &Response{Body: []byte(body)}
	werr := referenceReadJSON(want, method)
	got := &Response{Body: []byte(body)}
	gerr := got.readJSON(method)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%q: map reading error %v, walk error %v", body, werr, gerr)
	}
	if werr != nil {
		return
	}
	if !reflect.DeepEqual(got.Err, want.Err) || got.RequestID != want.RequestID ||
		!bytes.Equal(got.Result, want.Result) || (got.Result == nil) != (want.Result == nil) {
		t.Fatalf("%q:\n got Err %+v RequestID %q Result %q\nwant Err %+v RequestID %q Result %q",
			body, got.Err, got.RequestID, got.Result, want.Err, want.RequestID, want.Result)
	}
}

// TestClient_WireBytesUnchanged: what reaches the server, request line,
// headers and body, is byte for byte what the client sent before the
// append-based encoder, for every sign method, format and simplify. (The
// load tool's fasthttp path is held to Call's requests in cmd/jifen.)
func TestClient_WireBytesUnchanged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan []byte, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go captureRequests(conn, received)
		}
	}()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	u := "http://" + ln.Addr().String() + "/router/rest"
	for i, tc := range clientCases() {
		c := *tc.c
		c.URL, c.HTTP = u, hc
		form, err := referenceForm(&c, tc.method, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		// The request as Call made it before.
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		want := <-received
		if _, err := c.Call(context.Background(), tc.method, tc.params); err != nil {
			t.Fatal(err)
		}
		if got := <-received; !bytes.Equal(got, want) {
			t.Fatalf("case %d: the server received\n%q\nwant\n%q", i, got, want)
		}
	}
}

// captureRequests reads HTTP/1.1 requests from conn as raw bytes, sends
// each on received, and answers each with a small JSON success.
func captureRequests(conn net.Conn, received chan<- []byte) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		var raw bytes.Buffer
		n := -1
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			raw.WriteString(line)
			if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Content-Length") {
				n, _ = strconv.Atoi(strings.TrimSpace(value))
			}
			if line == "\r\n" {
				break
			}
		}
		if n < 0 {
			return
		}
		if _, err := io.CopyN(&raw, br, int64(n)); err != nil {
			return
		}
		received <- raw.Bytes()
		body := `{"result":{"biz_success":true},"request_id":"w"}`
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
}

// TestResponse_Outcome: Outcome reads what decoding the result into
// biz_success and result_code read, and errs where that erred.
func TestResponse_Outcome(t *testing.T) {
	results := []string{
		`{"biz_success":true,"result":"F1","result_code":"200","result_desc":"成功","result_view":""}`,
		`{"biz_success":false,"result_code":"POINT_NOT_ENOUGH","result_desc":"积分不足"}`,
		`{"result":{"result_list":{"point_flow_open_info":[{"flow_id":"F1","result_code":"inner"}]}},"biz_success":true,"result_code":"200"}`,
		`{"biz_success":null,"result_code":null}`,
		`{}`, `null`, ` { "biz_success" : true , "result_code" : "a\"b\\c\u00e9\ud83d\ude00" } `,
		`{"result_code":"\xff bad utf-8","biz_success":false}`,
		`{"biz_success":true,"biz_success":false,"result_code":"1","result_code":"2"}`,
		`{"biz_success":"true"}`, `{"biz_success":1}`, `{"result_code":200}`, `{"result_code":["x"]}`,
		`[]`, `"s"`, `1`, `{`, `{"biz_success":tru}`, ``,
	}
	for _, raw := range results {
		var want struct {
			BizSuccess bool   `json:"biz_success"`
			ResultCode string `json:"result_code"`
		}
		werr := json.Unmarshal([]byte(raw), &want)
		r := &Response{Result: json.RawMessage(raw)}
		if raw == "" {
			r.Result = json.RawMessage{}
		}
		ok, code, err := r.Outcome()
		if (err != nil) != (werr != nil) || (werr == nil && (ok != want.BizSuccess || code != want.ResultCode)) {
			t.Errorf("%s: Outcome %v %q %v, decoding %v %q %v", raw, ok, code, err, want.BizSuccess, want.ResultCode, werr)
		}
	}
	if _, _, err := (&Response{}).Outcome(); err == nil {
		t.Error("no result: got no error")
	}
	e := &ErrorResponse{Code: 25}
	if _, _, err := (&Response{Err: e}).Outcome(); err != e {
		t.Errorf("error_response: got %v", err)
	}
}
