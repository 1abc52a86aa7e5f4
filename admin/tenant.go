package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"go.yaml.in/yaml/v3"

	"jifen/audit"
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
	// Checked before the key is looked up: PostgreSQL refuses a NUL or
	// bad UTF-8 in a query.
	if err := points.CheckText(field, inPath); err != nil {
		return "", err
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
	e := audit.Entry{Action: audit.AppPut, Target: r.PathValue("key")}
	var a tenant.App
	err := decodeTenant(w, r, &a)
	if err == nil {
		e.Request = audit.JSON(a)
		a.AppKey, err = pathKey("app_key", a.AppKey, r.PathValue("key"))
	}
	store := api.admin.Service().Store()
	if err == nil {
		var old ledger.App
		if old, err = store.App(r.Context(), a.AppKey); err == nil {
			e.Before = AuditApp(old)
		} else if errors.Is(err, points.ErrNotFound) {
			err = nil // a new app
		}
	}
	var rep points.ApplyReport
	if err == nil {
		rep, err = api.apply(r, tenant.File{Apps: []tenant.App{a}})
	}
	stored, readErr := store.App(r.Context(), a.AppKey)
	if err == nil && readErr == nil {
		e.After = AuditApp(stored)
	}
	if !api.audited(w, r, e, err) {
		return
	}
	if readErr != nil {
		api.failErr(w, r, readErr)
		return
	}
	reply(w, http.StatusOK, struct {
		App    appJSON `json:"app"`
		Secret string  `json:"secret,omitempty"`
	}{appOut(stored), rep.Secrets[a.AppKey]})
}

// POST /admin/v1/apps/{key}/rotate-secret: a new secret for the app,
// shown once; requests signed with the old one are refused from now on.
// The audit entry names the app, never a secret.
func (api *API) rotateAppSecret(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	secret, err := api.admin.RotateSecret(r.Context(), actor(r), key)
	if !api.audited(w, r, audit.Entry{Action: audit.AppSecretRotate, Target: key}, err) {
		return
	}
	reply(w, http.StatusOK, struct {
		Secret string `json:"secret"`
	}{secret})
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
	e := audit.Entry{Action: audit.BrandPut, BrandID: r.PathValue("brand"), Target: r.PathValue("brand")}
	var b tenant.Brand
	err := decodeTenant(w, r, &b)
	if err == nil {
		e.Request = audit.JSON(b)
		b.BrandID, err = pathKey("brand_id", b.BrandID, r.PathValue("brand"))
	}
	if err == nil {
		e.Before, err = api.brandState(r, true)
	}
	if err == nil {
		_, err = api.apply(r, tenant.File{Brands: []tenant.Brand{b}})
	}
	if err == nil {
		if after, aerr := api.brandState(r, false); aerr == nil {
			e.After = after
		}
	}
	if api.audited(w, r, e, err) {
		api.getBrand(w, r)
	}
}

// brandState is the brand of r's path as GET answers it, for an audit
// entry's Before or After; nil for a brand not stored. A failure to read
// it is an error before a change (the change would fail too) and, after
// one, is left to the answer, which reads the brand again.
func (api *API) brandState(r *http.Request, before bool) (json.RawMessage, error) {
	v, err := api.admin.Brand(r.Context(), r.PathValue("brand"))
	if before && ledger.IsCode(err, backoffice.CodeBrandNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return AuditBrand(v), nil
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
	e := audit.Entry{Action: audit.ShopPut, BrandID: r.PathValue("brand"), Target: r.PathValue("shop")}
	var s tenant.Shop
	err := decodeTenant(w, r, &s)
	if err == nil {
		e.Request = audit.JSON(s)
		s.ShopID, err = pathKey("shop_id", s.ShopID, r.PathValue("shop"))
	}
	if err == nil {
		if sh, serr := api.admin.Service().Store().Shop(r.Context(), s.ShopID); serr == nil {
			e.Before = AuditShop(sh)
			if sh.BrandID != strings.TrimSpace(r.PathValue("brand")) {
				err = ledger.Invalidf("shop_id", "门店 %s 属于品牌 %s", s.ShopID, sh.BrandID)
			}
		}
	}
	if err == nil {
		err = api.existingBrand(r, tenant.Brand{Shops: []tenant.Shop{s}})
	}
	if err == nil {
		if sh, serr := api.admin.Service().Store().Shop(r.Context(), s.ShopID); serr == nil {
			e.After = AuditShop(sh)
		}
	}
	if api.audited(w, r, e, err) {
		api.listShops(w, r)
	}
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
	e := audit.Entry{Action: audit.RulePut, BrandID: r.PathValue("brand"), Target: r.PathValue("brand")}
	var rule tenant.Rule
	err := decodeTenant(w, r, &rule)
	if err == nil {
		e.Request = audit.JSON(rule)
		e.Before = api.ruleState(r)
		err = api.existingBrand(r, tenant.Brand{Rule: &rule})
	}
	if err == nil {
		e.After = api.ruleState(r)
	}
	if api.audited(w, r, e, err) {
		api.getRule(w, r)
	}
}

// ruleState is the rule in force of r's brand as GET answers it, for an
// audit entry; nil when there is none, or it cannot be read (the change
// then fails, or its answer does, reading it again).
func (api *API) ruleState(r *http.Request) json.RawMessage {
	v, err := api.admin.Brand(r.Context(), r.PathValue("brand"))
	if err != nil || v.Rule == nil {
		return nil
	}
	return AuditRule(*v.Rule)
}

// POST /admin/v1/tenant: a whole tenant file (YAML or JSON), applied as
// `jifen apply` applies it, in one transaction.
func (api *API) applyTenant(w http.ResponseWriter, r *http.Request) {
	e := audit.Entry{Action: audit.TenantApply}
	var f tenant.File
	err := decodeTenant(w, r, &f)
	var rep points.ApplyReport
	if err == nil {
		rep, err = api.apply(r, f)
		e = TenantApplied(f, rep, err)
	}
	if !api.audited(w, r, e, err) {
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

// TenantApplied is the audit entry of the tenant file f applied, with
// the report and error Apply returned: the file as asked (its secrets,
// like every secret, are redacted when the entry is recorded) and, when
// it was applied, what was stored. The admin API (POST /admin/v1/tenant)
// and jifen apply record the same.
func TenantApplied(f tenant.File, rep points.ApplyReport, err error) audit.Entry {
	e := audit.Entry{Action: audit.TenantApply, Request: audit.JSON(f)}
	if err == nil {
		e.After = audit.JSON(map[string]int{"apps": rep.Apps, "brands": rep.Brands, "shops": rep.Shops,
			"customers": rep.Customers, "rules": rep.Rules, "webhooks": rep.Webhooks})
	}
	return e
}
