package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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
	// self runs jifen in the printed examples, from selfDir when not ""
	// (selfCommand).
	self, selfDir string
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
	self, cd := d.self, ""
	if self == "" {
		self = "jifen"
	}
	if d.selfDir != "" {
		cd = "  cd " + shellQuote(d.selfDir) + "\n"
	}
	fmt.Fprintf(w, `
jifen demo tenant is ready.
  gateway:    %s/router/rest
  app_key:    %s
  secret:     %s
  brand:      demo-brand (KRY out_brand_id kry-demo, CS out_brand_id cs-demo)
  shops:      demo-shop-1 西湖店 (KRY kry-shop-1), demo-shop-2 滨江店 (KRY kry-shop-2)
  customers:  demo-c1 (500 points), demo-c2 (1200), demo-c3 (3000)
  console:    %s/console/  (sign in as bootstrap, the admin token as password)
  admin API:  %s/admin/v1/  (Authorization: Bearer <admin token>)
  admin token: %s

Try it (in another terminal):
%s  %s call alibaba.alsc.crm.point.consumepoint --url %s/router/rest --app-key %s --secret %s \
    param_consume_point_open_req='{"biz_channel":"KRY","out_brand_id":"kry-demo","out_shop_id":"kry-shop-1","customer_id":"demo-c1","change_point":100,"out_biz_id":"order-1001","operator_id":"op1","operator_name":"小王","request_id":"req-1001"}'
  %s call alibaba.alsc.crm.point.reversepoint --url %s/router/rest --app-key %s --secret %s \
    param_reverse_consume_point_open_req='{"biz_type":"DEDUCT_FROM_CONSUME_REVERSE","biz_channel":"KRY","out_brand_id":"kry-demo","out_shop_id":"kry-shop-1","customer_id":"demo-c1","change_point":40,"out_biz_id":"order-1001","reverse_order_id":"refund-1001-a","operator_id":"op1","operator_name":"小王","request_id":"req-1002"}'

`, base, d.appKey, d.secret, base, base, token, cd, self, base, d.appKey, d.secret, self, base, d.appKey, d.secret)
}

// selfCommand is how a shell runs this jifen again, for the examples
// `serve --demo` prints, which must work as printed: a new user starts
// with `go run ./cmd/jifen serve --demo`, which puts no jifen on the PATH.
// Started by go run, it is `go run ./cmd/jifen` in the checkout (dir);
// else `jifen` if that is this program on the PATH; else this program's
// full path.
func selfCommand() (command, dir string) {
	exe, err := os.Executable()
	if err != nil {
		return "jifen", ""
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = ""
	}
	onPath, err := exec.LookPath("jifen")
	if err != nil {
		onPath = ""
	}
	return commandFor(exe, wd, onPath, os.Getenv("GOCACHE"))
}

// commandFor decides selfCommand for the executable exe, started in wd,
// with onPath the file the PATH finds as jifen ("" for none) and goCache
// the GOCACHE variable.
func commandFor(exe, wd, onPath, goCache string) (command, dir string) {
	if builtByGoRun(exe, goCache) {
		root, ok := moduleRoot(wd)
		if !ok {
			root = ""
		}
		return "go run ./cmd/jifen", root
	}
	if onPath != "" && sameFile(onPath, exe) {
		return "jifen", ""
	}
	return shellQuote(exe), ""
}

// builtByGoRun reports whether exe is an executable go run built: in a
// temporary go-build… directory, or — go run keeps them there since Go
// 1.24 — in the build cache (GOCACHE, by default a directory go-build).
func builtByGoRun(exe, goCache string) bool {
	if goCache != "" && strings.HasPrefix(exe, filepath.Clean(goCache)+string(filepath.Separator)) {
		return true
	}
	for _, el := range strings.Split(filepath.ToSlash(filepath.Dir(exe)), "/") {
		if strings.HasPrefix(el, "go-build") {
			return true
		}
	}
	return false
}

// moduleRoot finds the jifen checkout at or above dir: the nearest
// directory with a go.mod, if that declares module jifen.
func moduleRoot(dir string) (string, bool) {
	if dir == "" {
		return "", false
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for line := range strings.Lines(string(b)) {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
					return dir, strings.Trim(f[1], `"`) == "jifen"
				}
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// shellQuote quotes s for a POSIX shell where it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
