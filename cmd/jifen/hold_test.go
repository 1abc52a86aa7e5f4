package main

import (
	"strings"
	"testing"

	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
)

// TestHoldReleaseCommand: jifen hold release writes the release under the
// operator cli — the flow's operator id and name, and an audit entry, done
// or refused — and refuses --operator, a name typed on the command line,
// releasing nothing; no operator may take the name cli. On both stores.
func TestHoldReleaseCommand(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			c := newCLIDB(t, newDB)
			ctx := t.Context()
			app, err := c.store.App(ctx, c.demo.appKey)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.svc.Operate(ctx, points.Caller{App: app}, points.OperateRequest{
				Target: points.Target{BrandID: "demo-brand", ShopID: "demo-shop-1", Channel: "KRY"}, Type: points.OperateFreeze,
				Points: 80, OuterOrderID: "h-1", Customer: points.CustomerLookup{CustomerID: "demo-c1"}, OperatorID: "op1",
				RequestID: "h-1"}); err != nil {
				t.Fatal(err)
			}
			unfreezes := func() []ledger.Flow {
				t.Helper()
				fs, _, err := c.store.Flows(ctx, points.FlowQuery{BrandID: "demo-brand", CustomerID: "demo-c1"})
				if err != nil {
					t.Fatal(err)
				}
				var out []ledger.Flow
				for _, f := range fs {
					if f.Type == ledger.Unfreeze {
						out = append(out, f)
					}
				}
				return out
			}

			out, err := c.jifen("hold", "release", "--brand", "demo-brand", "--order", "h-1", "--operator", "张三")
			if err == nil || !strings.Contains(err.Error(), "--operator") {
				t.Fatalf("--operator: %v %s, want a refusal naming the flag", err, out)
			}
			if fs := unfreezes(); len(fs) != 0 {
				t.Fatalf("a refused command released the hold: %+v", fs)
			}

			if out, err := c.jifen("hold", "release", "--brand", "demo-brand", "--order", "h-1"); err != nil || !strings.Contains(out, "released") {
				t.Fatalf("hold release: %v %s", err, out)
			}
			fs := unfreezes()
			if len(fs) != 1 || fs[0].OperatorID != operator.CLIName || fs[0].OperatorName != operator.CLIName || fs[0].ChangePoint() != 80 {
				t.Fatalf("the release's flow: %+v, want one of 80 points by cli (cli)", fs)
			}
			if _, err := c.jifen("hold", "release", "--brand", "demo-brand", "--order", "h-1"); err == nil {
				t.Fatal("a hold released twice")
			}

			// The release's entry holds the hold before and after, as the
			// admin API's does.
			if es := c.auditLog(); len(es) < 1 || !strings.Contains(string(es[0].Before), `"remaining":80`) ||
				!strings.Contains(string(es[0].Before), `"status":"ACTIVE"`) || !strings.Contains(string(es[0].After), `"remaining":0`) ||
				!strings.Contains(string(es[0].After), `"status":"RELEASED"`) {
				t.Errorf("the release's entry: %+v", es)
			}
			var got []string
			for _, e := range c.auditLog() {
				got = append(got, strings.Join([]string{e.OperatorID, e.OperatorName, e.Action, e.BrandID, e.Target, e.Outcome}, " "))
			}
			want := []string{"cli cli hold.release demo-brand h-1 ok", "cli cli hold.release demo-brand h-1 " + ledger.CodeHoldNotFound}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			// Nobody signs in as cli.
			if out, err := c.jifen("operator", "add", "--name", "cli", "--role", "admin"); err == nil || !strings.Contains(err.Error(), "name") {
				t.Fatalf("an operator named cli: %v %s", err, out)
			}
			if es := c.auditLog(); es[len(es)-1].Action != audit.OperatorCreate || es[len(es)-1].Outcome != "INVALID_PARAMETER" {
				t.Fatalf("the refused operator's entry: %+v", es[len(es)-1])
			}
			if rep, err := points.Verify(ctx, c.store); err != nil || !rep.OK() {
				t.Fatalf("verify: %v %v", err, rep.Violations)
			}
		})
	}
}
