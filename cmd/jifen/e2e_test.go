package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jifen/points"
	"jifen/sqlite"
	"jifen/storetest"
	"jifen/top"
)

// server is jifen serving its demo tenant over a real HTTP server on a
// fresh SQLite database.
type server struct {
	t       *testing.T
	url     string
	db      string
	svc     *points.Service
	sandbox *points.SandboxClock
	demo    demo
	client  *top.Client
}

const adminToken = "test-admin-token"

func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t, false)
}

// startServerWith is startServer, serving webhooks (the admin API's and
// console's pages, and a dispatcher delivering to 127.0.0.1) if hooks.
func startServerWith(t *testing.T, hooks bool) *server {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "jifen.db")
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	sandbox := &points.SandboxClock{}
	svc := points.New(store, sandbox, nil)
	d, err := setupDemo(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	hc := handlerConfig{svc: svc, store: store, log: discardLogger(), sandbox: sandbox, adminToken: adminToken}
	if hooks {
		hc.hooks = store
	}
	ts := httptest.NewServer(newHandler(hc))
	t.Cleanup(func() {
		ts.Close()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
		mustVerify(t, db)
	})
	if hooks {
		// Stopped (cleanups run last first) before the store closes.
		storetest.StartDispatcher(t, svc, store, storetest.FastDelivery())
	}
	return &server{t: t, url: ts.URL, db: db, svc: svc, sandbox: sandbox, demo: d,
		client: &top.Client{URL: ts.URL + "/router/rest", AppKey: d.appKey, Secret: d.secret, HTTP: ts.Client()}}
}

// mustVerify runs `jifen verify` on the database and fails on a violation.
func mustVerify(t *testing.T, db string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--db", db}, &out, &errb); err != nil {
		t.Errorf("jifen verify: %v\n%s%s", err, out.String(), errb.String())
	}
}

// call invokes method and decodes its result object.
func (s *server) call(method string, params map[string]any) map[string]any {
	s.t.Helper()
	resp, err := s.client.Call(context.Background(), method, params)
	if err != nil {
		s.t.Fatalf("%s: %v", method, err)
	}
	if resp.Err != nil {
		s.t.Fatalf("%s: error_response %+v", method, resp.Err)
	}
	var res map[string]any
	if err := json.Unmarshal(resp.Result, &res); err != nil {
		s.t.Fatalf("%s: result %s: %v", method, resp.Result, err)
	}
	return res
}

var kry = map[string]any{"biz_channel": "KRY", "out_brand_id": "kry-demo", "out_shop_id": "kry-shop-1"}

