package backoffice

import (
	"context"
	"errors"
	"slices"
	"strings"

	"jifen/ledger"
	"jifen/points"
)

// Tenant writes in an operator's name: a brand's settings, a shop, an
// app and its secret, a rule version. Each is a piece of the tenant file
// applied as `jifen apply` and the admin API apply it (points.Service.Apply:
// the same validation, one transaction).

// Customers reads the customers of ids (those that exist) by id: the
// names and mobiles shown wherever an operator sees a customer.
func (o *Office) Customers(ctx context.Context, ids []string) (map[string]ledger.Customer, error) {
	seen := map[string]bool{}
	var uniq []string
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	out := make(map[string]ledger.Customer, len(uniq))
	for len(uniq) > 0 {
		n := min(len(uniq), 500) // bounded statements, whatever the page
		cs, err := o.read.CustomersByID(ctx, uniq[:n])
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out[c.ID] = c
		}
		uniq = uniq[n:]
	}
	return out, nil
}

// MaxRuleVersions bounds the rule versions one history shows.
const MaxRuleVersions = 100

// RuleVersions lists the brand's latest rule versions, newest first.
func (o *Office) RuleVersions(ctx context.Context, brandID string) ([]ledger.Rule, error) {
	b, err := o.brandOf(ctx, brandID)
	if err != nil {
		return nil, err
	}
	return o.read.RuleVersions(ctx, b.ID, MaxRuleVersions)
}

// storedBrand reads a brand from the store (not the cache): a piece of it
// written in an operator's name keeps the rest as stored now.
func (o *Office) storedBrand(ctx context.Context, id string) (ledger.Brand, error) {
	if err := points.Required("brand_id", id); err != nil {
		return ledger.Brand{}, err
	}
	id = strings.TrimSpace(id)
	b, err := o.read.Brand(ReadPrimary(ctx), id)
	if errors.Is(err, points.ErrNotFound) {
		return b, notFoundErr(CodeBrandNotFound, "品牌不存在: %s", id)
	}
	return b, err
}

// PutBrand updates an existing brand's name, time zone, external ids and
// settings, leaving its shops and rule as they are.
func (o *Office) PutBrand(ctx context.Context, by points.Actor, b ledger.Brand) error {
	if err := points.CheckOperator(by.Name); err != nil {
		return err
	}
	stored, err := o.storedBrand(ctx, b.ID)
	if err != nil {
		return err
	}
	b.ID = stored.ID
	_, err = o.svc.Apply(ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b}}})
	return err
}

// PutShop creates or updates a shop of an existing brand. A shop id that
// belongs to another brand is refused.
func (o *Office) PutShop(ctx context.Context, by points.Actor, brandID string, sh ledger.Shop) error {
	if err := points.CheckOperator(by.Name); err != nil {
		return err
	}
	b, err := o.storedBrand(ctx, brandID)
	if err != nil {
		return err
	}
	if err := points.Required("shop_id", sh.ID); err != nil {
		return err
	}
	if old, err := o.svc.Store().Shop(ctx, strings.TrimSpace(sh.ID)); err == nil && old.BrandID != b.ID {
		return ledger.Invalidf("shop_id", "门店 %s 属于品牌 %s", sh.ID, old.BrandID)
	} else if err != nil && !errors.Is(err, points.ErrNotFound) {
		return err
	}
	sh.BrandID = b.ID
	_, err = o.svc.Apply(ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b, Shops: []ledger.Shop{sh}}}})
	return err
}

// PutRule stores r as the brand's new rule version in the operator's
// name, unless it equals the one in force; changed says whether it did.
func (o *Office) PutRule(ctx context.Context, by points.Actor, brandID string, r ledger.Rule) (changed bool, err error) {
	if err := points.CheckOperator(by.Name); err != nil {
		return false, err
	}
	b, err := o.storedBrand(ctx, brandID)
	if err != nil {
		return false, err
	}
	r.UpdatedBy = by.Name
	if cur, err := o.read.Rule(ReadPrimary(ctx), b.ID); err == nil {
		r.CreatedBy = cur.CreatedBy
	} else if errors.Is(err, points.ErrNotFound) {
		r.CreatedBy = by.Name
	} else {
		return false, err
	}
	rep, err := o.svc.Apply(ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: b, Rule: &r}}})
	return rep.Rules > 0, err
}

