package admin

import (
	"encoding/csv"
	"net/http"
	"strconv"

	"jifen/backoffice"
)

type dayJSON struct {
	Day          string `json:"day"`
	ShopID       string `json:"shop_id,omitempty"`
	ShopName     string `json:"shop_name,omitempty"`
	Issued       int64  `json:"issued"`
	Spent        int64  `json:"spent"`
	Reversed     int64  `json:"reversed"`
	ClawedBack   int64  `json:"clawed_back"`
	Expired      int64  `json:"expired"`
	Adjusted     int64  `json:"adjusted"`
	DebtRepaid   int64  `json:"debt_repaid"`
	Flows        int64  `json:"flows"`
	Liability    *int64 `json:"liability,omitempty"`
	LiabilityFen *int64 `json:"liability_fen,omitempty"`
	// LiabilityFenCapped: the value does not fit in int64 fen and
	// liability_fen is the largest int64 instead.
	LiabilityFenCapped bool `json:"liability_fen_capped,omitempty"`
}

func dayOut(d backoffice.DayTotal) dayJSON {
	return dayJSON{Day: d.Day, Issued: d.Issued, Spent: d.Spent, Reversed: d.Reversed, ClawedBack: d.ClawedBack,
		Expired: d.Expired, Adjusted: d.Adjusted, DebtRepaid: d.DebtRepaid, Flows: d.Flows}
}

// GET /admin/v1/brands/{brand}/totals[?from=2026-03-01&to=2026-03-30][&format=csv]:
// issued, spent, reversed, clawed back, expired, adjusted per day and per
// day and shop, with the outstanding liability at the end of each day in
// points and in fen under the brand's default deduction rule. A CSV
// download is an export, recorded in the audit log, done or refused.
func (api *API) totals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	csvOut := q.Get("format") == "csv"
	t, err := api.admin.DailyTotals(r.Context(), r.PathValue("brand"), q.Get("from"), q.Get("to"))
	if err != nil && csvOut {
		api.audited(w, r, exportEntry(r, "totals", r.PathValue("brand")), err)
		return
	}
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		BrandID       string    `json:"brand_id"`
		TimeZone      string    `json:"time_zone"`
		From          string    `json:"from"`
		To            string    `json:"to"`
		Available     int64     `json:"available"`
		Frozen        int64     `json:"frozen"`
		Debt          int64     `json:"debt"`
		Liability     int64     `json:"liability"`
		LiabilityFen  int64     `json:"liability_fen"`
		FenCapped     bool      `json:"liability_fen_capped,omitempty"`
		Valued        bool      `json:"valued"`
		DeductedPoint int64     `json:"deducted_point,omitempty"`
		ConsumeMoney  int64     `json:"consume_money_fen,omitempty"`
		Days          []dayJSON `json:"days"`
		Shops         []dayJSON `json:"shops"`
	}{BrandID: t.Brand.ID, TimeZone: t.Brand.Location().String(), From: t.From, To: t.To, Available: t.Available,
		Frozen: t.Frozen, Debt: t.Debt, Liability: t.Liability, LiabilityFen: t.LiabilityFen, FenCapped: t.LiabilityFenCapped, Valued: t.Valued,
		DeductedPoint: t.DeductedPoint, ConsumeMoney: t.ConsumeMoney, Days: []dayJSON{}, Shops: []dayJSON{}}
	for _, d := range t.Days {
		dj := dayOut(d)
		dj.Liability, dj.LiabilityFen, dj.LiabilityFenCapped = &d.Liability, &d.LiabilityFen, d.LiabilityFenCapped
		out.Days = append(out.Days, dj)
	}
	for _, s := range t.Shops {
		dj := dayOut(s.DayTotal)
		dj.ShopID, dj.ShopName = s.ShopID, s.ShopName
		out.Shops = append(out.Shops, dj)
	}
	if !csvOut {
		reply(w, http.StatusOK, out)
		return
	}
	if !api.exporting(w, r, exportEntry(r, "totals", t.Brand.ID), len(out.Days)+len(out.Shops)) {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="jifen-totals-`+safeName(t.Brand.ID)+"-"+t.From+"-"+t.To+`.csv"`)
	w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	cw.Write([]string{"day", "shop_id", "shop_name", "issued", "spent", "reversed", "clawed_back", "expired", "adjusted",
		"debt_repaid", "flows", "liability", "liability_fen", "liability_fen_capped"})
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	row := func(d dayJSON) {
		l, lf, capped := "", "", ""
		if d.Liability != nil {
			l, lf = n(*d.Liability), n(*d.LiabilityFen)
		}
		if d.LiabilityFenCapped {
			capped = "true"
		}
		cw.Write([]string{d.Day, cell(d.ShopID), cell(d.ShopName), n(d.Issued), n(d.Spent), n(d.Reversed), n(d.ClawedBack),
			n(d.Expired), n(d.Adjusted), n(d.DebtRepaid), n(d.Flows), l, lf, capped})
	}
	for _, d := range out.Days {
		row(d)
	}
	for _, d := range out.Shops {
		row(d)
	}
	cw.Flush()
	api.cutShort(r, len(out.Days)+len(out.Shops), cw.Error())
}
