package ledger

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// mem is an in-memory account that applies a Book's Changes the way a
// store does, so tests can chain operations and check the invariants.
type mem struct {
	t      testing.TB
	brand  Brand
	rule   Rule
	acct   Account
	lots   map[string]Lot
	flows  []Flow
	allocs []Allocation
	orders map[string]Order
	holds  map[string]Hold
	now    time.Time
	ids    int
}

func newMem(t testing.TB) *mem {
	return &mem{t: t, brand: Brand{ID: "B1", TimeZone: "Asia/Shanghai", Settings: DefaultSettings()},
		rule: Rule{Clear: ClearRule{Type: ClearNever}}, acct: Account{BrandID: "B1", CustomerID: "C1"},
		lots: map[string]Lot{}, orders: map[string]Order{}, holds: map[string]Hold{},
		now: time.Date(2026, 3, 1, 10, 0, 0, 0, Shanghai)}
}

func (m *mem) book(order string) *Book {
	st := State{Brand: m.brand, Rule: m.rule, Account: m.acct}
	for _, l := range m.lots {
		st.Lots = append(st.Lots, l.Loaded())
	}
	sort.Slice(st.Lots, func(i, j int) bool { return st.Lots[i].Seq < st.Lots[j].Seq })
	if order != "" {
		st.Order = m.orders[order]
		st.Hold = m.holds[order]
		for _, a := range m.allocs {
			if a.OrderRef == order {
				st.Allocs = append(st.Allocs, a)
			}
		}
	}
	b := NewBook(st, m.now, func() string { m.ids++; return fmt.Sprintf("id%03d", m.ids) })
	b.ExpireDue()
	return b
}

func (m *mem) apply(b *Book) {
	m.t.Helper()
	c := b.Changes()
	if c.Account.Version != m.acct.Version {
		m.t.Fatalf("version %d, want %d", c.Account.Version, m.acct.Version)
	}
	m.acct = c.Account
	m.acct.Version++
	m.acct.Exists = true
	for _, l := range c.Lots {
		if old, ok := m.lots[l.ID]; ok && !l.IsNew() && old.Remaining != l.LoadedRemaining() {
			m.t.Fatalf("lot %s moved", l.ID)
		}
		m.lots[l.ID] = l
	}
	m.flows = append(m.flows, c.Flows...)
	m.allocs = append(m.allocs, c.Allocations...)
	if c.Order != nil {
		o := *c.Order
		o.Exists = true
		m.orders[o.OutBizID] = o
	}
	if c.Hold != nil {
		h := *c.Hold
		h.Exists = true
		m.holds[h.OuterOrderID] = h
	}
	m.check()
}

func (m *mem) check() {
	m.t.Helper()
	var lots []Lot
	for _, l := range m.lots {
		lots = append(lots, l)
	}
	var holds []Hold
	for _, h := range m.holds {
		holds = append(holds, h)
	}
	var orders []Order
	for _, o := range m.orders {
		orders = append(orders, o)
	}
	for _, v := range CheckAccount(m.acct, lots, m.flows, m.allocs, holds, orders) {
		m.t.Errorf("invariant: %s", v)
	}
}

func (m *mem) grant(n int64, order string) Flow {
	m.t.Helper()
	b := m.book(order)
	f := b.Grant(ExtraCharge, n, Info{OutBizID: order})
	m.apply(b)
	return f
}

func (m *mem) spend(n int64, order string) (Flow, error) {
	m.t.Helper()
	b := m.book(order)
	f, err := b.Spend(DeductFromConsume, n, Info{OutBizID: order})
	if err == nil {
		m.apply(b)
	}
	return f, err
}

