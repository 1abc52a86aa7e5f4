package tenant

import (
	"strings"
	"testing"
	"time"
)

func TestParseYuan(t *testing.T) {
	for in, want := range map[string]int64{"50": 5000, "12.5": 1250, "0.01": 1, "3.10": 310} {
		got, err := ParseYuan(in)
		if err != nil || got != want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.234", "abc", "1.", "1e3"} {
		if _, err := ParseYuan(bad); err == nil {
			t.Errorf("ParseYuan(%q) accepted", bad)
		}
	}
	if got := FormatYuan(1250); got != "12.5" {
		t.Errorf("FormatYuan(1250) = %q", got)
	}
}

func TestParse(t *testing.T) {
	f, err := Parse(strings.NewReader(`
brands:
  - brand_id: "12332"
    name: "b"
    settings: {refund_of_expired: forfeit, grace_days: 0, hold_timeout: 45m, expiry_reminders: [7, 1]}
    rule:
      name: "r"
      point_clear_rule: {point_clear_rule_type: YEAR_END, days: 1}
      point_deduction_rule:
        with_coupon: true
        member_point_deduction_rules:
          - {level_id: "", deducted_point: 100, consume_money: 0.5, enable: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := f.Tenant()
	if err != nil {
		t.Fatal(err)
	}
	b := tn.Brands[0]
	if b.Settings.RefundOfExpired != "forfeit" || b.Settings.GraceDays != 0 || b.Settings.HoldTimeout != 45*time.Minute ||
		len(b.Settings.ExpiryReminders) != 2 || b.Settings.ExpiryReminders[0] != 7 || b.Settings.ExpiryReminders[1] != 1 {
		t.Fatalf("settings %+v", b.Settings)
	}
	if b.Settings.ClawbackShortfall != "reject" {
		t.Fatalf("unset settings keep their defaults: %+v", b.Settings)
	}
	if r := b.Rule; r == nil || r.Clear.Type != "YEAR_END" || r.Deduction[0].ConsumeMoney != 50 {
		t.Fatalf("rule %+v", b.Rule)
	}
	if _, err := Parse(strings.NewReader("brands:\n  - brand_idd: x\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestTenant_BadSettings(t *testing.T) {
	for _, c := range []struct{ settings, field string }{
		{"{grace_days: 0}", "brands[0].settings.grace_days"},
		{"{refund_of_expired: grace, grace_days: -3}", "brands[0].settings.grace_days"},
		{"{hold_timeout: 0s}", "brands[0].settings.hold_timeout"},
	} {
		f, err := Parse(strings.NewReader("brands:\n  - brand_id: b1\n    name: b\n    settings: " + c.settings + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Tenant()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("settings %s: error %v, want one naming %s", c.settings, err, c.field)
		}
	}
}

func TestParse_Webhooks(t *testing.T) {
	f, err := Parse(strings.NewReader(`
webhooks:
  - webhook_id: "crm-sync"
    url: "https://crm.example.com/jifen/events"
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    brands: ["12332"]
    events: ["*"]
  - webhook_id: "bi"
    url: "https://bi.example.com/in"
    events: [point.flow.created, customer.created]
    disabled: true
`))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := f.Tenant()
	if err != nil {
		t.Fatal(err)
	}
	if len(tn.Webhooks) != 2 {
		t.Fatalf("webhooks %+v", tn.Webhooks)
	}
	a, b := tn.Webhooks[0], tn.Webhooks[1]
	if a.ID != "crm-sync" || a.URL != "https://crm.example.com/jifen/events" || a.Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" ||
		len(a.Brands) != 1 || a.Brands[0] != "12332" || len(a.Events) != 1 || a.Events[0] != "*" || a.Disabled {
		t.Fatalf("first %+v", a)
	}
	if b.Secret != "" || len(b.Brands) != 0 || len(b.Events) != 2 || !b.Disabled {
		t.Fatalf("second %+v", b)
	}
	if _, err := Parse(strings.NewReader("webhooks:\n  - webhook_id: x\n    uri: https://x\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("unknown key: %v", err)
	}
}