func with(base map[string]any, kv ...any) map[string]any {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func (s *server) available(customer string) float64 {
	s.t.Helper()
	res := s.call(top.MethodCustomerGet, map[string]any{"param_customer_id_query_open_req": map[string]any{
		"brand_id": "demo-brand", "customer_id": customer, "options": []string{"POINT"}}})
	acct := res["result"].(map[string]any)["point_account"].(map[string]any)
	return acct["available_point"].(float64)
}

// TestE2E_POSOrderLifeCycle is what a POS developer does: charge, pay with
// points, refund in two partial reversals and a final one without
// change_point, list the flows, read the balance.
func TestE2E_POSOrderLifeCycle(t *testing.T) {
	s := startServer(t)
	start := s.available("demo-c1")
	if start != 500 {
		t.Fatalf("demo customer holds %v, want 500", start)
	}
	res := s.call(top.MethodExtraCharge, map[string]any{"param_extra_charge_point_open_req": with(kry,
		"customer_id", "demo-c1", "change_point", 200, "out_biz_id", "charge-1", "operator_id", "op1", "request_id", "e2e-1")})
	if res["biz_success"] != true || res["result_code"] != "200" || res["result_desc"] != "成功" {
		t.Fatalf("charge: %v", res)
	}
	res = s.call(top.MethodConsumePoint, map[string]any{"param_consume_point_open_req": with(kry,
		"customer_id", "demo-c1", "change_point", 300, "out_biz_id", "order-1", "operator_id", "op1", "operator_name", "小王", "request_id", "e2e-2")})
	if res["biz_success"] != true {
		t.Fatalf("consume: %v", res)
	}
	rev := func(refund, req string, n any) map[string]any {
		p := with(kry, "biz_type", "DEDUCT_FROM_CONSUME_REVERSE", "out_biz_id", "order-1", "reverse_order_id", refund,
			"operator_id", "op1", "operator_name", "小王", "request_id", req, "customer_id", "demo-c1")
		if n != nil {
			p["change_point"] = n
		}
		return s.call(top.MethodReversePoint, map[string]any{"param_reverse_consume_point_open_req": p})
	}
	// A blank change_point is not "everything": it is refused, naming the
	// field, and nothing is reversed.
	blank := with(kry, "biz_type", "DEDUCT_FROM_CONSUME_REVERSE", "out_biz_id", "order-1", "reverse_order_id", "refund-blank",
		"operator_id", "op1", "operator_name", "小王", "request_id", "e2e-blank", "customer_id", "demo-c1", "change_point", "")
	resp, err := s.client.Call(context.Background(), top.MethodReversePoint, map[string]any{"param_reverse_consume_point_open_req": blank})
	if err != nil || resp.Err == nil || resp.Err.Code != 50 || !strings.Contains(resp.Err.SubMsg, "change_point") {
		t.Fatalf("blank change_point: %v %s", err, resp.Body)
	}
	if got := s.available("demo-c1"); got != 400 {
		t.Fatalf("balance after the refused reversal %v, want 400", got)
	}
	r1 := rev("refund-a", "e2e-3", 100)
	r2 := rev("refund-b", "e2e-4", "50") // a number sent as a string, as PHP does
	r3 := rev("refund-c", "e2e-5", nil)
	for _, r := range []map[string]any{r1, r2, r3} {
		if r["biz_success"] != true || r["result_view"] != "" {
			t.Fatalf("reversal: %v", r)
		}
		if _, ok := r["result"].(string); !ok {
			t.Fatalf("reversal result %v is not a string flow id", r["result"])
		}
	}
	if again := rev("refund-a", "e2e-3", 100); again["result"] != r1["result"] {
		t.Fatalf("replay answered %v, want %v", again["result"], r1["result"])
	}
	if r := rev("refund-d", "e2e-6", 1); r["biz_success"] != false || r["result_code"] != "ALREADY_FULLY_REVERSED" || r["result_view"] == "" {
		t.Fatalf("reversal of a fully reversed order: %v", r)
	}
	flows := s.call(top.MethodQueryPointFlow, map[string]any{"param_page_query_point_flow_open_req": map[string]any{
		"brand_id": "demo-brand", "customer_id": "demo-c1", "page_size": 3}})
	list := flows["result_list"].(map[string]any)["point_flow_open_info"].([]any)
	first := list[0].(map[string]any)
	if flows["total_size"] != 6.0 || flows["total_page"] != 2.0 || flows["has_next_page"] != true || len(list) != 3 ||
		first["flow_id"] != r3["result"] || first["change_point"] != 150.0 || first["biz_type_description"] != "积分消费回退" ||
		first["shop_name"] != "西湖店" || first["remain_point"] != 700.0 || first["operator_name"] != "小王" {
		t.Fatalf("flows: %v", flows)
	}
	if _, err := time.Parse("2006-01-02 15:04:05", first["time"].(string)); err != nil {
		t.Fatalf("flow time %v: %v", first["time"], err)
	}
	if got := s.available("demo-c1"); got != 700 {
		t.Fatalf("balance %v, want 700", got)
	}
}

// TestE2E_AnswerShapes checks what SDKs decode: the wrapper, XML, the
// simplified form, an error_response, the content types.
func TestE2E_AnswerShapes(t *testing.T) {
	s := startServer(t)
	params := map[string]any{"param_customer_id_query_open_req": map[string]any{"brand_id": "demo-brand", "customer_id": "demo-c3", "options": "POINT"}}
	for _, tc := range []struct {
		format   string
		simplify bool
		prefix   string
		ctype    string
	}{
		{"json", false, `{"alibaba_alsc_crm_customer_get_response":{"result":{"biz_success":true,"result":{"customer_open_info":`, "application/json;charset=UTF-8"},
		{"json", true, `{"result":{"biz_success":true,"result":{"customer_open_info":`, "application/json;charset=UTF-8"},
		{"xml", false, `<?xml version="1.0" encoding="utf-8" ?><alibaba_alsc_crm_customer_get_response><result><biz_success>true</biz_success>`, "text/xml;charset=UTF-8"},
	} {
		c := *s.client
		c.Format, c.Simplify = tc.format, tc.simplify
		resp, err := c.Call(context.Background(), top.MethodCustomerGet, params)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(resp.Body), tc.prefix) || !strings.Contains(string(resp.Body), "3000") {
			t.Errorf("%s simplify=%v: %s", tc.format, tc.simplify, resp.Body)
		}
		if bytes.HasSuffix(resp.Body, []byte("\n")) {
			t.Errorf("%s: trailing newline", tc.format)
		}
	}
	// A raw request shows the content type.
	resp, err := http.Get(s.url + "/router/rest?method=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); got != "text/xml;charset=UTF-8" || resp.StatusCode != 200 {
		t.Errorf("content type %q status %d", got, resp.StatusCode)
	}
	// Bad input: the platform error naming the field; nothing written.
	r, err := s.client.Call(context.Background(), top.MethodConsumePoint, map[string]any{"param_consume_point_open_req": with(kry,
		"customer_id", "demo-c1", "change_point", 1.5, "out_biz_id", "o", "operator_id", "op", "operator_name", "x", "request_id", "bad-1")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Err == nil || r.Err.Code != 50 || r.Err.SubCode != "isv.invalid-parameter" || !strings.HasPrefix(r.Err.SubMsg, "非法参数") || !strings.Contains(r.Err.SubMsg, "change_point") {
		t.Fatalf("fractional change_point: %+v", r.Err)
	}
	// Unknown app, bad signature.
	bad := *s.client
	bad.Secret = "wrong"
	if r, _ := bad.Call(context.Background(), top.MethodCustomerGet, params); r == nil || r.Err == nil || r.Err.Code != 25 {
		t.Fatalf("bad signature: %+v", r)
	}
	bad = *s.client
	bad.AppKey = "nobody"
	if r, _ := bad.Call(context.Background(), top.MethodCustomerGet, params); r == nil || r.Err == nil || r.Err.Code != 29 {
		t.Fatalf("unknown app: %+v", r)
	}
}

// TestE2E_SandboxExpiry charges, moves the sandbox clock 400 days on, and
// sees the points expire: in the balance at once, as EXPIRE flows after
// the sweep.
func TestE2E_SandboxExpiry(t *testing.T) {
	s := startServer(t)
	post := func(body string, token string) *http.Response {
		req, _ := http.NewRequest("POST", s.url+"/sandbox/clock", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(`{"advance":"1h"}`, "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	// A body is taken whole or not at all: the clock does not move.
	for _, body := range []string{`{"advance":"1h"} {"advance":"9600h"}`, `{"advance":"9600h","advance":"1h"}`} {
		if resp := post(body, adminToken); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %d, want 400", body, resp.StatusCode)
		}
	}
	if off := s.sandbox.Offset(); off != 0 {
		t.Fatalf("refused bodies moved the clock by %s", off)
	}
	if resp := post(`{"advance":"9600h"}`, adminToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("advance: %d", resp.StatusCode)
	}
	if got := s.available("demo-c1"); got != 0 {
		t.Fatalf("after 400 days the balance is %v, want 0", got)
	}
	if _, err := s.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	flows := s.call(top.MethodQueryPointFlow, map[string]any{"param_page_query_point_flow_open_req": map[string]any{
		"brand_id": "demo-brand", "customer_id": "demo-c1", "point_flow_type": "EXPIRE"}})
	list := flows["result_list"].(map[string]any)["point_flow_open_info"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["change_point"] != -500.0 {
		t.Fatalf("EXPIRE flows: %v", flows)
	}
}

// TestE2E_CLI drives `jifen apply`, `jifen call` and `jifen verify`.
func TestE2E_CLI(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()
	tf := filepath.Join(dir, "tenant.yaml")
	os.WriteFile(tf, []byte(`apps:
  - app_key: "kry-pos-001"
    name: "客如云 POS"
    channels: [KRY]
    brands: ["12332"]
brands:
  - brand_id: "12332"
    name: "测试品牌"
    time_zone: "Asia/Shanghai"
    out_ids: {KRY: "33959", CS: "cs-33959"}
    shops:
      - shop_id: "23453435"
        name: "西湖店"
        out_ids: {KRY: "87766897"}
customers:
  - customer_id: "7027365982937563912722"
    brand_id: "12332"
    mobile: "13800000000"
    name: "小明"
    level_id: "L1"
`), 0o600)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"apply", "-f", tf, "--db", s.db}, &out, &errb); err != nil {
		t.Fatalf("apply: %v %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "generated secret for app kry-pos-001: ") {
		t.Fatalf("apply output: %s", out.String())
	}
	secret := strings.TrimSpace(out.String()[strings.LastIndex(out.String(), ": ")+2:])
	// Applying again changes nothing and keeps the secret.
	out.Reset()
	if err := run(context.Background(), []string{"apply", "-f", tf, "--db", s.db}, &out, &errb); err != nil || strings.Contains(out.String(), "generated") {
		t.Fatalf("re-apply: %v %s", err, out.String())
	}
	out.Reset()
	err := run(context.Background(), []string{"call", top.MethodExtraCharge, "--url", s.url + "/router/rest", "--app-key", "kry-pos-001",
		"--secret", secret, "--sign-method", "hmac-sha256",
		`param_extra_charge_point_open_req={"biz_channel":"KRY","out_brand_id":"33959","out_shop_id":"87766897","customer_id":"7027365982937563912722","change_point":23,"out_biz_id":"3231231312312","operator_id":"3484874839","request_id":"4325"}`}, &out, &errb)
	if err != nil || !strings.Contains(out.String(), `"biz_success":true`) {
		t.Fatalf("call: %v %s %s", err, out.String(), errb.String())
	}
	out.Reset()
	err = run(context.Background(), []string{"call", top.MethodReversePoint, "--url", s.url + "/router/rest", "--app-key", "kry-pos-001",
		"--secret", secret, "--format", "xml",
		`param_reverse_consume_point_open_req={"biz_type":"DEDUCT_FROM_CONSUME_REVERSE","biz_channel":"KRY","out_brand_id":"33959","out_shop_id":"87766897","out_biz_id":"3231231312312","reverse_order_id":"34356785432","operator_id":"3484874839","operator_name":"小王","request_id":"4326"}`}, &out, &errb)
	if err != nil || !strings.Contains(out.String(), "<result_code>CONSUME_ORDER_NOT_FOUND</result_code>") {
		t.Fatalf("call xml: %v %s", err, out.String())
	}
	// An app not allowed for the brand: code 11, nothing written.
	out.Reset()
	err = run(context.Background(), []string{"call", top.MethodExtraCharge, "--url", s.url + "/router/rest", "--app-key", "kry-pos-001",
		"--secret", secret, `param_extra_charge_point_open_req={"biz_channel":"KRY","brand_id":"demo-brand","shop_id":"demo-shop-1","customer_id":"demo-c1","change_point":23,"out_biz_id":"x","operator_id":"o","request_id":"4327"}`}, &out, &errb)
	if err == nil || !strings.Contains(out.String(), `"code":11`) {
		t.Fatalf("not allowed: %v %s", err, out.String())
	}
}

// TestE2E_NodeSDK drives jifen with the npm package node-taobao-topclient,
// unmodified, where Node.js and npm are installed.
func TestE2E_NodeSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED: Node.js is not installed, so the node-taobao-topclient test cannot run")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("SKIPPED: npm is not installed, so node-taobao-topclient cannot be installed")
	}
	dir, _ := filepath.Abs("testdata/node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-taobao-topclient")); err != nil {
		cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("npm install: %v\n%s", err, out)
			}
			t.Skipf("SKIPPED: npm install node-taobao-topclient failed: %v\n%s", err, out)
		}
	}
	s := startServer(t)
	cmd := exec.Command(node, "e2e.js")
	cmd.Dir = dir
	// The SDK stamps requests with the host's local time; a POS in China
	// runs in Asia/Shanghai, as the TOP timestamp rule expects.
	cmd.Env = append(os.Environ(), "TZ=Asia/Shanghai", "JIFEN_URL="+s.url+"/router/rest",
		"JIFEN_APP_KEY="+s.demo.appKey, "JIFEN_SECRET="+s.demo.secret)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "node SDK end-to-end: ok") {
		t.Fatalf("node SDK: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
