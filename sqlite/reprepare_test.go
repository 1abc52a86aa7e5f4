package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"reflect"
	"strings"
	"testing"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// TestNoReprepare checks that no query the service makes is compiled again
// on every run (see the note on "+?" by queryer). It reads a field
// the driver keeps for itself, and skips if the driver no longer has it.
func TestNoReprepare(t *testing.T) {
	ctx := context.Background()
	s, seen := exercise(t)
	// The writer is idle: its last statements were answered before
	// exercise returned.
	for q := range s.w.stmts {
		seen[q] = true
	}
	path := s.path

	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*sqlite3.SQLiteConn)
		for query := range seen {
			if !strings.HasPrefix(query, "SELECT") {
				continue
			}
			st, err := c.Prepare(query)
			if err != nil {
				return err
			}
			field := reflect.ValueOf(st).Elem().FieldByName("repreps")
			if !field.IsValid() || !field.CanInt() {
				st.Close()
				t.Skip("the driver no longer counts re-preparations")
			}
			for i := range 3 {
				args := make([]driver.NamedValue, st.NumInput())
				for j := range args {
					args[j] = driver.NamedValue{Ordinal: j + 1, Value: int64(i + 1)}
				}
				rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
				if err != nil {
					return err
				}
				rows.Close()
			}
			if n := field.Int(); n > 0 {
				t.Errorf("compiled again %d times in 3 runs: %s", n, query)
			}
			st.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
