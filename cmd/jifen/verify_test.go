package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"jifen/points"
)

// TestVerifyCommand_AuditEdited: `jifen verify` checks the audit log's
// chain: an entry edited with SQL behind jifen's back makes it exit 1,
// naming the entry, on both stores.
func TestVerifyCommand_AuditEdited(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			c := newCLIDB(t, newDB)
			// Three entries: two operators added around a refused release.
			for _, args := range [][]string{
				{"operator", "add", "--name", "甲", "--role", "viewer"},
				{"hold", "release", "--brand", "demo-brand", "--order", "none"},
				{"operator", "add", "--name", "乙", "--role", "viewer"},
			} {
				c.jifen(args...)
			}
			if n := len(c.auditLog()); n != 3 {
				t.Fatalf("%d audit entries, want 3", n)
			}
			out, err := c.jifen("verify")
			if err != nil || !strings.Contains(out, "3 audit entries") || !strings.Contains(out, "all invariants hold") {
				t.Fatalf("verify before the edit: %v\n%s", err, out)
			}

			execOn(t, kind, c.db)("UPDATE audit_log SET operator_name = '甲' WHERE seq = 2")
			out, err = c.jifen("verify")
			var ex exitError
			if !errors.As(err, &ex) || ex != 1 {
				t.Fatalf("verify after the edit: %v, want exit status 1\n%s", err, out)
			}
			if !strings.Contains(out, "VIOLATION") || !strings.Contains(out, "audit entry 2: its content does not match its hash") ||
				strings.Contains(out, "all invariants hold") {
				t.Fatalf("verify after the edit does not name entry 2:\n%s", out)
			}
		})
	}
}

// TestVerifyCommand_EventsEdited: `jifen verify` checks the event log
// against the flows (rule 7), on both stores: an event that misstates its
// flow, or the account's balances after its last flow, a flow whose event
// is gone and an event whose flow is not stored each make it exit 1,
// naming them.
func TestVerifyCommand_EventsEdited(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			c := newCLIDB(t, newDB)
			app, err := c.store.App(t.Context(), c.demo.appKey)
			if err != nil {
				t.Fatal(err)
			}
			var flows []string
			for i, n := range []int64{11, 12, 13} {
				out, err := c.svc.ExtraCharge(t.Context(), points.Caller{App: app}, points.OrderRequest{
					Target:     points.Target{BrandID: "demo-brand", ShopID: "demo-shop-1", Channel: "KRY"},
					CustomerID: "demo-c1", Points: n, OutBizID: fmt.Sprintf("v-%d", i), RequestID: fmt.Sprintf("v-%d", i),
					OperatorID: "op1", OperatorName: "小王"})
				if err != nil {
					t.Fatal(err)
				}
				flows = append(flows, out.FlowID)
			}
			verify := func(want ...string) {
				t.Helper()
				out, err := c.jifen("verify")
				if len(want) == 0 {
					if err != nil || !strings.Contains(out, "all invariants hold") || !strings.Contains(out, "6 flow events") {
						t.Fatalf("verify: %v\n%s", err, out)
					}
					return
				}
				var ex exitError
				if !errors.As(err, &ex) || ex != 1 {
					t.Fatalf("verify: %v, want exit status 1\n%s", err, out)
				}
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Fatalf("verify does not say %q:\n%s", w, out)
					}
				}
			}
			verify()
			exec := execOn(t, kind, c.db)
			exec(fmt.Sprintf(`UPDATE events SET data = replace(data, '"change_point":12', '"change_point":21') WHERE event_id = '%s'`, flows[1]))
			verify("VIOLATION §9.7 flow demo-brand/"+flows[1]+": its event at position", "change 21", "change 12")
			exec(fmt.Sprintf(`UPDATE events SET data = replace(data, '"change_point":21', '"change_point":12') WHERE event_id = '%s'`, flows[1]))
			verify()
			exec(fmt.Sprintf(`UPDATE events SET data = replace(data, '"available_point":', '"available_point":1') WHERE event_id = '%s'`, flows[2]))
			verify("flow demo-brand/" + flows[2] + ": the event of the account's last flow")
			exec(fmt.Sprintf(`UPDATE events SET data = replace(data, '"available_point":1', '"available_point":') WHERE event_id = '%s'`, flows[2]))
			verify()
			exec(fmt.Sprintf(`UPDATE events SET event_id = 'ghost' WHERE event_id = '%s'`, flows[1]))
			verify("flow demo-brand/"+flows[1]+": no event, though an earlier flow", "event demo-brand/ghost: a point.flow.created event")
		})
	}
}
