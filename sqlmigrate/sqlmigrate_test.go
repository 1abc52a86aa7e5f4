package sqlmigrate

import (
	"testing"
	"testing/fstest"
)

func TestMustLoad(t *testing.T) {
	ms := MustLoad(fstest.MapFS{
		"m/0002_more.sql": {Data: []byte("B")},
		"m/0001_init.sql": {Data: []byte("A")},
	}, "m")
	if len(ms) != 2 || ms[0].Name != "0001_init.sql" || ms[1].SQL != "B" || ms[1].Version != 2 {
		t.Fatalf("got %+v", ms)
	}
	for name, files := range map[string]fstest.MapFS{
		"twice":   {"m/0001_a.sql": {}, "m/01_b.sql": {}},
		"unnamed": {"m/init.sql": {}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			MustLoad(files, "m")
		}()
	}
}

// A gap is allowed, and a database that has a later migration but not an
// earlier one still gets the earlier one.
func TestPending(t *testing.T) {
	ms := MustLoad(fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("A")},
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0004_d.sql": {Data: []byte("D")},
	}, "m")
	if Latest(ms) != 4 {
		t.Errorf("Latest = %d, want 4", Latest(ms))
	}
	got := Pending(ms, []int{1, 4})
	if len(got) != 1 || got[0].Version != 2 {
		t.Errorf("Pending(applied 1, 4) = %+v, want version 2 only", got)
	}
	if got := Pending(ms, nil); len(got) != 3 {
		t.Errorf("Pending(nothing applied) = %d migrations, want 3", len(got))
	}
}
