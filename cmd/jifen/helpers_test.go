package main

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"testing"

	"jifen/audit"
	"jifen/points"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// cliDB is a database of one of storeKinds holding the demo tenant, open
// in the test, for tests that run jifen's commands on it.
type cliDB struct {
	t     *testing.T
	db    string // what --db names
	store ledgerStore
	svc   *points.Service
	demo  demo
}

func newCLIDB(t *testing.T, newDB func(*testing.T) string) *cliDB {
	t.Helper()
	c := &cliDB{t: t, db: newDB(t)}
	var err error
	if c.store, err = openStore(t.Context(), c.db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.store.Close() })
	c.svc = points.New(c.store, nil, nil)
	if c.demo, err = setupDemo(t.Context(), c.svc); err != nil {
		t.Fatal(err)
	}
	return c
}

// jifen runs a command on the database (--db appended): what it wrote to
// standard output and error, and its error.
func (c *cliDB) jifen(args ...string) (string, error) {
	c.t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append(args, "--db", c.db), &out, &out)
	return out.String(), err
}

// auditLog is the database's audit log, oldest first.
func (c *cliDB) auditLog() []audit.Entry {
	c.t.Helper()
	as, ok := c.store.(audit.Store)
	if !ok {
		c.t.Fatalf("the store %T keeps no audit log", c.store)
	}
	es, _, err := audit.New(as, nil).List(c.t.Context(), audit.Query{Limit: audit.MaxLimit})
	if err != nil {
		c.t.Fatal(err)
	}
	slices.Reverse(es)
	return es
}
