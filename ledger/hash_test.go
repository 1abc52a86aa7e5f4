package ledger

import (
	"strings"
	"testing"
	"time"
)

func hashedFlow() Flow {
	f := Flow{ID: "f1", BrandID: "B1", CustomerID: "C1", Seq: 1, Type: ExtraCharge, Amount: 100, DeltaAvailable: 100,
		RemainPoint: 100, OutBizID: "o1", ShopID: "S1", ShopName: "一号店", Channel: "KRY", AppKey: "pos",
		RequestID: "r1", OperatorID: "op1", OperatorName: "小王", Reason: "", RuleVersion: 3,
		CreatedAt: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	f.Hash = FlowHash(f)
	return f
}

// Every stored field of a flow is covered by its hash.
func TestFlowHash_CoversEveryStoredField(t *testing.T) {
	for name, edit := range map[string]func(*Flow){
		"amount":        func(f *Flow) { f.Amount = 99 },
		"shop_name":     func(f *Flow) { f.ShopName = "二号店" },
		"channel":       func(f *Flow) { f.Channel = "CS" },
		"operator_name": func(f *Flow) { f.OperatorName = "小李" },
		"rule_version":  func(f *Flow) { f.RuleVersion = 4 },
		"reason":        func(f *Flow) { f.Reason = "x" },
		"created_at":    func(f *Flow) { f.CreatedAt = f.CreatedAt.Add(time.Microsecond) },
	} {
		f := hashedFlow()
		if !HashMatches(f) {
			t.Fatal("a fresh flow does not match its hash")
		}
		edit(&f)
		if HashMatches(f) {
			t.Errorf("changing %s goes unnoticed", name)
		}
	}
}

// Hashes written before version 2 (no prefix) still verify, over the
// fields version 1 covered.
func TestFlowHash_Version1StillVerifies(t *testing.T) {
	f := hashedFlow()
	// What the version-1 code stored for this flow.
	f.Hash = "564f1738e3ff6120b42cce992281eda5d8727438567b89d03121afdb33437ec5"
	if strings.HasPrefix(f.Hash, hashV2) || !HashMatches(f) {
		t.Fatalf("a version-1 hash %q does not verify", f.Hash)
	}
	f.Amount = 99
	if HashMatches(f) {
		t.Error("changing the amount of a version-1 flow goes unnoticed")
	}
}
