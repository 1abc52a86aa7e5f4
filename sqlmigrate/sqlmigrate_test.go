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
		"gap":     {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
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
