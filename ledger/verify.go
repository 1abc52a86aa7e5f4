package ledger

import "fmt"

// Violation is one broken invariant (ledger rules §9).
type Violation struct {
	Rule    int // the invariant's number in §9
	Subject string
	Detail  string
}

func (v Violation) String() string { return fmt.Sprintf("§9.%d %s: %s", v.Rule, v.Subject, v.Detail) }

// CheckAccount checks invariants 1–4 and 6 for one account's rows: the
// account row against its lots and holds, the flow chain and its hashes,
// every lot against its allocations, every order's sums.
func CheckAccount(acct Account, lots []Lot, flows []Flow, allocs []Allocation, holds []Hold, orders []Order) []Violation {
	var out []Violation
	who := acct.BrandID + "/" + acct.CustomerID
	bad := func(rule int, subject, format string, args ...any) {
		out = append(out, Violation{Rule: rule, Subject: subject, Detail: fmt.Sprintf(format, args...)})
	}
	// 1. available = Σ remaining of lots; frozen = Σ remaining of holds.
	var sumLots, sumHolds int64
	for _, l := range lots {
		sumLots += l.Remaining
	}
	for _, h := range holds {
		if h.Status == HoldActive {
			sumHolds += h.Remaining
		} else if h.Remaining != 0 {
			bad(1, "hold "+h.BrandID+"/"+h.OuterOrderID, "status %s with %d points still frozen", h.Status, h.Remaining)
		}
		if h.Remaining < 0 {
			bad(1, "hold "+h.BrandID+"/"+h.OuterOrderID, "negative remaining %d", h.Remaining)
		}
	}
	if acct.Available != sumLots {
		bad(1, "account "+who, "available %d but its lots hold %d", acct.Available, sumLots)
	}
	if acct.Frozen != sumHolds {
		bad(1, "account "+who, "frozen %d but its holds hold %d", acct.Frozen, sumHolds)
	}
	if acct.Available < 0 || acct.Frozen < 0 || acct.Debt < 0 {
		bad(1, "account "+who, "negative balance: available %d, frozen %d, debt %d", acct.Available, acct.Frozen, acct.Debt)
	}
	// The account's counters number every lot and allocation it has: a
	// counter behind its rows would give the next one a number in use.
	for _, l := range lots {
		if l.Seq < 1 || l.Seq > acct.LotSeq {
			bad(1, "lot "+l.ID, "sequence %d outside the account's 1..%d", l.Seq, acct.LotSeq)
		}
	}
	for _, a := range allocs {
		if a.Seq < 1 || a.Seq > acct.AllocSeq {
			bad(1, "account "+who, "allocation sequence %d outside the account's 1..%d", a.Seq, acct.AllocSeq)
		}
	}
	// 2 and 6. The flows chain, by amounts and by hashes.
	var remain, frozen, debt int64
	prev := ""
	for i, f := range flows {
		subject := "flow " + f.ID
		if f.Seq != int64(i+1) {
			bad(2, subject, "sequence %d where %d was expected", f.Seq, i+1)
		}
		remain += f.DeltaAvailable
		frozen += f.DeltaFrozen
		debt += f.DeltaDebt
		if f.RemainPoint != remain {
			bad(2, subject, "remain_point %d but the chain gives %d", f.RemainPoint, remain)
			remain = f.RemainPoint
		}
		if f.PrevHash != prev {
			bad(6, subject, "previous hash does not link to flow %d", i)
		}
		if !HashMatches(f) {
			bad(6, subject, "content does not match its hash")
		}
		prev = f.Hash
	}
	if int64(len(flows)) != acct.Seq {
		bad(2, "account "+who, "%d flows but the account counts %d", len(flows), acct.Seq)
	}
	if remain != acct.Available || frozen != acct.Frozen || debt != acct.Debt {
		bad(2, "account "+who, "flows sum to available %d, frozen %d, debt %d; the account says %d, %d, %d",
			remain, frozen, debt, acct.Available, acct.Frozen, acct.Debt)
	}
	if prev != acct.LastHash {
		bad(6, "account "+who, "last hash does not match the newest flow")
	}
	// 3. Every lot: 0 ≤ remaining ≤ granted = remaining + Σ allocations.
	taken := map[string]int64{}
	for _, a := range allocs {
		taken[a.LotID] += a.Amount
	}
	for _, l := range lots {
		if l.Remaining < 0 || l.Remaining > l.Granted {
			bad(3, "lot "+l.ID, "remaining %d outside 0..%d", l.Remaining, l.Granted)
		}
		if l.Granted-l.Remaining != taken[l.ID] {
			bad(3, "lot "+l.ID, "granted %d − remaining %d ≠ allocations %d", l.Granted, l.Remaining, taken[l.ID])
		}
		delete(taken, l.ID)
	}
	for id := range taken {
		bad(3, "lot "+id, "allocations name a lot the account does not have")
	}
	// 4. Every order: reversed ≤ spent; clawed back ≤ granted; and the
	// spend allocations agree with the order's net spending.
	net := map[string]int64{}
	for _, a := range allocs {
		if a.Kind == AllocSpend {
			net[a.OrderRef] += a.Amount
		}
	}
	for _, o := range orders {
		subject := "order " + o.BrandID + "/" + o.OutBizID + "/" + o.CustomerID
		if o.Reversed > o.Spent || o.Reversed < 0 {
			bad(4, subject, "reversed %d of %d spent", o.Reversed, o.Spent)
		}
		if o.ClawedBack > o.Granted || o.ClawedBack < 0 {
			bad(4, subject, "clawed back %d of %d granted", o.ClawedBack, o.Granted)
		}
		if n := net[o.OutBizID]; n != o.Spent-o.Reversed {
			bad(4, subject, "spend allocations net %d but the order says %d spent, %d reversed", n, o.Spent, o.Reversed)
		}
	}
	return out
}
