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
	} {
		_, err := e.Svc.Apply(e.Ctx, c.tenant)
		WantInvalid(t, err, c.field)
	}
	brands, err := e.Admin().Brands(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range brands {
		if strings.HasPrefix(strings.TrimSpace(b.ID), "B9") || b.ID == "B10" {
			t.Fatalf("a refused tenant wrote brand %q", b.ID)
		}
	}
}
