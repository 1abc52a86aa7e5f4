// Package sqlmigrate reads a store's embedded, numbered SQL migrations.
// Each store applies them in its own dialect and records them in its own
// schema_migrations table; only the reading and ordering is shared.
package sqlmigrate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string // the file name, e.g. 0001_init.sql
	SQL     string
}

// MustLoad reads dir/*.sql from fsys. Files are named NNNN_description.sql
// with distinct positive versions. Versions may skip numbers: branches
// developed side by side each take their own number, and a database
// migrated by one of them gets the other's migration when it arrives
// (see Pending). A bad set of embedded files is a build mistake, so it
// panics.
func MustLoad(fsys fs.FS, dir string) []Migration {
	files, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		panic(err)
	}
	var ms []Migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			panic(fmt.Sprintf("sqlmigrate: migration %s is not named NNNN_name.sql", f))
		}
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			panic(err)
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			panic(fmt.Sprintf("sqlmigrate: migrations %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version))
		}
	}
	return ms
}

// Latest is the newest version of ms; 0 for none.
func Latest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Pending returns the migrations of ms whose versions are not in applied,
// oldest first: every one a database lacks, not only those above its
// newest.
func Pending(ms []Migration, applied []int) []Migration {
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	var out []Migration
	for _, m := range ms {
		if !done[m.Version] {
			out = append(out, m)
		}
	}
	return out
}
