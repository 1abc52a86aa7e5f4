package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/audit"
	"jifen/points"
)

// AuditStore is a store that keeps the operators' audit log too.
type AuditStore interface {
	Store
	audit.Store
}

// AuditDB is a fresh, empty database for one audit test.
type AuditDB struct {
	Store AuditStore
	// Another opens a second store on the same database: another server.
	Another func(t testing.TB) AuditStore
	// Exec runs a statement on the database directly, behind the store's
	// back, as someone tampering with it would.
	Exec func(t testing.TB, sql string)
}

// AuditOpener opens an AuditDB whose stores close when the test ends.
type AuditOpener func(t testing.TB) AuditDB

// RunAudit runs the audit log's tests against the databases open makes:
// entries recorded and read back, the filters and paging, concurrent
// appends from two servers forming one chain, and jifen verify catching
// an edited, deleted, reordered, relinked or truncated entry.
func RunAudit(t *testing.T, open AuditOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, AuditOpener)
	}{
		{"RecordAndList", testAuditRecordAndList},
		{"Filters", testAuditFilters},
		{"TwoServers", testAuditTwoServers},
		{"Tampering", testAuditTampering},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// mustVerifyAudit checks the whole database and returns the audit log's
// violations (Verify's others must not be any).
func mustVerifyAudit(t testing.TB, s Store) (int64, []string) {
	t.Helper()
	rep, err := points.Verify(t.Context(), s)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var out []string
	for _, v := range rep.Violations {
		if v.Subject != "audit log" {
			t.Errorf("invariant broken: %s", v)
			continue
		}
		out = append(out, v.String())
	}
	return rep.Audit, out
}

func mustRecord(t testing.TB, l *audit.Log, e audit.Entry) audit.Entry {
	t.Helper()
	stored, err := l.Record(t.Context(), e)
	if err != nil {
		t.Fatalf("record %s: %v", e.Action, err)
	}
	return stored
}

// testAuditRecordAndList: an entry comes back as recorded, timed, chained
// and redacted; the list is newest first and pages by seq.
func testAuditRecordAndList(t *testing.T, open AuditOpener) {
	db := open(t)
	clock := NewClock(Start.Add(123456 * time.Nanosecond))
	l := audit.New(db.Store, clock.Now)
	first := mustRecord(t, l, audit.Entry{OperatorName: "小李", ClientAddr: "203.0.113.7", Action: audit.AppPut,
		Target: "pos", Request: json.RawMessage(`{"app_key":"pos","secret":"s3cr3t-value","brands":["B1"]}`),
		Before: audit.JSON(map[string]any{"app_key": "pos", "app_secret": "old"}),
		After:  audit.JSON(map[string]any{"app_key": "pos", "app_secret": "new", "nested": map[string]string{"password": "p"}})})
	if first.Seq != 1 || first.PrevHash != "" || first.Hash != audit.Hash(first) {
		t.Fatalf("first entry seq %d, prev %q, hash %q; want 1, \"\", its own hash", first.Seq, first.PrevHash, first.Hash)
	}
	if want := Start.Add(123 * time.Microsecond).UTC(); !first.At.Equal(want) {
		t.Errorf("At = %v, want %v (the clock, to the microsecond)", first.At, want)
	}
	clock.Advance(time.Minute)
	second := mustRecord(t, l, audit.Entry{OperatorName: "小王", Action: audit.Reversal, BrandID: "B1", Target: "O1",
		Outcome: "REVERSE_EXCEEDS_CONSUMED", Message: "more than spent"})
	if second.Seq != 2 || second.PrevHash != first.Hash {
		t.Fatalf("second entry seq %d, prev %q; want 2 linking to %q", second.Seq, second.PrevHash, first.Hash)
	}
	es, next, err := l.List(t.Context(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || next != 0 {
		t.Fatalf("List = %d entries, next %d; want 2, 0", len(es), next)
	}
	if es[0].Seq != 2 || es[1].Seq != 1 {
		t.Fatalf("List order %d, %d; want 2, 1 (newest first)", es[0].Seq, es[1].Seq)
	}
	got := es[1]
	for _, raw := range []json.RawMessage{got.Request, got.Before, got.After} {
		for _, secret := range []string{"s3cr3t-value", "old", "new", `"p"`} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("stored %s holds the secret %s", raw, secret)
			}
		}
	}
	if want := `{"app_key":"pos","brands":["B1"],"secret":"[redacted]"}`; string(got.Request) != want {
		t.Errorf("Request = %s, want %s", got.Request, want)
	}
	if want := `{"app_key":"pos","app_secret":"[redacted]","nested":{"password":"[redacted]"}}`; string(got.After) != want {
		t.Errorf("After = %s, want %s", got.After, want)
	}
	if got.OperatorName != "小李" || got.ClientAddr != "203.0.113.7" || got.Action != audit.AppPut || got.Target != "pos" ||
		got.Outcome != audit.OK || !got.At.Equal(first.At) || got.Hash != first.Hash {
		t.Errorf("read back %+v, want %+v", got, first)
	}
	if es[0].Outcome != "REVERSE_EXCEEDS_CONSUMED" || es[0].Message != "more than spent" || es[0].Request != nil {
		t.Errorf("read back %+v", es[0])
	}
	// Paging: one at a time.
	page, next, err := l.List(t.Context(), audit.Query{Limit: 1})
	if err != nil || len(page) != 1 || page[0].Seq != 2 || next != 2 {
		t.Fatalf("page 1 = %v, next %d, %v; want entry 2, next 2", seqs(page), next, err)
	}
	page, next, err = l.List(t.Context(), audit.Query{Limit: 1, Before: next})
	if err != nil || len(page) != 1 || page[0].Seq != 1 || next != 0 {
		t.Fatalf("page 2 = %v, next %d, %v; want entry 1, next 0", seqs(page), next, err)
	}
	// Bad queries name their field; unknown actions are not recorded.
	for field, q := range map[string]audit.Query{
		"limit":  {Limit: audit.MaxLimit + 1},
		"action": {Action: "nope"},
		"to":     {From: Start, To: Start},
	} {
		_, _, err := l.List(t.Context(), q)
		WantInvalid(t, err, field)
	}
	if _, err := l.Record(t.Context(), audit.Entry{Action: "nope"}); err == nil {
		t.Error("Record of an unknown action succeeded")
	}
	if _, err := l.Record(t.Context(), audit.Entry{Action: audit.Export, Request: json.RawMessage(`{not json`)}); err == nil {
		t.Error("Record of a request that is not JSON succeeded")
	}
	if n, bad := mustVerifyAudit(t, db.Store); n != 2 || len(bad) > 0 {
		t.Fatalf("verify: %d entries, %v; want 2, none broken", n, bad)
	}
}

func seqs(es []audit.Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// testAuditFilters: each filter alone, and together.
func testAuditFilters(t *testing.T, open AuditOpener) {
	db := open(t)
	clock := NewClock(Start)
	l := audit.New(db.Store, clock.Now)
	add := func(op, action, brand, outcome string) {
		mustRecord(t, l, audit.Entry{OperatorName: op, Action: action, BrandID: brand, Outcome: outcome})
		clock.Advance(time.Hour)
	}
	add("a", audit.SignIn, "", "")                         // 1, Start
	add("a", audit.Reversal, "B1", "")                     // 2, +1h
	add("b", audit.Reversal, "B2", "POINT_NOT_ENOUGH")     // 3, +2h
	add("b", audit.WebhookCreate, "", "")                  // 4, +3h
	add("a", audit.WebhookDelete, "", "WEBHOOK_NOT_FOUND") // 5, +4h
	for _, tc := range []struct {
		q    audit.Query
		want []int64
	}{
		{audit.Query{Operator: "a"}, []int64{5, 2, 1}},
		{audit.Query{Action: audit.Reversal}, []int64{3, 2}},
		{audit.Query{Action: "webhook.*"}, []int64{5, 4}},
		{audit.Query{BrandID: "B2"}, []int64{3}},
		{audit.Query{Outcome: audit.OK}, []int64{4, 2, 1}},
		{audit.Query{Outcome: audit.Failed}, []int64{5, 3}},
		{audit.Query{Outcome: "POINT_NOT_ENOUGH"}, []int64{3}},
		{audit.Query{From: Start.Add(time.Hour), To: Start.Add(3 * time.Hour)}, []int64{3, 2}},
		{audit.Query{Operator: "a", Outcome: audit.OK, Before: 2}, []int64{1}},
	} {
		es, _, err := l.List(t.Context(), tc.q)
		if err != nil {
			t.Fatalf("%+v: %v", tc.q, err)
		}
		if got := seqs(es); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.q, got, tc.want)
		}
	}
}