func (m *mem) reverse(n int64, order string) (Flow, error) {
	m.t.Helper()
	b := m.book(order)
	f, err := b.ReverseSpend(n, Info{OutBizID: order, ReverseOrderID: fmt.Sprintf("R%d", m.ids)})
	if err == nil {
		m.apply(b)
	}
	return f, err
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !IsCode(err, code) {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestBook_SpendEarliestExpiryFirst(t *testing.T) {
	m := newMem(t)
	m.rule.Clear = ClearRule{Type: ClearNever}
	never := m.grant(100, "g1")
	m.rule.Clear = ClearRule{Type: ClearDaysAfterEarn, Days: 30}
	late := m.grant(100, "g2")
	m.now = m.now.Add(-24 * time.Hour) // an earlier earn expires earlier
	early := m.grant(100, "g3")
	m.now = m.now.Add(48 * time.Hour)
	if _, err := m.spend(150, "o1"); err != nil {
		t.Fatal(err)
	}
	rem := map[string]int64{}
	for _, l := range m.lots {
		rem[l.FlowID] = l.Remaining
	}
	if rem[early.ID] != 0 || rem[late.ID] != 50 || rem[never.ID] != 100 {
		t.Fatalf("remaining early/late/never = %d/%d/%d, want 0/50/100", rem[early.ID], rem[late.ID], rem[never.ID])
	}
}

func TestBook_Reverse(t *testing.T) {
	t.Run("PartialThenRest", func(t *testing.T) {
		m := newMem(t)
		m.grant(60, "g1")
		m.grant(60, "g2")
		if _, err := m.spend(100, "o1"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.reverse(30, "o1"); err != nil {
			t.Fatal(err)
		}
		// Last taken first: the 40 taken from the second lot come back first.
		for _, l := range m.lots {
			if l.FlowID == "id001" && l.Remaining != 0 || l.FlowID != "id001" && l.Remaining != 50 {
				t.Fatalf("lot of %s remaining %d", l.FlowID, l.Remaining)
			}
		}
		f, err := m.reverse(0, "o1")
		if err != nil {
			t.Fatal(err)
		}
		if f.Amount != 70 {
			t.Fatalf("rest reversed %d, want 70", f.Amount)
		}
		if m.acct.Available != 120 {
			t.Fatalf("available %d, want 120", m.acct.Available)
		}
		_, err = m.reverse(0, "o1")
		wantCode(t, err, CodeAlreadyFullyReversed)
	})
	t.Run("ErrExceedsConsumed", func(t *testing.T) {
		m := newMem(t)
		m.grant(100, "g1")
		if _, err := m.spend(40, "o1"); err != nil {
			t.Fatal(err)
		}
		_, err := m.reverse(41, "o1")
		wantCode(t, err, CodeReverseExceedsSpent)
		if m.acct.Available != 60 {
			t.Fatalf("available %d after refused reversal", m.acct.Available)
		}
	})
	t.Run("ExpiredLotPolicies", func(t *testing.T) {
		for _, policy := range []string{RefundGrace, RefundForfeit, RefundReissue} {
			t.Run(policy, func(t *testing.T) {
				m := newMem(t)
				m.brand.Settings.RefundOfExpired = policy
				m.rule.Clear = ClearRule{Type: ClearDaysAfterEarn, Days: 10}
				m.grant(100, "g1")
				if _, err := m.spend(100, "o1"); err != nil {
					t.Fatal(err)
				}
				m.now = m.now.AddDate(0, 0, 20)
				f, err := m.reverse(0, "o1")
				if err != nil {
					t.Fatal(err)
				}
				if f.Policy != policy {
					t.Fatalf("policy %q, want %q", f.Policy, policy)
				}
				want := map[string]int64{RefundGrace: 100, RefundForfeit: 0, RefundReissue: 100}[policy]
				if got := Spendable(m.acct, m.lotList(), m.now); got != want {
					t.Fatalf("spendable %d, want %d", got, want)
				}
				m.now = m.now.AddDate(0, 0, 29)
				// Reissued points expire like a fresh charge: 10 days here.
				wantLater := map[string]int64{RefundGrace: 100, RefundForfeit: 0, RefundReissue: 0}[policy]
				if got := Spendable(m.acct, m.lotList(), m.now); got != wantLater {
					t.Fatalf("spendable after 29 days %d, want %d", got, wantLater)
				}
				m.now = m.now.AddDate(0, 0, 2)
				if got := Spendable(m.acct, m.lotList(), m.now); policy == RefundGrace && got != 0 {
					t.Fatalf("grace points still spendable after grace: %d", got)
				}
			})
		}
	})
}

func (m *mem) lotList() []Lot {
	var out []Lot
	for _, l := range m.lots {
		out = append(out, l)
	}
	return out
}

func TestBook_ExpireDue(t *testing.T) {
	m := newMem(t)
	m.rule.Clear = ClearRule{Type: ClearDaysAfterEarn, Days: 1}
	m.grant(100, "g1")
	m.now = m.now.AddDate(0, 0, 2)
	if got := Spendable(m.acct, m.lotList(), m.now); got != 0 {
		t.Fatalf("expired points spendable: %d", got)
	}
	_, err := m.spend(1, "o1")
	wantCode(t, err, CodePointNotEnough)
	b := m.book("")
	m.apply(b)
	last := m.flows[len(m.flows)-1]
	if last.Type != Expire || last.Amount != 100 || m.acct.TotalExpired != 100 || m.acct.Available != 0 {
		t.Fatalf("last flow %s %d, expired %d, available %d", last.Type, last.Amount, m.acct.TotalExpired, m.acct.Available)
	}
}

func TestClearRule_ExpiresAt(t *testing.T) {
	earned := time.Date(2026, 3, 1, 23, 30, 0, 0, Shanghai)
	tests := []struct {
		rule ClearRule
		want time.Time
	}{
		{ClearRule{Type: ClearNever}, time.Time{}},
		{ClearRule{Type: ClearDaysAfterEarn, Days: 365}, time.Date(2027, 3, 2, 0, 0, 0, 0, Shanghai)},
		{ClearRule{Type: ClearDaysAfterEarn, Days: 0}, time.Date(2026, 3, 2, 0, 0, 0, 0, Shanghai)},
		{ClearRule{Type: ClearYearEnd, Days: 0}, time.Date(2027, 1, 1, 0, 0, 0, 0, Shanghai)},
		{ClearRule{Type: ClearYearEnd, Days: 1}, time.Date(2028, 1, 1, 0, 0, 0, 0, Shanghai)},
	}
	for _, tt := range tests {
		if got := tt.rule.ExpiresAt(earned.UTC(), Shanghai); !got.Equal(tt.want) {
			t.Errorf("%v: got %v, want %v", tt.rule, got, tt.want)
		}
	}
	// The end of the day is the brand's day, not UTC's.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	morning := time.Date(2026, 3, 1, 8, 0, 0, 0, Shanghai) // still 28 February in New York
	got := ClearRule{Type: ClearDaysAfterEarn, Days: 1}.ExpiresAt(morning, ny)
	if want := time.Date(2026, 3, 2, 0, 0, 0, 0, ny); !got.Equal(want) {
		t.Errorf("New York: got %v, want %v", got, want)
	}
}

func TestRule_Calculate(t *testing.T) {
	r := Rule{Deduction: []DeductionRule{
		{LevelID: "", DeductedPoint: 100, ConsumeMoney: 5000, Enable: true, HasUpperLimit: true, MaxPoint: 5000},
		{LevelID: "L0", DeductedPoint: 100, ConsumeMoney: 5000, Enable: false},
	}}
	tests := []struct {
		level      string
		p          int64
		wantP, fen int64
	}{
		{"", 120, 100, 5000}, // the published example: 100 points = 50 yuan
		{"L1", 99, 0, 0},
		{"L1", 250, 200, 10000},
		{"", 9999, 5000, 250000}, // capped by max_point
		{"L0", 500, 0, 0},        // disabled level
	}
	for _, tt := range tests {
		got := r.Calculate(tt.level, tt.p)
		if got.ConsumePoint != tt.wantP || got.DeductedMoney != tt.fen {
			t.Errorf("Calculate(%q, %d) = %+v, want %d points %d fen", tt.level, tt.p, got, tt.wantP, tt.fen)
		}
	}
	wantCodeT := func(err error, code string) {
		t.Helper()
		if !IsCode(err, code) {
			t.Errorf("got %v, want %s", err, code)
		}
	}
	wantCodeT(r.CheckDeduction("L0", 10, 100), CodeDeductionDisabled)
	wantCodeT(r.CheckDeduction("L1", 6000, 10000), CodeExceedsMaxPoint)
	wantCodeT(r.CheckDeduction("L1", 60, 50), CodePointNotEnough)
	if err := r.CheckDeduction("L1", 50, 50); err != nil {
		t.Errorf("allowed deduction refused: %v", err)
	}
}

func TestBook_Holds(t *testing.T) {
	t.Run("PartialVerifyReleasesRest", func(t *testing.T) {
		m := newMem(t)
		m.grant(100, "g1")
		b := m.book("H1")
		if _, err := b.Freeze(80, 30*time.Minute, Info{OutBizID: "H1"}); err != nil {
			t.Fatal(err)
		}
		m.apply(b)
		if m.acct.Available != 20 || m.acct.Frozen != 80 {
			t.Fatalf("after freeze available %d frozen %d", m.acct.Available, m.acct.Frozen)
		}
		b = m.book("H1")
		if _, err := b.VerifyHold(50, Info{OutBizID: "H1"}); err != nil {
			t.Fatal(err)
		}
		m.apply(b)
		if m.acct.Available != 50 || m.acct.Frozen != 0 || m.holds["H1"].Status != HoldVerified {
			t.Fatalf("after verify available %d frozen %d hold %+v", m.acct.Available, m.acct.Frozen, m.holds["H1"])
		}
		// The verified points are a spend of the order, reversible.
		if _, err := m.reverse(0, "H1"); err != nil {
			t.Fatal(err)
		}
		if m.acct.Available != 100 {
			t.Fatalf("after reversal available %d", m.acct.Available)
		}
	})
	t.Run("PinnedLotExpiresDuringHold", func(t *testing.T) {
		m := newMem(t)
		m.rule.Clear = ClearRule{Type: ClearDaysAfterEarn, Days: 0}
		m.grant(100, "g1")
		b := m.book("H1")
		if _, err := b.Freeze(100, 30*time.Minute, Info{OutBizID: "H1"}); err != nil {
			t.Fatal(err)
		}
		m.apply(b)
		m.now = m.now.Add(24 * time.Hour)
		b = m.book("H1")
		if _, err := b.ReleaseHold(Info{OutBizID: "H1"}); err != nil {
			t.Fatal(err)
		}
		m.apply(b)
		if m.acct.Available != 0 || m.acct.TotalExpired != 100 {
			t.Fatalf("released expired points: available %d expired %d", m.acct.Available, m.acct.TotalExpired)
		}
	})
	// frozen10 is a member holding 100 points, 10 of them frozen for H1
	// for a minute.
	frozen10 := func(t *testing.T) *mem {
		m := newMem(t)
		m.grant(100, "g1")
		b := m.book("H1")
		if _, err := b.Freeze(10, time.Minute, Info{OutBizID: "H1"}); err != nil {
			t.Fatal(err)
		}
		m.apply(b)
		return m
	}
	t.Run("ErrVerifyAfterTimeout", func(t *testing.T) {
		m := frozen10(t)
		m.now = m.now.Add(time.Minute - time.Microsecond)
		if _, err := m.book("H1").VerifyHold(5, Info{OutBizID: "H1"}); err != nil {
			t.Fatalf("verify just before the timeout: %v", err)
		}
		m.now = m.now.Add(time.Microsecond)
		_, err := m.book("H1").VerifyHold(5, Info{OutBizID: "H1"})
		wantCode(t, err, CodeHoldExpired)
	})
	t.Run("ErrVerifyExceedsFrozen", func(t *testing.T) {
		m := frozen10(t)
		_, err := m.book("H1").VerifyHold(11, Info{OutBizID: "H1"})
		wantCode(t, err, CodeHoldExceeded)
	})
}

func TestBook_Clawback(t *testing.T) {
	t.Run("Reject", func(t *testing.T) {
		m := newMem(t)
		m.grant(100, "o1")
		if _, err := m.spend(80, "o2"); err != nil {
			t.Fatal(err)
		}
		_, err := m.book("o1").Clawback(0, Info{OutBizID: "o1"})
		wantCode(t, err, CodePointNotEnough)
	})
	t.Run("DebtPaidByNextCharge", func(t *testing.T) {
		m := newMem(t)
		m.brand.Settings.ClawbackShortfall = ShortfallDebt
		m.grant(100, "o1")
		if _, err := m.spend(80, "o2"); err != nil {
			t.Fatal(err)
		}
		b := m.book("o1")
		if _, err := b.Clawback(0, Info{OutBizID: "o1"}); err != nil {
			t.Fatal(err)
		}
		m.apply(b)
		if m.acct.Available != 0 || m.acct.Debt != 80 {
			t.Fatalf("available %d debt %d, want 0 and 80", m.acct.Available, m.acct.Debt)
		}
		m.grant(50, "o3")
		if m.acct.Available != 0 || m.acct.Debt != 30 {
			t.Fatalf("after charge available %d debt %d, want 0 and 30", m.acct.Available, m.acct.Debt)
		}
		m.grant(50, "o4")
		if m.acct.Available != 20 || m.acct.Debt != 0 {
			t.Fatalf("after second charge available %d debt %d, want 20 and 0", m.acct.Available, m.acct.Debt)
		}
		if last := m.flows[len(m.flows)-1]; last.Type != DebtRepay || last.Amount != 30 {
			t.Fatalf("last flow %s %d, want DEBT_REPAY 30", last.Type, last.Amount)
		}
	})
	t.Run("OwnLotsFirst", func(t *testing.T) {
		m := newMem(t)
		m.rule.Clear = ClearRule{Type: ClearDaysAfterEarn, Days: 5}
		m.grant(100, "other")
		m.rule.Clear = ClearRule{Type: ClearNever}
		own := m.grant(100, "o1")
		b := m.book("o1")
		if _, err := b.Clawback(60, Info{OutBizID: "o1"}); err != nil {
			t.Fatal(err)
		}
		m.apply(b)
		for _, l := range m.lots {
			if l.FlowID == own.ID && l.Remaining != 40 {
				t.Fatalf("own lot remaining %d, want 40", l.Remaining)
			}
		}
	})
}

func TestCheckAccount_DetectsTampering(t *testing.T) {
	m := newMem(t)
	m.grant(100, "g1")
	if _, err := m.spend(30, "o1"); err != nil {
		t.Fatal(err)
	}
	m.flows[1].Amount = 3 // tamper with a stored flow
	var lots []Lot
	for _, l := range m.lots {
		lots = append(lots, l)
	}
	vs := CheckAccount(m.acct, lots, m.flows, m.allocs, nil, []Order{m.orders["o1"]})
	if len(vs) == 0 || vs[0].Rule != 6 {
		t.Fatalf("tampering not detected: %v", vs)
	}
	m.flows[1].Amount = 30
	o := m.orders["o1"]
	o.Reversed = 40
	vs = CheckAccount(m.acct, lots, m.flows, m.allocs, nil, []Order{o})
	if len(vs) == 0 || vs[0].Rule != 4 {
		t.Fatalf("over-reversal not detected: %v", vs)
	}
}

// TestLotsToSpend_SameDecisions: a Book opened on LotsToSpend's cut
// decides exactly as one opened on every live lot, for expiry write-offs
// followed by a spend of up to need points, over many random accounts.
func TestLotsToSpend_SameDecisions(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, Shanghai)
	for seed := range 300 {
		r := uint64(seed)*2654435761 + 1
		rnd := func(n int) int { r ^= r << 13; r ^= r >> 7; r ^= r << 17; return int(r % uint64(n)) }
		var lots []Lot
		var avail int64
		for i := range 1 + rnd(25) {
			l := Lot{ID: fmt.Sprintf("L%02d", i), BrandID: "B1", CustomerID: "C1", Granted: 100,
				Remaining: int64(rnd(101)), EarnedAt: now.AddDate(0, 0, -30), Seq: int64(i + 1)}
			switch rnd(3) {
			case 0: // never expires
			case 1: // expired already (some at this very instant)
				l.ExpiresAt = now.Add(-time.Duration(rnd(3)) * time.Hour)
			default:
				l.ExpiresAt = now.AddDate(0, 0, 1+rnd(5)) // ties on purpose
			}
			if l.Remaining > 0 {
				lots = append(lots, l.Loaded())
				avail += l.Remaining
			}
		}
		acct := Account{BrandID: "B1", CustomerID: "C1", Available: avail, Exists: true, Version: 1,
			LotSeq: int64(len(lots) + 30), AllocSeq: 7}
		st := State{Brand: Brand{ID: "B1", TimeZone: "Asia/Shanghai", Settings: DefaultSettings()},
			Rule: Rule{Clear: ClearRule{Type: ClearNever}}, Account: acct}
		decide := func(lots []Lot, need int64) (Changes, error) {
			s := st
			s.Lots = lots
			n := 0
			b := NewBook(s, now, func() string { n++; return fmt.Sprintf("id%d", n) })
			b.ExpireDue()
			var err error
			if need > 0 {
				_, err = b.Spend(DeductFromConsume, need, Info{OutBizID: "O1"})
			}
			return b.Changes(), err
		}
		need := int64(rnd(int(avail) + 2))
		all, errAll := decide(lots, need)
		cut, errCut := decide(LotsToSpend(lots, need, now), need)
		show := func(c Changes) string {
			return fmt.Sprintf("%+v\nlots %+v\nflows %+v\nallocations %+v\norder %+v", c.Account, c.Lots, c.Flows, c.Allocations, c.Order)
		}
		if fmt.Sprint(errAll) != fmt.Sprint(errCut) || show(all) != show(cut) {
			t.Fatalf("seed %d, need %d:\nall lots: %v\n%s\ncut:      %v\n%s", seed, need, errAll, show(all), errCut, show(cut))
		}
	}
}
