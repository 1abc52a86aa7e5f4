package points

import (
	"context"
	"encoding/json"
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
	Events      int   // flow events checked against their flows
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
// reversal (its flow exists); the event log against the flows (rule 7,
// see checkEvents); and the operators' audit log's hash chain, reporting
// its first broken entry.
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
		rep.Events += len(r.Events)
		add(checkEvents(r)...)
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
	err = a.EachEventWithoutFlow(ctx, func(e Event) error {
		add(ledger.Violation{Rule: 7, Subject: "event " + e.BrandID + "/" + e.ID,
			Detail: fmt.Sprintf("a %s event at position %d, of customer %s, names no stored flow", e.Type, e.Pos, e.Subject)})
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

// checkEvents checks rule 7 (issue "Events": every committed flow yields
// one event, recorded in its transaction) for one account: each flow's
// event says what the flow did — its customer, sequence number, type,
// change and balance after — and the event of the account's last flow
// has the account's balances. Every flow from the account's first one
// with an event on has one: flows written before jifen recorded events
// (a database upgraded from then, or loaded from a dump without events)
// have none, and a gap after the first event would be an event lost.
// (An event whose flow is not stored is found by Verify's
// EachEventWithoutFlow.)
func checkEvents(r AccountRows) []ledger.Violation {
	if len(r.Events) == 0 {
		return nil
	}
	byFlow := make(map[string]Event, len(r.Events))
	for _, e := range r.Events {
		byFlow[e.ID] = e
	}
	var vs []ledger.Violation
	bad := func(f ledger.Flow, format string, args ...any) {
		vs = append(vs, ledger.Violation{Rule: 7, Subject: "flow " + f.BrandID + "/" + f.ID, Detail: fmt.Sprintf(format, args...)})
	}
	evented := false
	for i, f := range r.Flows {
		e, ok := byFlow[f.ID]
		if !ok {
			if evented {
				bad(f, "no event, though an earlier flow of customer %s (seq < %d) has one", f.CustomerID, f.Seq)
			}
			continue
		}
		evented = true
		var d checkedEventData // what is checked of a FlowEventData: decoding the rest would double verify's time
		if err := json.Unmarshal(e.Data, &d); err != nil {
			bad(f, "its event at position %d holds no flow: %v", e.Pos, err)
			continue
		}
		if e.Type != EventFlowCreated || e.Subject != f.CustomerID || d.CustomerID != f.CustomerID || d.FlowID != f.ID ||
			d.Seq != f.Seq || d.BizType != string(f.Type) || d.ChangePoint != f.ChangePoint() || d.RemainPoint != f.RemainPoint {
			const says = "type %s, subject %s, customer %s, flow %s, seq %d, biz_type %s, change %d, remain %d"
			bad(f, "its event at position %d says "+says+"; the flow is "+says, e.Pos,
				e.Type, e.Subject, d.CustomerID, d.FlowID, d.Seq, d.BizType, d.ChangePoint, d.RemainPoint,
				EventFlowCreated, f.CustomerID, f.CustomerID, f.ID, f.Seq, f.Type, f.ChangePoint(), f.RemainPoint)
		}
		a := r.Account
		if i == len(r.Flows)-1 && (d.AvailablePoint != a.Available || d.FrozenPoint != a.Frozen || d.DebtPoint != a.Debt) {
			bad(f, "the event of the account's last flow (position %d) leaves available %d, frozen %d, debt %d; the account has %d, %d, %d",
				e.Pos, d.AvailablePoint, d.FrozenPoint, d.DebtPoint, a.Available, a.Frozen, a.Debt)
		}
	}
	return vs
}

// checkedEventData is the part of a FlowEventData that checkEvents
// compares with the flow and the account.
type checkedEventData struct {
	FlowID         string `json:"flow_id"`
	CustomerID     string `json:"customer_id"`
	Seq            int64  `json:"seq"`
	BizType        string `json:"biz_type"`
	ChangePoint    int64  `json:"change_point"`
	RemainPoint    int64  `json:"remain_point"`
	AvailablePoint int64  `json:"available_point"`
	FrozenPoint    int64  `json:"frozen_point"`
	DebtPoint      int64  `json:"debt_point"`
}
