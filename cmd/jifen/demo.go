package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"

	"jifen/points"
	"jifen/tenant"
)

//go:embed demo.yaml
var demoYAML []byte

// demoSeed is what each demo customer holds: granted once, idempotently.
var demoSeed = []struct {
	customer string
	points   int64
}{{"demo-c1", 500}, {"demo-c2", 1200}, {"demo-c3", 3000}}

type demo struct {
	appKey, secret string
	adminToken     string // a token made for this run, printed with the console's URL; "" when one was given
}

// setupDemo creates or reuses the demo tenant: an app, a brand with KRY and
// CS external ids, two shops, three customers holding points.
func setupDemo(ctx context.Context, svc *points.Service) (demo, error) {
	f, err := tenant.Parse(bytes.NewReader(demoYAML))
	if err != nil {
		return demo{}, err
	}
	t, err := f.Tenant()
	if err != nil {
		return demo{}, err
	}
	if _, err := svc.Apply(ctx, t); err != nil {
		return demo{}, err
	}
	app, err := svc.Store().App(ctx, "demo-pos")
	if err != nil {
		return demo{}, err
	}
	who := points.Caller{App: app}
	for _, s := range demoSeed {
		_, err := svc.ExtraCharge(ctx, who, points.OrderRequest{
			Target:     points.Target{BrandID: "demo-brand", ShopID: "demo-shop-1", Channel: "KRY"},
			CustomerID: s.customer, Points: s.points, OutBizID: "demo-seed-" + s.customer,
			OperatorID: "demo", OperatorName: "演示", Reason: "演示初始积分", RequestID: "demo-seed-" + s.customer,
		})
		if err != nil {
			return demo{}, fmt.Errorf("seed %s: %w", s.customer, err)
		}
	}
	return demo{appKey: app.Key, secret: app.Secret}, nil
}

func (d demo) print(w io.Writer, base string) {
	token := d.adminToken
	if token == "" {
		token = "(the one given with --admin-token or JIFEN_ADMIN_TOKEN)"
	}
	fmt.Fprintf(w, `
jifen demo tenant is ready.
  gateway:    %s/router/rest
  app_key:    %s
  secret:     %s
  brand:      demo-brand (KRY out_brand_id kry-demo, CS out_brand_id cs-demo)
  shops:      demo-shop-1 西湖店 (KRY kry-shop-1), demo-shop-2 滨江店 (KRY kry-shop-2)
  customers:  demo-c1 (500 points), demo-c2 (1200), demo-c3 (3000)
  console:    %s/console/  (sign in with the admin token)
  admin API:  %s/admin/v1/  (Authorization: Bearer <admin token>)
  admin token: %s

Try it (in another terminal):
  jifen call alibaba.alsc.crm.point.consumepoint --url %s/router/rest --app-key %s --secret %s \
    param_consume_point_open_req='{"biz_channel":"KRY","out_brand_id":"kry-demo","out_shop_id":"kry-shop-1","customer_id":"demo-c1","change_point":100,"out_biz_id":"order-1001","operator_id":"op1","operator_name":"小王","request_id":"req-1001"}'
  jifen call alibaba.alsc.crm.point.reversepoint --url %s/router/rest --app-key %s --secret %s \
    param_reverse_consume_point_open_req='{"biz_type":"DEDUCT_FROM_CONSUME_REVERSE","biz_channel":"KRY","out_brand_id":"kry-demo","out_shop_id":"kry-shop-1","customer_id":"demo-c1","change_point":40,"out_biz_id":"order-1001","reverse_order_id":"refund-1001-a","operator_id":"op1","operator_name":"小王","request_id":"req-1002"}'

`, base, d.appKey, d.secret, base, base, token, base, d.appKey, d.secret, base, d.appKey, d.secret)
}
