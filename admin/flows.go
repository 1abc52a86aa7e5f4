package admin

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
)

// ParseFlowFilter reads a flow filter from query parameters: brand_id
// (required), customer_id, shop_id, out_biz_id (a substring), type,
// channel, start, end, page_no, page_size. Times are RFC 3339, or
// "2006-01-02 15:04:05" or "2006-01-02" in Asia/Shanghai (a day as end
// means its end).
func ParseFlowFilter(q url.Values) (backoffice.FlowFilter, error) {
	f := backoffice.FlowFilter{BrandID: q.Get("brand_id"), CustomerID: q.Get("customer_id"), ShopID: q.Get("shop_id"),
		OutBizLike: q.Get("out_biz_id"), Type: q.Get("type"), Channel: q.Get("channel"), Operator: q.Get("operator")}
	var err error
	if f.Start, err = parseTime("start", q.Get("start"), false); err != nil {
		return f, err
	}
	if f.End, err = parseTime("end", q.Get("end"), true); err != nil {
		return f, err
	}
	if f.PageNo, err = intParam(q.Get("page_no"), "page_no"); err != nil {
		return f, err
	}
	f.PageSize, err = intParam(q.Get("page_size"), "page_size")
	return f, err
}

func parseTime(field, s string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateTime, s, ledger.Shanghai); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, ledger.Shanghai); err == nil {
		if end {
			t = t.AddDate(0, 0, 1).Add(-time.Microsecond)
		}
		return t, nil
	}
	return time.Time{}, ledger.Invalidf(field, "应为时间如 2026-03-01T10:00:00+08:00, 2026-03-01 10:00:00 或 2026-03-01, 收到 %q", s)
}

// GET /admin/v1/flows?brand_id=…&…: one page of flows across the brand's
// customers, newest first; with format=csv, every matching flow as CSV,
// an export recorded in the audit log, done or refused.
func (api *API) listFlows(w http.ResponseWriter, r *http.Request) {
	csvOut := r.URL.Query().Get("format") == "csv"
	f, err := ParseFlowFilter(r.URL.Query())
	if err == nil && strings.TrimSpace(f.BrandID) != "" {
		err = principal(r).NeedBrand(f.BrandID)
	}
	if csvOut {
		if err == nil {
			// A filter the flows refuse is an error answer, not a cut one.
			err = api.admin.CheckFlowFilter(r.Context(), f)
		}
		e := exportEntry(r, "flows", f.BrandID)
		if err != nil {
			api.audited(w, r, e, err)
			return
		}
		if !api.exporting(w, r, e, -1) {
			return
		}
		rows, err := WriteFlowsCSV(w, r, api.admin, f)
		api.cutShort(r, rows, err)
		return
	}
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	page, err := api.admin.Flows(r.Context(), f)
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, struct {
		Flows    []flowJSON `json:"flows"`
		PageNo   int64      `json:"page_no"`
		PageSize int64      `json:"page_size"`
		Total    int64      `json:"total"`
		HasNext  bool       `json:"has_next"`
	}{flowsOut(page.Flows), page.PageNo, page.PageSize, page.Total, page.HasNext()})
}

// csvColumns are the columns of a flow export.
var csvColumns = []string{"flow_id", "created_at", "brand_id", "customer_id", "seq", "biz_type", "biz_type_description",
	"change_point", "remain_point", "delta_frozen", "delta_debt", "out_biz_id", "reverse_order_id", "shop_id", "shop_name",
	"channel", "app_key", "request_id", "operator_id", "operator_name", "reason", "policy", "rule_version"}

// WriteFlowsCSV answers every flow matching f (paging ignored), newest
// first, as a CSV download: UTF-8 with a byte order mark, so that
// spreadsheet programs read the Chinese right, and returns the number of
// rows written. The answer has begun when it is called: its error can only
// cut the download short (API.cutShort).
func WriteFlowsCSV(w http.ResponseWriter, r *http.Request, a *backoffice.Office, f backoffice.FlowFilter) (int, error) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+CSVFileName(f.BrandID)+`"`)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	cw.Write(csvColumns)
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	rows := 0
	err := a.EachFlow(r.Context(), f, func(fl ledger.Flow) error {
		rec := []string{fl.ID, ts(fl.CreatedAt), fl.BrandID, fl.CustomerID, n(fl.Seq), string(fl.Type), fl.Type.Description(),
			n(fl.ChangePoint()), n(fl.RemainPoint), n(fl.DeltaFrozen), n(fl.DeltaDebt), cell(fl.OutBizID), cell(fl.ReverseOrderID),
			cell(fl.ShopID), cell(fl.ShopName), fl.Channel, cell(fl.AppKey), cell(fl.RequestID), cell(fl.OperatorID),
			cell(fl.OperatorName), cell(fl.Reason), fl.Policy, n(fl.RuleVersion)}
		if err := cw.Write(rec); err != nil {
			return err
		}
		rows++
		return nil
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return rows, err
}

// cell keeps a text cell from being read as a formula by spreadsheet
// programs (CSV injection): one starting with = + - @ or a control
// character gets a leading apostrophe.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// safeName keeps letters, digits, '-' and '_' of s for a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, s)
}

// CSVCell is a text cell of a CSV export, kept from being read as a
// formula (cell): the console's export writes its cells with it too.
func CSVCell(s string) string { return cell(s) }

// CSVFileName is the download name of a brand's flow export.
func CSVFileName(brandID string) string {
	return fmt.Sprintf("jifen-flows-%s-%s.csv", safeName(brandID), time.Now().In(ledger.Shanghai).Format("20060102-150405"))
}
