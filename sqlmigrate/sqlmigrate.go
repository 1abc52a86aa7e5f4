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

// MustLoad reads dir/*.sql from fsys. Files are named NNNN_description.sql;
// versions start at 1 and have no gaps. A bad set of embedded files is a
// build mistake, so it panics.
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
	for i, m := range ms {
		if m.Version != i+1 {
			panic(fmt.Sprintf("sqlmigrate: migration %s: want version %d", m.Name, i+1))
		}
	}
	return ms
}
