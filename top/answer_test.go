package top

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGateway_Shapes pins a list-bearing result in all three shapes.
func TestGateway_Shapes(t *testing.T) {
	const method = "alibaba.alsc.crm.point.querypointflow"
	tests := []struct {
		name    string
		changes []string
		format  string
		want    string
	}{
		{"JSON", nil, FormatJSON,
			`{"alibaba_alsc_crm_point_querypointflow_response":{"result":{"biz_success":true,"current_page":1,"has_next_page":false,` +
				`"result_list":{"point_flow_open_info":[{"flow_id":"F1","change_point":-10,"time":"2016-01-01 12:00:00"},{"flow_id":"F2","change_point":5,"reason":"a\u003cb\u0026c 退款","time":"2016-01-01 12:00:01"}]},` +
				`"tags":{"string":["x","y"]},"result_code":"200","result_desc":"成功","result_view":""},"request_id":"RID"}}`},
		{"JSON simplify=true", []string{"simplify", "true"}, FormatJSON,
			`{"result":{"biz_success":true,"current_page":1,"has_next_page":false,` +
				`"result_list":[{"flow_id":"F1","change_point":-10,"time":"2016-01-01 12:00:00"},{"flow_id":"F2","change_point":5,"reason":"a\u003cb\u0026c 退款","time":"2016-01-01 12:00:01"}],` +
				`"tags":["x","y"],"result_code":"200","result_desc":"成功","result_view":""},"request_id":"RID"}`},
		{"JSON simplify=True (Python)", []string{"simplify", "True"}, FormatJSON,
			`{"result":{"biz_success":true,"current_page":1,"has_next_page":false,` +
				`"result_list":[{"flow_id":"F1","change_point":-10,"time":"2016-01-01 12:00:00"},{"flow_id":"F2","change_point":5,"reason":"a\u003cb\u0026c 退款","time":"2016-01-01 12:00:01"}],` +
				`"tags":["x","y"],"result_code":"200","result_desc":"成功","result_view":""},"request_id":"RID"}`},
		{"JSON simplify=false", []string{"simplify", "false"}, FormatJSON,
			`{"alibaba_alsc_crm_point_querypointflow_response":{"result":{"biz_success":true,"current_page":1,"has_next_page":false,` +
				`"result_list":{"point_flow_open_info":[{"flow_id":"F1","change_point":-10,"time":"2016-01-01 12:00:00"},{"flow_id":"F2","change_point":5,"reason":"a\u003cb\u0026c 退款","time":"2016-01-01 12:00:01"}]},` +
				`"tags":{"string":["x","y"]},"result_code":"200","result_desc":"成功","result_view":""},"request_id":"RID"}}`},
		{"XML (simplify ignored)", []string{"format", "xml", "simplify", "true"}, FormatXML,
			`<?xml version="1.0" encoding="utf-8" ?><alibaba_alsc_crm_point_querypointflow_response><result><biz_success>true</biz_success><current_page>1</current_page><has_next_page>false</has_next_page>` +
				`<result_list><point_flow_open_info><flow_id>F1</flow_id><change_point>-10</change_point><time>2016-01-01 12:00:00</time></point_flow_open_info><point_flow_open_info><flow_id>F2</flow_id><change_point>5</change_point><reason>a&lt;b&amp;c 退款</reason><time>2016-01-01 12:00:01</time></point_flow_open_info></result_list>` +
				`<tags><string>x</string><string>y</string></tags><result_code>200</result_code><result_desc>成功</result_desc><result_view></result_view></result><request_id>RID</request_id></alibaba_alsc_crm_point_querypointflow_response>`},
		{"XML by default", []string{"format", "-"}, FormatXML,
			`<?xml version="1.0" encoding="utf-8" ?><alibaba_alsc_crm_point_querypointflow_response><result><biz_success>true</biz_success><current_page>1</current_page><has_next_page>false</has_next_page>` +
				`<result_list><point_flow_open_info><flow_id>F1</flow_id><change_point>-10</change_point><time>2016-01-01 12:00:00</time></point_flow_open_info><point_flow_open_info><flow_id>F2</flow_id><change_point>5</change_point><reason>a&lt;b&amp;c 退款</reason><time>2016-01-01 12:00:01</time></point_flow_open_info></result_list>` +
				`<tags><string>x</string><string>y</string></tags><result_code>200</result_code><result_desc>成功</result_desc><result_view></result_view></result><request_id>RID</request_id></alibaba_alsc_crm_point_querypointflow_response>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, _ := newTestGateway(t)
			got, _ := checkAnswer(t, postForm(t, g, signed(t, with(sysParams(method), tt.changes...))), tt.format)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestGateway_MethodErrors(t *testing.T) {
	tests := []struct {
		method, format string
		want           string
		wantOutcome    string
		wantLevel      string
	}{
		{"jifen.test.business", FormatJSON,
			`{"jifen_test_business_response":{"result":{"biz_success":false,"result_code":"POINT_NOT_ENOUGH","result_desc":"need 100 points, have 40","result_view":"积分不足"},"request_id":"RID"}}`,
			"POINT_NOT_ENOUGH", "INFO"},
		{"jifen.test.business", FormatXML,
			`<?xml version="1.0" encoding="utf-8" ?><jifen_test_business_response><result><biz_success>false</biz_success><result_code>POINT_NOT_ENOUGH</result_code><result_desc>need 100 points, have 40</result_desc><result_view>积分不足</result_view></result><request_id>RID</request_id></jifen_test_business_response>`,
			"POINT_NOT_ENOUGH", "INFO"},
		{"jifen.test.bizfalse", FormatJSON,
			`{"jifen_test_bizfalse_response":{"result":{"biz_success":false,"result_code":"X","result_desc":"d","result_view":"v"},"request_id":"RID"}}`,
			"X", "INFO"},
		{"jifen.test.invalid", FormatJSON,
			`{"error_response":{"code":50,"msg":"Remote service error","sub_code":"isv.invalid-parameter","sub_msg":"非法参数: shop_id shop_id和out_shop_id不可同时为空","request_id":"RID"}}`,
			"50", "INFO"},
		{"jifen.test.denied", FormatJSON,
			`{"error_response":{"code":11,"msg":"Insufficient isv permissions","sub_code":"isv.permission-denied","sub_msg":"权限不足: brand_id not granted to this app","request_id":"RID"}}`,
			"11", "INFO"},
		{"jifen.test.unavailable", FormatJSON,
			`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.service-unavailable","sub_msg":"service temporarily unavailable, retry later, request_id RID","request_id":"RID"}}`,
			"15", "WARN"},
		{"jifen.test.internal", FormatJSON,
			`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.unknown-error","sub_msg":"internal error, request_id RID","request_id":"RID"}}`,
			"15", "ERROR"},
		{"jifen.test.internal", FormatXML,
			`<?xml version="1.0" encoding="utf-8" ?><error_response><code>15</code><msg>Remote service error</msg><sub_code>isp.unknown-error</sub_code><sub_msg>internal error, request_id RID</sub_msg><request_id>RID</request_id></error_response>`,
			"15", "ERROR"},
		{"jifen.test.panic", FormatJSON,
			`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.unknown-error","sub_msg":"internal error, request_id RID","request_id":"RID"}}`,
			"15", "ERROR"},
		{"jifen.test.unencodable", FormatJSON,
			`{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.unknown-error","sub_msg":"internal error, request_id RID","request_id":"RID"}}`,
			"15", "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.method+"/"+tt.format, func(t *testing.T) {
			g, logs, _ := newTestGateway(t)
			got, rid := checkAnswer(t, postForm(t, g, signed(t, with(sysParams(tt.method), "format", tt.format))), tt.format)
			got = strings.ReplaceAll(got, rid, "RID")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			line := oneLogLine(t, logs)
			if line["request_id"] != rid || line["outcome"] != tt.wantOutcome || line["level"] != tt.wantLevel {
				t.Errorf("log line %v: want request_id %s, outcome %s, level %s", line, rid, tt.wantOutcome, tt.wantLevel)
			}
			if tt.wantLevel != "INFO" && line["error"] == nil {
				t.Errorf("log line %v lacks the cause", line)
			}
		})
	}
}

