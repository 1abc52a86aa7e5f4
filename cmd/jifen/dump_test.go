package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"jifen/postgres"
	"jifen/top"
)

// TestE2E_ExportImport moves the demo server's database with `jifen export`
// and `jifen import`: to another SQLite file and to PostgreSQL, each
// verified, each exporting the same bytes; a second import, a truncated
// dump and a missing source are refused; the audit log goes with the
// dump, its chain checked on the way in.
func TestE2E_ExportImport(t *testing.T) {
	s := startServer(t)
	res := s.call(top.MethodConsumePoint, map[string]any{"param_consume_point_open_req": with(kry,
		"customer_id", "demo-c2", "change_point", 300, "out_biz_id", "order-9", "operator_id", "op1", "operator_name", "小王", "request_id", "mv-1")})
	if res["biz_success"] != true {
		t.Fatalf("consume: %v", res)
	}
	res = s.call(top.MethodReversePoint, map[string]any{"param_reverse_consume_point_open_req": with(kry,
		"biz_type", "DEDUCT_FROM_CONSUME_REVERSE", "out_biz_id", "order-9", "reverse_order_id", "refund-9", "change_point", 120,
		"operator_id", "op1", "operator_name", "小王", "request_id", "mv-2")})
	if res["biz_success"] != true {
		t.Fatalf("reverse: %v", res)
	}
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "dump.jsonl")
	jifen := func(args ...string) (string, string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		err := run(ctx, args, &out, &errb)
		return out.String(), errb.String(), err
	}

	_, stderr, err := jifen("export", "--db", s.db, "-o", file)
	if err != nil || !strings.Contains(stderr, "exported 1 apps, 1 brands, 2 shops, 3 customers") {
		t.Fatalf("export: %v %s", err, stderr)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the dump holds secrets: mode %v %v, want 0600", fi.Mode(), err)
	}
	if !bytes.Contains(data, []byte(`"secret":"`+s.demo.secret+`"`)) {
		t.Fatalf("the dump lacks the app's secret")
	}

	// SQLite to SQLite, from a file.
	target := filepath.Join(dir, "target.db")
	stdout, stderr, err := jifen("import", "--db", target, "-f", file)
	if err != nil || !strings.Contains(stdout, "imported 1 apps") || !strings.Contains(stdout, "all invariants hold") {
		t.Fatalf("import: %v\n%s%s", err, stdout, stderr)
	}
	again, _, err := jifen("export", "--db", target)
	if err != nil || again != string(data) {
		t.Fatalf("export of the target: %v; same bytes: %v", err, again == string(data))
	}
	_, _, err = jifen("import", "--db", target, "-f", file)
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("import into a database in use: %v, want a refusal", err)
	}

	// From standard input.
	var out, errb bytes.Buffer
	if err := (&importCmd{stdin: bytes.NewReader(data)}).run(ctx, []string{"--db", filepath.Join(dir, "stdin.db")}, &out, &errb); err != nil {
		t.Fatalf("import from stdin: %v %s", err, errb.String())
	}

	// A truncated dump leaves the target empty.
	cut := filepath.Join(dir, "cut.jsonl")
	if err := os.WriteFile(cut, data[:bytes.LastIndexByte(data[:len(data)-1], '\n')+1], 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	_, _, err = jifen("import", "--db", empty, "-f", cut)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("import of a truncated dump: %v", err)
	}
	if _, stderr, err := jifen("export", "--db", empty); err != nil || !strings.Contains(stderr, "exported 0 apps, 0 brands") {
		t.Fatalf("after a refused import: %v %s", err, stderr)
	}

	// A source that does not exist is not created.
	missing := filepath.Join(dir, "missing.db")
	if _, _, err := jifen("export", "--db", missing); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("export of a missing database: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("export created %s: %v", missing, err)
	}

	// The export is in the source's audit log, which the next dump
	// carries, and an import checks its chain.
	file = filepath.Join(dir, "dump2.jsonl")
	if _, stderr, err := jifen("export", "--db", s.db, "-o", file); err != nil || !strings.Contains(stderr, "audit entries") {
		t.Fatalf("second export: %v %s", err, stderr)
	}
	if data, err = os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"kind":"audit","seq":1,`)) || !bytes.Contains(data, []byte(`"operator_name":"cli"`)) ||
		!bytes.Contains(data, []byte(`"action":"export"`)) {
		t.Fatalf("the second dump lacks the first export's audit entry")
	}
	carried := filepath.Join(dir, "carried.db")
	if stdout, _, err := jifen("import", "--db", carried, "-f", file); err != nil || !strings.Contains(stdout, "1 audit entries") ||
		!strings.Contains(stdout, "all invariants hold") {
		t.Fatalf("import with an audit log: %v %s", err, stdout)
	}
	forged := filepath.Join(dir, "forged.jsonl")
	if err := os.WriteFile(forged, bytes.Replace(data, []byte(`"operator_name":"cli"`), []byte(`"operator_name":"eve"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := jifen("import", "--db", filepath.Join(dir, "forged.db"), "-f", forged); err == nil ||
		!strings.Contains(err.Error(), "audit entry 1: its content does not match its hash") {
		t.Fatalf("import of an edited audit entry: %v, want a refusal naming entry 1", err)
	}

	t.Run("Postgres", func(t *testing.T) {
		dsn := postgres.TestDSN(t)
		stdout, stderr, err := jifen("import", "--db", dsn, "-f", file)
		if err != nil || !strings.Contains(stdout, "all invariants hold") {
			t.Fatalf("import: %v\n%s%s", err, stdout, stderr)
		}
		if stdout, _, err := jifen("verify", "--db", dsn); err != nil || !strings.Contains(stdout, "all invariants hold") {
			t.Fatalf("verify: %v %s", err, stdout)
		}
		again, _, err := jifen("export", "--db", dsn)
		if err != nil || again != string(data) {
			t.Fatalf("export of the target: %v; same bytes: %v", err, again == string(data))
		}
	})
}
