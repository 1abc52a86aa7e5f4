package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"go.yaml.in/yaml/v3"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
	"jifen/tenant"
)

// Tenant records are read in the tenant file's shape and written with its
// meaning and validation: a body is a piece of the tenant file, in JSON
// (or YAML), unknown keys refused, applied as `jifen apply` applies it.

// decodeTenant reads a body that is a piece of the tenant file: one YAML
// document (JSON is YAML). YAML refuses a key given twice; a JSON body is
// checked first (checkJSON, keys compared exactly, as YAML does) so the
// error names the duplicated key's path. A second document, or anything
// else after the first, is refused rather than dropped.
func decodeTenant(w http.ResponseWriter, r *http.Request, v any) error {
	// Read whole first: the YAML decoder turns a failed read into text,
	// and a body not received in time must keep its error (invalidBody).
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return invalidBody(err)
	}
	if json.Valid(data) {
		if err := checkJSON(data, false); err != nil {
			return err
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ledger.Invalid("body", "请求体为空")
		}
		return invalidBody(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return ledger.Invalid("body", "第一个 YAML 文档之后还有内容 (trailing data): 请求体只能是一个文档")
	}
	return nil
}

// pathKey checks that a key in the body, if given, is the one in the path.
func pathKey(field, inBody, inPath string) (string, error) {
	if inBody != "" && inBody != inPath {
		return "", ledger.Invalidf(field, "与路径中的 %q 不一致", inPath)
	}
	return inPath, nil
}

// GET /admin/v1/apps: every app; secrets are never shown.
func (api *API) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := api.admin.Apps(r.Context())
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Apps []appJSON `json:"apps"`
	}{Apps: []appJSON{}}
	for _, a := range apps {
		out.Apps = append(out.Apps, appOut(a))
	}
	reply(w, http.StatusOK, out)
}

// PUT /admin/v1/apps/{key}: creates or updates an app (an entry of the
// tenant file's apps). A secret generated for a new app without one is
// in the answer, once.
func (api *API) putApp(w http.ResponseWriter, r *http.Request) {
	var a tenant.App
	if err := decodeTenant(w, r, &a); err != nil {
		api.failErr(w, r, err)
		return
	}
	var err error
	if a.AppKey, err = pathKey("app_key", a.AppKey, r.PathValue("key")); err != nil {
		api.failErr(w, r, err)
		return
	}
	rep, err := api.apply(r, tenant.File{Apps: []tenant.App{a}})
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	stored, err := api.admin.Service().Store().App(r.Context(), a.AppKey)
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, struct {
		App    appJSON `json:"app"`
		Secret string  `json:"secret,omitempty"`
	}{appOut(stored), rep.Secrets[a.AppKey]})
}

// apply applies a piece of the tenant file.
func (api *API) apply(r *http.Request, f tenant.File) (points.ApplyReport, error) {
	t, err := f.Tenant()
	if err != nil {
		return points.ApplyReport{}, err
	}
	return api.admin.Apply(r.Context(), t)
}

// GET /admin/v1/brands: every brand with its settings.
func (api *API) listBrands(w http.ResponseWriter, r *http.Request) {
	bs, err := api.admin.Brands(r.Context())
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Brands []brandJSON `json:"brands"`
	}{Brands: []brandJSON{}}
	for _, b := range bs {
		if !principal(r).CanBrand(b.ID) {
			continue
		}
		out.Brands = append(out.Brands, brandOut(b))
	}
	reply(w, http.StatusOK, out)
}

func brandViewOut(v backoffice.BrandView) brandJSON {
	out := brandOut(v.Brand)
	out.Shops = shopsOut(v.Shops)
	if v.Rule != nil {
		out.Rule = ruleOut(*v.Rule)
	}
	return out
}