func TestGateway_InternalErrorHidesCause(t *testing.T) {
	g, logs, _ := newTestGateway(t)
	w := postForm(t, g, signed(t, sysParams("jifen.test.internal")))
	if strings.Contains(w.Body.String(), "sqlite") {
		t.Errorf("answer leaks the cause: %s", w.Body)
	}
	line := oneLogLine(t, logs)
	if line["error"] != "sqlite: no such table: lots" {
		t.Errorf("log error = %v, want the cause", line["error"])
	}
}

func TestGateway_ObjectParamErrors(t *testing.T) {
	tests := []struct{ name, obj, want string }{
		{"absent", "-",
			`{"error_response":{"code":40,"msg":"Missing required arguments:param_reverse_consume_point_open_req","sub_code":"isv.missing-parameter:param_reverse_consume_point_open_req","request_id":"RID"}}`},
		{"not an object", `[1,2]`,
			`{"error_response":{"code":41,"msg":"Invalid arguments:param_reverse_consume_point_open_req","sub_code":"isv.invalid-parameter:param_reverse_consume_point_open_req","sub_msg":"must be a JSON object","request_id":"RID"}}`},
		{"required field missing", `{"biz_type":"X","request_id":"r1"}`,
			`{"error_response":{"code":50,"msg":"Remote service error","sub_code":"isv.invalid-parameter","sub_msg":"非法参数: out_biz_id 不可为空","request_id":"RID"}}`},
		{"fractional number", `{"biz_type":"X","request_id":"r1","out_biz_id":"o","change_point":1.5}`,
			`{"error_response":{"code":50,"msg":"Remote service error","sub_code":"isv.invalid-parameter","sub_msg":"非法参数: change_point 必须是整数","request_id":"RID"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, _ := newTestGateway(t)
			got, _ := checkAnswer(t, postForm(t, g, signed(t, with(sysParams(testMethod), "param_reverse_consume_point_open_req", tt.obj))), FormatJSON)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestGateway_SignatureVariants(t *testing.T) {
	base := sysParams("jifen.test.echo")
	tests := []struct {
		name   string
		params func(t *testing.T) map[string]string
	}{
		{"hmac", func(t *testing.T) map[string]string { return signed(t, with(base, "sign_method", "hmac")) }},
		{"hmac-sha256", func(t *testing.T) map[string]string { return signed(t, with(base, "sign_method", "hmac-sha256")) }},
		{"upper-case sign_method", func(t *testing.T) map[string]string {
			p := with(base, "sign_method", "HMAC-SHA256")
			s, _ := Sign(p, testSecret, SignHMACSHA256)
			return with(p, "sign", s)
		}},
		{"lower-case hex", func(t *testing.T) map[string]string {
			p := signed(t, base)
			return with(p, "sign", strings.ToLower(p["sign"]))
		}},
		{"empty param signed (PHP)", func(t *testing.T) map[string]string { return signed(t, with(base, "extra", "")) }},
		{"empty param not signed (Java)", func(t *testing.T) map[string]string {
			return with(signed(t, base), "extra", "")
		}},
		{"legacy: no sign_method, prefix-only md5", func(t *testing.T) map[string]string {
			p := with(base, "sign_method", "-")
			s, _ := Sign(p, testSecret, SignLegacy)
			return with(p, "sign", s)
		}},
		{"legacy: no sign_method, standard md5", func(t *testing.T) map[string]string {
			p := with(base, "sign_method", "-")
			s, _ := Sign(p, testSecret, SignMD5)
			return with(p, "sign", s)
		}},
		{"session is signed and ignored", func(t *testing.T) map[string]string { return signed(t, with(base, "session", "abc")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, _ := newTestGateway(t)
			echoParams(t, postForm(t, g, tt.params(t)))
		})
	}
}

func oneLogLine(t *testing.T, logs *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line per request, got %d: %s", len(lines), logs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGateway_LogLineAndRequestID(t *testing.T) {
	g, logs, _ := newTestGateway(t)
	p := signed(t, with(sysParams(testMethod), "param_reverse_consume_point_open_req", reverseObj))
	_, rid1 := checkAnswer(t, postForm(t, g, p), FormatJSON)
	line := oneLogLine(t, logs)
	want := map[string]any{
		"msg": "top call", "level": "INFO", "request_id": rid1, "app_key": testKey, "method": testMethod,
		"biz_request_id": "6f1c2d3e-0000-4000-8000-000000000001", "outcome": "ok",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Error("log line has no duration")
	}
	if s := logs.String(); strings.Contains(s, p["sign"]) || strings.Contains(s, testSecret) {
		t.Errorf("log line leaks sign or secret: %s", s)
	}
	logs.Reset()
	_, rid2 := checkAnswer(t, postForm(t, g, p), FormatJSON)
	if rid1 == rid2 {
		t.Errorf("request_id %s repeated", rid1)
	}
	if line := oneLogLine(t, logs); line["request_id"] != rid2 {
		t.Errorf("log request_id = %v, want %s", line["request_id"], rid2)
	}
}

func TestNewRequestID_Unique(t *testing.T) {
	seen := make(map[string]bool)
	now := testNow
	for range 10000 {
		id := newRequestID(now)
		if len(id) != 13 || ridPattern.FindString(id) != id {
			t.Fatalf("request_id %q is not 13 lower-case base-36 characters", id)
		}
		if seen[id] {
			t.Fatalf("request_id %s repeated", id)
		}
		seen[id] = true
	}
}

func TestGateway_Gzip(t *testing.T) {
	g, _, _ := newTestGateway(t)
	p := signed(t, with(sysParams("jifen.test.echo"), "pad", strings.Repeat("x", 2000)))
	req := httptest.NewRequest(http.MethodPost, "/router/rest", strings.NewReader(encodeForm(p)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Encoding", "deflate, gzip;q=0.8")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req)
	if w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", w.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), `{"jifen_test_echo_response":`) {
		t.Errorf("decompressed body = %.80s", body)
	}

	// Without Accept-Encoding, or with q=0, the body goes as is.
	for _, ae := range []string{"", "gzip;q=0", "identity"} {
		req := httptest.NewRequest(http.MethodPost, "/router/rest", strings.NewReader(encodeForm(p)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept-Encoding", ae)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Header().Get("Content-Encoding") != "" || !json.Valid(w.Body.Bytes()) {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q", ae, w.Header().Get("Content-Encoding"))
		}
	}
}

func TestGateway_NilLoggerAndClock(t *testing.T) {
	g := &Gateway{Apps: fakeApps{}, Methods: map[string]Method{}}
	w := do(g, http.MethodGet, "/router/rest?format=json&method=x&app_key=y", "", "")
	got, _ := checkAnswer(t, w, FormatJSON)
	if want := `{"error_response":{"code":29,"msg":"Invalid app Key","sub_code":"isv.appkey-not-exists","request_id":"RID"}}`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestAnswerFor_Timeouts(t *testing.T) {
	for _, err := range []error{context.DeadlineExceeded, fmt.Errorf("query: %w", context.Canceled)} {
		a := answerFor(err, "RID")
		if a.errResp == nil || a.errResp.Code != CodeRemoteService || a.errResp.SubCode != "isp.service-unavailable" || a.level != slog.LevelWarn {
			t.Errorf("answerFor(%v) = %+v", err, a)
		}
	}
}