// RulePreview is what point.cal answers under a rule for sample amounts,
// level by level: the gateway's own arithmetic (ledger.Rule.Calculate).
type RulePreview struct {
	Amounts []int64 // points asked for
	Levels  []LevelPreview
}

// LevelPreview is one level's answers, one per amount.
type LevelPreview struct {
	LevelID string // "" the brand default
	Rule    ledger.DeductionRule
	Has     bool // the level has a usable rule (its own or the default)
	Results []ledger.Deduction
}

// PreviewRule checks r as a save would and computes point.cal for each
// level it names (the default first) and each amount. Nothing is written.
func PreviewRule(r ledger.Rule, amounts []int64) (RulePreview, error) {
	if err := points.ValidateRule("rule", r); err != nil {
		return RulePreview{}, err
	}
	p := RulePreview{Amounts: amounts}
	levels := []string{""}
	for _, d := range r.Deduction {
		if !d.Deleted && d.LevelID != "" && !slices.Contains(levels, d.LevelID) {
			levels = append(levels, d.LevelID)
		}
	}
	for _, level := range levels {
		lp := LevelPreview{LevelID: level}
		lp.Rule, lp.Has = r.DeductionFor(level)
		for _, a := range amounts {
			lp.Results = append(lp.Results, r.Calculate(level, a))
		}
		p.Levels = append(p.Levels, lp)
	}
	return p, nil
}

// PutApp creates or updates an app. A new app without a secret gets one,
// answered here once.
func (o *Office) PutApp(ctx context.Context, by points.Actor, a ledger.App) (secret string, err error) {
	if err := points.CheckOperator(by.Name); err != nil {
		return "", err
	}
	a.Secret = "" // kept, or made for a new app: never typed into a form
	rep, err := o.svc.Apply(ctx, points.Tenant{Apps: []ledger.App{a}})
	return rep.Secrets[a.Key], err
}

// RotateSecret gives the app a new secret, answered here once: requests
// signed with the old one are refused from now on.
func (o *Office) RotateSecret(ctx context.Context, by points.Actor, key string) (string, error) {
	if err := points.CheckOperator(by.Name); err != nil {
		return "", err
	}
	if err := points.Required("app_key", key); err != nil {
		return "", err
	}
	a, err := o.svc.Store().App(ctx, strings.TrimSpace(key))
	if errors.Is(err, points.ErrNotFound) {
		return "", notFoundErr(CodeAppNotFound, "应用不存在: %s", key)
	}
	if err != nil {
		return "", err
	}
	a.Secret = points.NewSecret()
	if _, err := o.svc.Apply(ctx, points.Tenant{Apps: []ledger.App{a}}); err != nil {
		return "", err
	}
	return a.Secret, nil
}

// AdjustPreview is what an adjustment would do, decided by the write's
// own code and rolled back (points.Service.PreviewAdjust).
type AdjustPreview struct {
	Customer ledger.Customer
	Before   ledger.Account // the account as the decision read it
	After    ledger.Account // as the adjustment would leave it
	Flow     ledger.Flow    // the ADJUST flow it would write
}

// PreviewAdjust shows what an adjustment in the operator's name would do,
// writing nothing.
func (o *Office) PreviewAdjust(ctx context.Context, by points.Actor, r points.AdjustRequest) (AdjustPreview, error) {
	var p AdjustPreview
	d, err := o.svc.PreviewAdjust(ctx, points.OperatorCaller(by), r)
	if err != nil {
		return p, err
	}
	if p.Customer, err = o.read.Customer(ReadPrimary(ctx), strings.TrimSpace(r.CustomerID)); err != nil {
		return p, err
	}
	p.Before, p.After = d.Snapshot.Account, d.Changes.Account
	for _, f := range d.Changes.Flows {
		if f.ID == d.Outcome.FlowID {
			p.Flow = f
		}
	}
	return p, nil
}
