package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"jifen/ledger"
)

// The dashboard draws every kind of movement with its value, labels
// today, lists only days with flows and exports its table.
func TestConsole_DashboardMovements(t *testing.T) {
	e := newConsoleEnv(t)
	csrf := e.signIn()
	e.MustCharge("C1", "g1", 100)
	e.Clock.Advance(48 * time.Hour)
	rr := e.Reverse("g1", "r1", nil)
	rr.Type = ledger.ExtraChargeReverse
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, rr); err != nil { // claws back the 100
		t.Fatal(err)
	}
	e.post("/console/customers/C2/adjust", url.Values{"csrf": {csrf}, "points": {"12"}, "reason": {"补偿"}, "request_id": {"a1"},
		"confirm": {"1"}}).want(t, http.StatusSeeOther)
	r := e.get("/console/brands/B1").want(t, http.StatusOK, `class="bar clawed"`, `class="bar adjusted"`, `class="bar issued"`,
		`rotate(-90)">100</text>`, `rotate(-90)">12</text>`, `class="xlabel today"`, ">今天</text>", "收回", "调整")
	days := regexp.MustCompile(`(?s)<table id="days">.*?</table>`).FindString(r.body)
	if n := strings.Count(days, "<tr><td>"); n != 2 {
		t.Fatalf("%d day rows, want the 2 days with flows:\n%s", n, days)
	}
	if strings.Contains(days, "2026-03-02") {
		t.Fatalf("an empty day is listed:\n%s", days)
	}
	link := regexp.MustCompile(`id="totals-csv" href="([^"]+)"`).FindStringSubmatch(r.body)
	if link == nil {
		t.Fatal("no CSV link")
	}
	csv := e.get(strings.ReplaceAll(link[1], "&amp;", "&"))
	if csv.status != http.StatusOK || !strings.HasPrefix(csv.body, "\ufeff日期,门店,发放,") ||
		!strings.Contains(csv.body, "2026-03-01,全部门店,100,") || !strings.Contains(csv.body, "2026-03-03,全部门店,0,0,0,100,0,12,") {
		t.Fatalf("totals CSV %d:\n%s", csv.status, csv.body)
	}
}
