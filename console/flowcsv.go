package console

import (
	"encoding/csv"
	"net/http"
	"strconv"

	"jifen/admin"
	"jifen/backoffice"
	"jifen/ledger"
)

// The console's flow export is for people: Chinese column headers, times
// in Beijing time, and each flow's member by name and mobile. (The admin
// API's export, admin.WriteFlowsCSV, keeps the wire names for programs.)

var csvHeaders = []string{"时间", "顾客姓名", "手机号", "顾客编号", "类型", "变动积分", "变动后余额", "冻结变动", "欠分变动",
	"订单号", "退单号", "门店", "渠道", "操作员", "原因", "过期积分退回方式", "规则版本", "流水号"}

// csvBatch is how many flows are written per lookup of their members.
const csvBatch = 500

// writeFlowsCSV answers every flow matching f, a filter checked
// already, as a CSV download (UTF-8 with a byte order mark, for
// spreadsheet programs); a failure once the answer has begun cuts it
// short.
func (c *Console) writeFlowsCSV(w http.ResponseWriter, r *http.Request, f backoffice.FlowFilter) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+admin.CSVFileName(f.BrandID)+`"`)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	cw.Write(csvHeaders)
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	cell := admin.CSVCell
	var batch []ledger.Flow
	flush := func() error {
		names, err := c.admin.Customers(r.Context(), flowCustomers(batch))
		if err != nil {
			return err
		}
		for _, fl := range batch {
			m := names[fl.CustomerID]
			op := fl.OperatorName
			if op == "" {
				op = fl.OperatorID
			}
			policy := ""
			if fl.Policy != "" {
				policy = policyName(fl.Policy)
			}
			if err := cw.Write([]string{fmtTime(fl.CreatedAt), cell(m.Name), cell(m.Mobile), cell(fl.CustomerID),
				fl.Type.Description(), n(fl.ChangePoint()), n(fl.RemainPoint), n(fl.DeltaFrozen), n(fl.DeltaDebt),
				cell(fl.OutBizID), cell(fl.ReverseOrderID), cell(fl.ShopName), fl.Channel, cell(op), cell(fl.Reason), policy,
				n(fl.RuleVersion), fl.ID}); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	err := c.admin.EachFlow(r.Context(), f, func(fl ledger.Flow) error {
		batch = append(batch, fl)
		if len(batch) == csvBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	if err != nil {
		c.log.Error("console: flow export cut short", "brand_id", f.BrandID, "error", err)
		panic(http.ErrAbortHandler)
	}
}
