package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jifen/ledger"
	"jifen/points"
	"jifen/top"
)

// TestE2E_ControlCharacters sends what the stores cannot keep alike — NUL
// above all, which PostgreSQL refuses where SQLite stored it — through
// every way text enters, on both stores: signed TOP calls, the admin API,
// a tenant file (`jifen apply`) and a dump (`jifen import`). Each is bad
// input naming the field (code 50, 400, an error naming the line), never
// an internal error, and nothing is written. An app key of the reserved
// "@" namespace is refused by the tenant file and the import, and one an
// older release stored cannot sign in.
func TestE2E_ControlCharacters(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db := newDB(t)
			store, err := openStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			svc := points.New(store, nil, nil)
			d, err := setupDemo(ctx, svc)
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(newHandler(handlerConfig{svc: svc, store: store, log: discardLogger(), adminToken: adminToken}))
			defer ts.Close()
			client := &top.Client{URL: ts.URL + "/router/rest", AppKey: d.appKey, Secret: d.secret, HTTP: ts.Client()}
			flows := func() int {
				t.Helper()
				_, n, err := store.Flows(ctx, points.FlowQuery{BrandID: "demo-brand"})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := flows()
			dir := t.TempDir()
			jifen := func(args ...string) error {
				var out, errb bytes.Buffer
				return run(ctx, args, &out, &errb)
			}
			// A dump of the demo tenant, to damage below.
			file := filepath.Join(dir, "dump.jsonl")
			if err := jifen("export", "--db", db, "-o", file); err != nil {
				t.Fatal(err)
			}
			good, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}

			// Signed TOP calls.
			wantInvalid := func(c *top.Client, method, param, field string, obj map[string]any) {
				t.Helper()
				resp, err := c.Call(ctx, method, map[string]any{param: obj})
				if err != nil {
					t.Fatalf("%s: %v", method, err)
				}
				if e := resp.Err; e == nil || e.Code != 50 || e.SubCode != "isv.invalid-parameter" || !strings.Contains(e.SubMsg, field) {
					t.Fatalf("%s with a bad %s: %s, want code 50 isv.invalid-parameter naming %s", method, field, resp.Body, field)
				}
			}
			wantInvalid(client, top.MethodCustomerCreate, "param_customer_create_open_req", "mobile", map[string]any{
				"brand_id": "demo-brand", "channel": "KRY", "customer_type": 1, "outer_type": "wechat", "outer_id": "wx-nul",
				"request_id": "cc-nul", "mobile": "1\u00002"})
			wantInvalid(client, top.MethodExtraCharge, "param_extra_charge_point_open_req", "request_id", with(kry,
				"customer_id", "demo-c1", "change_point", 10, "out_biz_id", "charge-nul", "operator_id", "op1", "request_id", "pg\u00002"))
			wantInvalid(client, top.MethodConsumePoint, "param_consume_point_open_req", "reason", with(kry,
				"customer_id", "demo-c1", "change_point", 10, "out_biz_id", "order-del", "operator_id", "op1", "operator_name", "小王",
				"reason", "a\u007fb", "request_id", "cp-del"))
			wantInvalid(client, top.MethodQueryPointFlow, "param_page_query_point_flow_open_req", "customer_id", with(kry,
				"customer_id", "demo-c1\u0000"))
			wantInvalid(client, top.MethodCustomerGet, "param_customer_id_query_open_req", "brand_id", map[string]any{
				"brand_id": "demo-brand\u0000", "customer_id": "demo-c1", "options": []string{"POINT"}})
			if _, err := store.CustomerByOuterID(ctx, "demo-brand", "wechat", "wx-nul"); !errors.Is(err, points.ErrNotFound) {
				t.Fatalf("a refused customer.create stored a customer: %v", err)
			}

			// App keys no app may have are unknown (29), not internal
			// errors (15): one with NUL, and an "@" app an older release
			// stored. (Parameters that are not UTF-8 are refused before,
			// with code 47.)
			legacy := ledger.App{Key: "@legacy", Secret: "legacy-secret", Name: "old", Active: true,
				Channels: []string{"KRY"}, Brands: []string{"demo-brand"}}
			if err := store.Write(ctx, func(tx points.Tx) error { return tx.PutApp(ctx, legacy) }); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{legacy.Key, points.AdminAppKey, "demo-pos\x00"} {
				c := &top.Client{URL: client.URL, AppKey: key, Secret: legacy.Secret, HTTP: ts.Client()}
				resp, err := c.Call(ctx, top.MethodExtraCharge, map[string]any{"param_extra_charge_point_open_req": with(kry,
					"customer_id", "demo-c1", "change_point", 10, "out_biz_id", "charge-legacy", "operator_id", "op1",
					"request_id", "legacy-1")})
				if err != nil {
					t.Fatal(err)
				}
				if resp.Err == nil || resp.Err.Code != top.CodeInvalidAppKey {
					t.Fatalf("app_key %q: %s, want code %d (unknown app key)", key, resp.Body, top.CodeInvalidAppKey)
				}
			}

			// The admin API.
			adminCall := func(method, path string, body any) (int, map[string]any) {
				t.Helper()
				b, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+adminToken)
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, m["error"]
			}
			for _, c := range []struct {
				method, path string
				body         any
				field        string
			}{
				{"POST", "/admin/v1/customers/demo-c1/adjustments",
					map[string]any{"points": 5, "reason": "补\u0000偿", "request_id": "adj-nul"}, "reason"},
				{"GET", "/admin/v1/customers/demo-c1%00", nil, "customer_id"},
				{"GET", "/admin/v1/customers/demo-c1%FF", nil, "customer_id"},
				{"PUT", "/admin/v1/apps/@pos", map[string]any{"name": "x"}, "apps[0].app_key"},
				{"POST", "/admin/v1/tenant", map[string]any{"customers": []map[string]any{
					{"customer_id": "c-nul", "brand_id": "demo-brand", "mobile": "1\u00002"}}}, "customers[0].mobile"},
			} {
				status, e := adminCall(c.method, c.path, c.body)
				if status != http.StatusBadRequest || e["code"] != "INVALID_PARAMETER" || e["field"] != c.field {
					t.Fatalf("%s %s: %d %v, want 400 INVALID_PARAMETER naming %s", c.method, c.path, status, e, c.field)
				}
			}

			// A tenant file.
			for file, field := range map[string]string{
				// YAML's "\0" is a NUL.
				"nul.yaml": "customers:\n  - {customer_id: \"c-yaml\", brand_id: \"demo-brand\", mobile: \"1\\0 2\"}\n",
				"shop.yaml": "brands:\n  - brand_id: \"demo-brand\"\n    name: \"演示餐饮\"\n    shops:\n" +
					"      - {shop_id: \"demo-shop-9\", name: \"新\\x01店\"}\n",
				"admin.yaml": "apps:\n  - {app_key: \"@admin\", name: \"x\", channels: [KRY], brands: [\"demo-brand\"]}\n",
				"at.yaml":    "apps:\n  - {app_key: \"@pos\", name: \"x\"}\n",
			} {
				path := filepath.Join(dir, file)
				if err := os.WriteFile(path, []byte(field), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for file, field := range map[string]string{"nul.yaml": "customers[0].mobile", "shop.yaml": "brands[0].shops[0].name",
				"admin.yaml": "apps[0].app_key", "at.yaml": "apps[0].app_key"} {
				err := jifen("apply", "-f", filepath.Join(dir, file), "--db", db)
				if err == nil || !strings.Contains(err.Error(), field) {
					t.Fatalf("apply %s: %v, want an error naming %s", file, err, field)
				}
			}
			for _, key := range []string{points.AdminAppKey, "@pos"} {
				if _, err := store.App(ctx, key); !errors.Is(err, points.ErrNotFound) {
					t.Fatalf("a refused tenant file stored app %s: %v", key, err)
				}
			}
			if _, err := store.Customer(ctx, "c-yaml"); !errors.Is(err, points.ErrNotFound) {
				t.Fatalf("a refused tenant file stored customer c-yaml: %v", err)
			}
			if _, err := store.Shop(ctx, "demo-shop-9"); !errors.Is(err, points.ErrNotFound) {
				t.Fatalf("a refused tenant file stored shop demo-shop-9: %v", err)
			}
			if got := flows(); got != before {
				t.Fatalf("%d flows after refused requests, want %d", got, before)
			}

			// A dump from an older release that stored a NUL, or an "@" app.
			lines := strings.SplitAfter(string(good), "\n")
			damage := func(name, find, repl, want string) {
				t.Helper()
				n := -1
				for i, l := range lines {
					if strings.Contains(l, find) {
						n = i
						break
					}
				}
				if n < 0 {
					t.Fatalf("no line of the dump holds %s", find)
				}
				ls := append([]string(nil), lines...)
				ls[n] = strings.Replace(ls[n], find, repl, 1)
				bad := filepath.Join(dir, name)
				if err := os.WriteFile(bad, []byte(strings.Join(ls, "")), 0o600); err != nil {
					t.Fatal(err)
				}
				target := newDB(t)
				err := jifen("import", "--db", target, "-f", bad)
				lineNo := "line " + strconv.Itoa(n+1) + ": "
				if err == nil || !strings.Contains(err.Error(), lineNo+want) || !strings.Contains(err.Error(), "nothing was imported") {
					t.Fatalf("import of %s: %v, want %q", name, err, lineNo+want)
				}
				var out, errb bytes.Buffer
				if err := run(ctx, []string{"export", "--db", target}, &out, &errb); err != nil ||
					!strings.Contains(errb.String(), "exported 0 apps, 0 brands") {
					t.Fatalf("after a refused import: %v %s", err, errb.String())
				}
			}
			damage("reason.jsonl", `"reason":"演示初始积分"`, `"reason":"演示\u0000初始积分"`, "flows[0].reason")
			damage("mobile.jsonl", `"mobile":"13800000001"`, `"mobile":"138\u000100000001"`, "mobile")
			damage("app.jsonl", `"app_key":"demo-pos"`, `"app_key":"@legacy"`, `app_key "@legacy"`)
		})
	}
}