// testAuditTwoServers: two servers appending at once make one unbroken
// chain with no number twice.
func testAuditTwoServers(t *testing.T, open AuditOpener) {
	db := open(t)
	other := db.Another(t)
	const each = 25
	var wg sync.WaitGroup
	errs := make(chan error, 4*each)
	for i, s := range []AuditStore{db.Store, other, db.Store, other} {
		l := audit.New(s, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if _, err := l.Record(t.Context(), audit.Entry{OperatorName: fmt.Sprintf("op%d", i), Action: audit.SignIn,
					Target: fmt.Sprint(j)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, bad := mustVerifyAudit(t, other)
	if n != 4*each || len(bad) > 0 {
		t.Fatalf("verify: %d entries, %v; want %d, none broken", n, bad, 4*each)
	}
}

// testAuditTampering: verify names the first entry that was edited,
// deleted, moved, relinked or cut off the end, on a fresh log each time.
func testAuditTampering(t *testing.T, open AuditOpener) {
	for _, tc := range []struct {
		name   string
		tamper func(t testing.TB, db AuditDB, es []audit.Entry)
		want   string // in the violation
	}{
		{"Edited", func(t testing.TB, db AuditDB, _ []audit.Entry) {
			db.Exec(t, "UPDATE audit_log SET outcome = 'ok', message = '' WHERE seq = 3")
		}, "audit entry 3: its content does not match its hash"},
		{"EditedTime", func(t testing.TB, db AuditDB, _ []audit.Entry) {
			db.Exec(t, "UPDATE audit_log SET at = at + 1 WHERE seq = 2")
		}, "audit entry 2: its content does not match its hash"},
		{"Deleted", func(t testing.TB, db AuditDB, _ []audit.Entry) {
			db.Exec(t, "DELETE FROM audit_log WHERE seq = 2")
		}, "audit entry 2: entry 3 follows entry 1"},
		{"Reordered", func(t testing.TB, db AuditDB, _ []audit.Entry) {
			db.Exec(t, "UPDATE audit_log SET seq = 1000 WHERE seq = 2")
			db.Exec(t, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
			db.Exec(t, "UPDATE audit_log SET seq = 3 WHERE seq = 1000")
		}, "audit entry 2: its previous hash does not link"},
		{"Relinked", func(t testing.TB, db AuditDB, es []audit.Entry) {
			// Entry 3 rehashed over a forged link: its own hash holds,
			// the link does not.
			e := es[2]
			e.PrevHash = es[0].Hash
			db.Exec(t, fmt.Sprintf("UPDATE audit_log SET prev_hash = '%s', hash = '%s' WHERE seq = 3", e.PrevHash, audit.Hash(e)))
		}, "audit entry 3: its previous hash does not link"},
		{"Truncated", func(t testing.TB, db AuditDB, _ []audit.Entry) {
			db.Exec(t, "DELETE FROM audit_log WHERE seq = 4")
		}, "audit entry 4: the head names entry 4 but the chain ends at entry 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t)
			l := audit.New(db.Store, nil)
			var es []audit.Entry
			for i := range 4 {
				outcome := ""
				if i == 2 {
					outcome = "POINT_NOT_ENOUGH"
				}
				es = append(es, mustRecord(t, l, audit.Entry{OperatorName: "小李", Action: audit.Adjustment, BrandID: "B1",
					Target: fmt.Sprintf("C%d", i), Outcome: outcome, Message: "m"}))
			}
			if _, bad := mustVerifyAudit(t, db.Store); len(bad) > 0 {
				t.Fatalf("before tampering: %v", bad)
			}
			tc.tamper(t, db, es)
			_, bad := mustVerifyAudit(t, db.Store)
			if len(bad) != 1 || !strings.Contains(bad[0], tc.want) {
				t.Fatalf("verify after tampering: %q; want one violation saying %q", bad, tc.want)
			}
		})
	}
}
