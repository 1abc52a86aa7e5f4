package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// TestReplicas_SkipsWhatIsNoReplica: a "replica" that is not in recovery
// (the primary's own server) and one that does not answer are measured,
// not used, and named without their password; the reads go to the
// primary. (cmd/jifen's TestServe_ReadReplica runs a real replica.)
func TestReplicas_SkipsWhatIsNoReplica(t *testing.T) {
	s := OpenTest(t)
	ctx := context.Background()
	svc := points.New(s, nil, nil)
	if _, err := svc.Apply(ctx, points.Tenant{Brands: []points.TenantBrand{{Brand: ledger.Brand{ID: "b1", Name: "品牌",
		TimeZone: "Asia/Shanghai", Settings: ledger.DefaultSettings()}}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []ReplicaState
	r, err := OpenReplicas(ctx, s, []string{testDSN(t), "postgres://jifen:hunter2@127.0.0.1:1/none?sslmode=disable"},
		ReplicaOptions{Options: Options{Schema: s.schema, Timeout: time.Second}, MaxLag: time.Second, Interval: 100 * time.Millisecond,
			OnCheck: func(st ReplicaState) { mu.Lock(); seen = append(seen, st); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	sts := r.States()
	r.Close()
	if len(seen) < 2 {
		t.Errorf("OnCheck told of %d states before OpenReplicas returned, want each replica's", len(seen))
	}
	if st := sts[0]; st.InUse || st.Known || !errors.Is(st.Err, errNotReplica) {
		t.Errorf("the primary's server as a replica: %+v, want not in use: not in recovery", st)
	}
	if st := sts[1]; st.InUse || st.Known || st.Err == nil || st.Name != "127.0.0.1:1" {
		t.Errorf("a replica that does not answer: %+v, want not in use, named 127.0.0.1:1", st)
	}
	for _, st := range sts {
		if strings.Contains(st.Name, "hunter2") || (st.Err != nil && strings.Contains(st.Err.Error(), "hunter2")) {
			t.Errorf("the password is in %+v", st)
		}
	}
	for _, c := range []context.Context{ctx, backoffice.ReadPrimary(ctx)} {
		if _, rep := r.pick(c); rep != nil {
			t.Errorf("picked replica %s, want the primary", rep.name)
		}
	}
	if b, err := r.Brand(ctx, "b1"); err != nil || b.Name != "品牌" {
		t.Errorf("Brand through the replicas: %+v %v", b, err)
	}
}

// TestReplicas_Usable: a replica in use is dropped once its last
// measurement is too old for its lag to be known within the bound.
// TestReplicas_SkipsOlderSchema: a replica that has not yet replayed the
// latest migration (an upgrade within its lag) serves no read.
func TestReplicas_SkipsOlderSchema(t *testing.T) {
	s := OpenTest(t)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, "DELETE FROM schema_migrations WHERE version = $1", LatestSchemaVersion()); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReplicas(ctx, s, []string{testDSN(t)},
		ReplicaOptions{Options: Options{Schema: s.schema, Timeout: time.Second}, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st := r.States()[0]
	r.Close()
	var sb schemaBehind
	if st.InUse || !errors.As(st.Err, &sb) || sb.has != LatestSchemaVersion()-1 || sb.needs != LatestSchemaVersion() {
		t.Fatalf("a replica one migration behind: %+v, want not in use: schema behind", st)
	}
}

func TestReplicas_Usable(t *testing.T) {
	r := &Replicas{maxLag: 10 * time.Second, interval: time.Second}
	rep := &replica{name: "r"}
	now := time.Now()
	for _, tt := range []struct {
		st   ReplicaState
		want bool
	}{
		{ReplicaState{Known: true, InUse: true, At: now}, true},
		{ReplicaState{Known: true, InUse: true, Lag: 9 * time.Second, At: now.Add(-time.Second)}, true},
		{ReplicaState{Known: true, InUse: true, Lag: 9 * time.Second, At: now.Add(-3 * time.Second)}, false},
		{ReplicaState{Known: true, InUse: true, At: now.Add(-12 * time.Second)}, false}, // measurements stopped answering
		{ReplicaState{Known: true, Lag: 11 * time.Second, At: now}, false},
	} {
		rep.state.Store(&tt.st)
		if got := r.usable(rep, now); got != tt.want {
			t.Errorf("usable(%+v) = %v, want %v", tt.st, got, tt.want)
		}
	}
	rep.state.Store(&ReplicaState{Known: true, InUse: true, At: now})
	rep.down(errors.New("read failed"))
	if r.usable(rep, now) {
		t.Error("a replica whose read failed is still used")
	}
}
