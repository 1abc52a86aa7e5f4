package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"jifen/backoffice"
	"jifen/dump"
	"jifen/ledger"
	"jifen/points"
)

// UpgradeFixture reads a file of testdata/upgrade, the databases and
// dumps the release before the lean layout wrote (see make-fixtures
// there).
func UpgradeFixture(t testing.TB, name string) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "testdata", "upgrade", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// DumpStore is a store that can be exported and imported.
type DumpStore interface {
	Store
	dump.Source
	dump.Target
}

// CheckUpgraded checks a store opened (and migrated) on a database the
// older release wrote, against that release's version-1 export of it:
// every row is still there as it was (the export is the same but for the
// dump's version, the brand each idempotency record is now keyed under
// and the audit log's count, 0), every invariant holds, stored refunds and requests answer as
// before, and the store takes new writes.
func CheckUpgraded(t *testing.T, st DumpStore, v1 []byte) {
	t.Helper()
	ctx := t.Context()
	var got bytes.Buffer
	if _, err := dump.Export(ctx, st, &got); err != nil {
		t.Fatalf("export: %v", err)
	}
	SameDump(t, got.Bytes(), v1)
	rep, err := points.Verify(ctx, st)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, v := range rep.Violations {
		t.Errorf("invariant broken after the upgrade: %s", v)
	}
	if rep.Flows == 0 || rep.Idempotency == 0 {
		t.Fatalf("verify saw %d flows, %d idempotency records: the fixture is empty?", rep.Flows, rep.Idempotency)
	}

	svc := points.New(st, nil, nil)
	app, err := st.App(ctx, "fx-pos")
	if err != nil {
		t.Fatal(err)
	}
	caller := points.Caller{App: app}
	target := points.Target{OutBrandID: "kry-fx", OutShopID: "kry-fx-1", Channel: "KRY"}
	// The refund r1-fx-c1 again under a new request id: replayed by its
	// name, with the flow the old release answered.
	var stored ledger.Reversal
	if err := st.EachReversal(ctx, func(r ledger.Reversal) error {
		if r.ReverseOrderID == "r1-fx-c1" {
			stored = r
		}
		return nil
	}); err != nil || stored.FlowID == "" {
		t.Fatalf("reversal r1-fx-c1 = %+v, %v", stored, err)
	}
	forty := int64(40)
	out, err := svc.Reverse(ctx, caller, points.ReverseRequest{Target: target, Type: ledger.DeductReverse, Points: &forty,
		OutBizID: "o-fx-c1", ReverseOrderID: "r1-fx-c1", OperatorID: "op1", OperatorName: "小王", RequestID: "again-r1"})
	if err != nil || !out.Replayed || out.FlowID != stored.FlowID {
		t.Errorf("refund r1-fx-c1 again = %+v, %v; want a replay of flow %s", out, err, stored.FlowID)
	}
	// The adjustment adj-1 again: an operator's write the old release
	// stored replays, with its flow — the method and fingerprint it was
	// recorded under are still what an adjustment is keyed by.
	var adj ledger.Idempotency
	if err := st.EachIdempotency(ctx, func(r ledger.Idempotency) error {
		if r.AppKey == points.AdminAppKey && r.RequestID == "adj-1" {
			adj = r
		}
		return nil
	}); err != nil || adj.FlowID == "" {
		t.Fatalf("adjustment adj-1 = %+v, %v", adj, err)
	}
	out, err = backoffice.New(svc, st).Adjust(ctx, points.Actor{Name: "小李"}, points.AdjustRequest{CustomerID: "fx-c2", Points: 25, Reason: "补偿",
		RequestID: "adj-1"})
	if err != nil || !out.Replayed || out.FlowID != adj.FlowID {
		t.Errorf("adjustment adj-1 again = %+v, %v; want a replay of flow %s", out, err, adj.FlowID)
	}
	// The request r1-fx-c1 is found under the brand it acted for.
	err = st.Write(ctx, func(tx points.Tx) error {
		f, err := tx.Lookup(ctx, points.Lookup{BrandID: "fx-brand", AppKey: "fx-pos", RequestID: "r1-fx-c1"})
		if err != nil {
			return err
		}
		if f.Idempotency == nil || f.Idempotency.FlowID != stored.FlowID {
			return fmt.Errorf("request r1-fx-c1 of fx-brand: %+v, want flow %s", f.Idempotency, stored.FlowID)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// New writes on the upgraded ledger.
	if _, err := svc.ExtraCharge(ctx, caller, points.OrderRequest{Target: target, CustomerID: "fx-c1", Points: 70,
		OutBizID: "after-upgrade", OperatorID: "op1", RequestID: "after-upgrade"}); err != nil {
		t.Fatalf("charge after the upgrade: %v", err)
	}
	if _, err := svc.Consume(ctx, caller, points.OrderRequest{Target: target, CustomerID: "fx-c1", Points: 30,
		OutBizID: "after-upgrade-pay", OperatorID: "op1", RequestID: "after-upgrade-pay"}); err != nil {
		t.Fatalf("payment after the upgrade: %v", err)
	}
	if rep, err := points.Verify(ctx, st); err != nil || !rep.OK() {
		t.Errorf("verify after new writes: %+v, %v", rep.Violations, err)
	}
}

// SameDump compares two dumps record by record, but for the header's
// version and idempotency records' brand_id, which version 1 lacks; got's
// idempotency records must each have a brand.
func SameDump(t testing.TB, got, want []byte) {
	t.Helper()
	g, w := normalDump(t, got, true), normalDump(t, want, false)
	if len(g) != len(w) {
		t.Errorf("dump has %d records, want %d", len(g), len(w))
	}
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Errorf("dump record %d:\n got %s\nwant %s", i+1, g[i], w[i])
			return
		}
	}
}

func normalDump(t testing.TB, b []byte, branded bool) []string {
	t.Helper()
	var out []string
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("dump line %d: %v", i+1, err)
		}
		if i == 0 {
			delete(m, "version")
		}
		if m["kind"] == "idempotency" {
			if branded && m["brand_id"] == "" || branded && m["brand_id"] == nil {
				t.Errorf("idempotency record without a brand: %s", line)
			}
			delete(m, "brand_id")
		}
		// An older release's end record has no count of what later
		// releases added (the audit log; operators, their tokens,
		// webhooks; events); an upgraded store has none of them yet.
		if counts, ok := m["counts"].(map[string]any); ok && m["kind"] == "end" {
			for _, k := range []string{"audit", "operators", "operator_tokens", "webhooks", "events", "approvals"} {
				if counts[k] == 0.0 {
					delete(counts, k)
				}
			}
		}
		n, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(n))
	}
	return out
}

// CheckV1Import imports a version-1 dump into the empty store st and
// checks it is all there, idempotency records keyed under their brands.
func CheckV1Import(t *testing.T, st DumpStore, v1 []byte) {
	t.Helper()
	if _, err := dump.Import(t.Context(), st, bytes.NewReader(v1)); err != nil {
		t.Fatalf("import of a version-1 dump: %v", err)
	}
	CheckUpgraded(t, st, v1)
}
