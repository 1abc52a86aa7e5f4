package points

import (
	"context"
	"fmt"

	"jifen/audit"
	"jifen/ledger"
)

// VerifyReport is the outcome of checking every invariant.
type VerifyReport struct {
	Accounts    int
	Flows       int
	Lots        int
	Idempotency int
	Reversals   int
	Audit       int64 // audit log entries
	Violations  []ledger.Violation
}

// OK reports whether no invariant is broken.
func (r VerifyReport) OK() bool { return len(r.Violations) == 0 }

// maxViolations bounds the report of a badly broken database.
const maxViolations = 1000

// Verify checks every invariant of the ledger rules §9 over the whole
// database: each account (balances, chain, hashes, lots, orders), each
// idempotency record (its flow exists; no key wrote two flows) and each
// reversal (its flow exists); and the operators' audit log's hash chain,
// reporting its first broken entry.
func Verify(ctx context.Context, a Auditor) (VerifyReport, error) {
	var rep VerifyReport
	add := func(v ...ledger.Violation) {
		if len(rep.Violations) < maxViolations {
			rep.Violations = append(rep.Violations, v...)
		}
	}
	// An idempotency key is unique within its brand (every ledger key
	// leads with brand_id: a brand's rows are one shard's).
	type key struct{ brand, app, req string }
	primary := map[key]string{}
	err := a.EachAccount(ctx, func(r AccountRows) error {
		rep.Accounts++
		rep.Flows += len(r.Flows)
		rep.Lots += len(r.Lots)
		add(ledger.CheckAccount(r.Account, r.Lots, r.Flows, r.Allocations, r.Holds, r.Orders)...)
		for _, f := range r.Flows {
			if f.RequestID == "" || f.Type == ledger.Expire || f.Type == ledger.DebtRepay || f.Type == ledger.Unfreeze {
				continue
			}
			k := key{f.BrandID, f.AppKey, f.RequestID}
			if other, dup := primary[k]; dup {
				add(ledger.Violation{Rule: 5, Subject: "request " + f.BrandID + "/" + f.AppKey + "/" + f.RequestID,
					Detail: fmt.Sprintf("two flows for one idempotency key: %s and %s", other, f.ID)})
			}
			primary[k] = f.ID
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	err = a.EachIdempotency(ctx, func(ledger.Idempotency) error { rep.Idempotency++; return nil })
	if err != nil {
		return rep, err
	}
	err = a.EachReversal(ctx, func(ledger.Reversal) error { rep.Reversals++; return nil })
	if err != nil {
		return rep, err
	}
	err = a.EachMissingFlow(ctx, func(rec *ledger.Idempotency, rv *ledger.Reversal) error {
		if rec != nil {
			add(ledger.Violation{Rule: 5, Subject: "request " + rec.AppKey + "/" + rec.RequestID,
				Detail: "stored answer points to missing flow " + rec.FlowID})
		}
		if rv != nil {
			add(ledger.Violation{Rule: 4, Subject: "reversal " + rv.BrandID + "/" + rv.ReverseOrderID,
				Detail: "points to missing flow " + rv.FlowID})
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	n, broken, err := audit.Verify(ctx, a)
	rep.Audit = n
	if broken != nil {
		add(ledger.Violation{Rule: 6, Subject: "audit log", Detail: broken.Error()})
	}
	return rep, err
}
