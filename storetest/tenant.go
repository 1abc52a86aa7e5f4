package storetest

import (
	"strings"
	"testing"

	"jifen/ledger"
	"jifen/points"
)

func init() { extra = append(extra, suiteTest{"TenantIDs", testTenantIDs}) }

// testTenantIDs: an id nobody could use afterwards — spaces around it
// (lookups trim), control characters, too long — is refused by name, and
// nothing of the tenant is written.
func testTenantIDs(t *testing.T, open Opener) {
	e := NewEnv(t, open)
	brand := func(id string) points.TenantBrand {
		return points.TenantBrand{Brand: ledger.Brand{ID: id, Name: "b", TimeZone: "Asia/Shanghai", Settings: ledger.DefaultSettings()}}
	}
	for _, c := range []struct {
		tenant points.Tenant
		field  string
	}{
		{points.Tenant{Brands: []points.TenantBrand{brand(" B9")}}, "brands[0].brand_id"},
		{points.Tenant{Brands: []points.TenantBrand{brand("B\x019")}}, "brands[0].brand_id"},
		{points.Tenant{Brands: []points.TenantBrand{brand(strings.Repeat("b", points.MaxIDBytes+1))}}, "brands[0].brand_id"},
		{points.Tenant{Brands: []points.TenantBrand{brand("B9"), {Brand: ledger.Brand{ID: "B10", Name: "b"},
			Shops: []ledger.Shop{{ID: "S9 ", Name: "s"}}}}}, "brands[1].shops[0].shop_id"},
		{points.Tenant{Apps: []ledger.App{{Key: "app\t", Name: "a", Active: true}}}, "apps[0].app_key"},
		{points.Tenant{Customers: []ledger.Customer{{ID: "C9\n", BrandID: "B1"}}}, "customers[0].customer_id"},
		{points.Tenant{Customers: []ledger.Customer{{ID: "C9", BrandID: "B1", Mobile: strings.Repeat("1", points.MaxIDBytes+1)}}},
			"customers[0].mobile"},
		{points.Tenant{Brands: []points.TenantBrand{func() points.TenantBrand {
			b := brand("B9")
			b.OutIDs = map[string]string{"KRY": "33959 "}
			return b
		}()}}, "brands[0].out_ids.KRY"},
		{points.Tenant{Brands: []points.TenantBrand{func() points.TenantBrand {
			b := brand("B9")
			b.Settings.RefundOfExpired, b.Settings.GraceDays = ledger.RefundGrace, 0
			return b
		}()}}, "brands[0].settings.grace_days"},
	} {
		_, err := e.Svc.Apply(e.Ctx, c.tenant)
		WantInvalid(t, err, c.field)
	}
	brands, err := e.Admin().Brands(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range brands {
		ids = append(ids, b.ID)
	}
	if strings.Join(ids, ",") != "B1,B2" {
		t.Fatalf("brands %q after refused tenants, want only B1 and B2", ids)
	}
	if _, err := e.Store.Customer(e.Ctx, "C9"); err == nil {
		t.Fatal("a refused tenant wrote customer C9")
	}
}