// GET /admin/v1/brands/{brand}: the brand with its shops and rule.
func (api *API) getBrand(w http.ResponseWriter, r *http.Request) {
	v, err := api.admin.Brand(r.Context(), r.PathValue("brand"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, brandViewOut(v))
}

// PUT /admin/v1/brands/{brand}: creates or updates a brand (an entry of
// the tenant file's brands: settings absent are the defaults; shops and a
// rule, when given, are created or updated too).
func (api *API) putBrand(w http.ResponseWriter, r *http.Request) {
	var b tenant.Brand
	if err := decodeTenant(w, r, &b); err != nil {
		api.failErr(w, r, err)
		return
	}
	var err error
	if b.BrandID, err = pathKey("brand_id", b.BrandID, r.PathValue("brand")); err != nil {
		api.failErr(w, r, err)
		return
	}
	if _, err := api.apply(r, tenant.File{Brands: []tenant.Brand{b}}); err != nil {
		api.failErr(w, r, err)
		return
	}
	api.getBrand(w, r)
}

// GET /admin/v1/brands/{brand}/shops
func (api *API) listShops(w http.ResponseWriter, r *http.Request) {
	v, err := api.admin.Brand(r.Context(), r.PathValue("brand"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, struct {
		Shops []shopJSON `json:"shops"`
	}{shopsOut(v.Shops)})
}

// existingBrand applies one piece of a brand (a shop, a rule) to the
// stored brand, leaving the rest of it as it is.
func (api *API) existingBrand(r *http.Request, piece tenant.Brand) error {
	v, err := api.admin.Brand(r.Context(), r.PathValue("brand"))
	if err != nil {
		return err
	}
	piece.BrandID = v.Brand.ID
	t, err := tenant.File{Brands: []tenant.Brand{piece}}.Tenant()
	if err != nil {
		return err
	}
	tb := t.Brands[0]
	tb.Brand = v.Brand
	_, err = api.admin.Apply(r.Context(), points.Tenant{Brands: []points.TenantBrand{tb}})
	return err
}

// PUT /admin/v1/brands/{brand}/shops/{shop}: creates or updates a shop
// (an entry of a brand's shops in the tenant file).
func (api *API) putShop(w http.ResponseWriter, r *http.Request) {
	var s tenant.Shop
	if err := decodeTenant(w, r, &s); err != nil {
		api.failErr(w, r, err)
		return
	}
	var err error
	if s.ShopID, err = pathKey("shop_id", s.ShopID, r.PathValue("shop")); err != nil {
		api.failErr(w, r, err)
		return
	}
	if sh, err := api.admin.Service().Store().Shop(r.Context(), s.ShopID); err == nil && sh.BrandID != strings.TrimSpace(r.PathValue("brand")) {
		api.failErr(w, r, ledger.Invalidf("shop_id", "门店 %s 属于品牌 %s", s.ShopID, sh.BrandID))
		return
	}
	if err := api.existingBrand(r, tenant.Brand{Shops: []tenant.Shop{s}}); err != nil {
		api.failErr(w, r, err)
		return
	}
	api.listShops(w, r)
}

// GET /admin/v1/brands/{brand}/rule: the rule in force.
func (api *API) getRule(w http.ResponseWriter, r *http.Request) {
	v, err := api.admin.Brand(r.Context(), r.PathValue("brand"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	if v.Rule == nil {
		api.failErr(w, r, &ledger.Error{Kind: ledger.KindBusiness, Code: ledger.CodeRuleNotFound,
			Message: "brand " + v.Brand.ID + " has no rule: points never expire and deductions are not limited"})
		return
	}
	reply(w, http.StatusOK, ruleOut(*v.Rule))
}

// PUT /admin/v1/brands/{brand}/rule: a new rule version (the tenant
// file's rule of a brand), unless it equals the one in force.
func (api *API) putRule(w http.ResponseWriter, r *http.Request) {
	var rule tenant.Rule
	if err := decodeTenant(w, r, &rule); err != nil {
		api.failErr(w, r, err)
		return
	}
	if err := api.existingBrand(r, tenant.Brand{Rule: &rule}); err != nil {
		api.failErr(w, r, err)
		return
	}
	api.getRule(w, r)
}

// POST /admin/v1/tenant: a whole tenant file (YAML or JSON), applied as
// `jifen apply` applies it, in one transaction.
func (api *API) applyTenant(w http.ResponseWriter, r *http.Request) {
	var f tenant.File
	if err := decodeTenant(w, r, &f); err != nil {
		api.failErr(w, r, err)
		return
	}
	rep, err := api.apply(r, f)
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, struct {
		Apps           int               `json:"apps"`
		Brands         int               `json:"brands"`
		Shops          int               `json:"shops"`
		Customers      int               `json:"customers"`
		Rules          int               `json:"rules"`
		Webhooks       int               `json:"webhooks"`
		Secrets        map[string]string `json:"secrets"`
		WebhookSecrets map[string]string `json:"webhook_secrets"`
	}{rep.Apps, rep.Brands, rep.Shops, rep.Customers, rep.Rules, rep.Webhooks, rep.Secrets, rep.WebhookSecrets})
}
