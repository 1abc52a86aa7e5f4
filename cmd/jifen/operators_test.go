package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"jifen/audit"
	"jifen/operator"
	"jifen/points"
	"jifen/sqlite"
)

// TestOperatorCommand: jifen operator add prints a password and a token
// once, which work; list, token create/list/revoke, disable, enable and
// reset do what they say; bad input names its field.
func TestOperatorCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "jifen.db")
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append(append([]string{"operator"}, args...), "--db", db), &out, &errb)
		return out.String() + errb.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("operator %v: %v\n%s", args, err, out)
		}
		return out
	}
	out := must("add", "--name", "张经理", "--role", "support", "--limit", "500")
	password := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out)
	token := regexp.MustCompile(`(?m)^token: +(jft_\S+)$`).FindStringSubmatch(out)
	if password == nil || token == nil || !strings.Contains(out, "at most 500 points") {
		t.Fatalf("add printed %q", out)
	}
	if _, err := cli("add", "--name", "x", "--role", "support"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("support without a limit: %v", err)
	}
	if _, err := cli("add", "--name", "张经理", "--role", "viewer"); err == nil {
		t.Fatal("a second 张经理 was added")
	}
	if l := must("list"); !strings.Contains(l, "张经理") || !strings.Contains(l, "support") || !strings.Contains(l, "active") {
		t.Fatalf("list: %q", l)
	}
	check := func(secret string) error {
		s, err := sqlite.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = operator.New(s, points.New(s, nil, nil), "").Authenticate(ctx, secret)
		return err
	}
	if err := check(token[1]); err != nil {
		t.Fatalf("the printed token: %v", err)
	}
	created := must("token", "create", "--name", "张经理", "--token-name", "报表")
	second := regexp.MustCompile(`(jft_\S+)`).FindString(created)
	if err := check(second); err != nil {
		t.Fatalf("the created token: %v", err)
	}
	id := regexp.MustCompile(`(?m)^(\S+)\s+initial`).FindStringSubmatch(must("token", "list", "--name", "张经理"))
	if id == nil {
		t.Fatal("no initial token listed")
	}
	must("token", "revoke", "--name", "张经理", "--id", id[1])
	if err := check(token[1]); err == nil {
		t.Fatal("a revoked token authenticates")
	}
	must("disable", "--name", "张经理")
	if err := check(second); err == nil {
		t.Fatal("a disabled operator's token authenticates")
	}
	if l := must("list"); !strings.Contains(l, "disabled") {
		t.Fatalf("list after disable: %q", l)
	}
	must("enable", "--name", "张经理")
	if err := check(second); err != nil {
		t.Fatalf("enabled again: %v", err)
	}
	if r := must("reset", "--name", "张经理"); !strings.Contains(r, "new password") || strings.Contains(r, password[1]) {
		t.Fatalf("reset: %q", r)
	}
	if _, err := cli("disable", "--name", "nobody"); err == nil {
		t.Fatal("disabled nobody")
	}

	// Every change is in the audit log, by the operator "cli", refused
	// ones with their code; never a secret.
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entries, _, err := audit.New(s, nil).List(ctx, audit.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		e := entries[i]
		if e.OperatorID != operator.CLIName || e.OperatorName != operator.CLIName {
			t.Errorf("entry %d by %q (%q), want cli (cli)", e.Seq, e.OperatorName, e.OperatorID)
		}
		got = append(got, e.Action+" "+e.Outcome)
		for _, secret := range []string{password[1], token[1], second} {
			if strings.Contains(string(e.Request)+string(e.Before)+string(e.After), secret) {
				t.Errorf("entry %d (%s) holds a secret", e.Seq, e.Action)
			}
		}
		if strings.Contains(string(e.After), "$2") { // a bcrypt hash
			t.Errorf("entry %d (%s) holds a password hash: %s", e.Seq, e.Action, e.After)
		}
	}
	want := []string{
		audit.OperatorCreate + " ok", audit.OperatorCreate + " INVALID_PARAMETER", audit.OperatorCreate + " OPERATOR_EXISTS",
		audit.OperatorTokenCreate + " ok", audit.OperatorTokenRevoke + " ok", audit.OperatorDisable + " ok",
		audit.OperatorEnable + " ok", audit.OperatorPasswordReset + " ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e := entries[len(entries)-1]; e.Target == "" || !strings.Contains(string(e.After), "张经理") || !strings.Contains(string(e.Request), `"limit":500`) {
		t.Fatalf("the creation's entry: %+v", e)
	}
	// The tokens created and revoked are named (not redacted).
	for _, e := range entries {
		if e.Action == audit.OperatorTokenCreate && !strings.Contains(string(e.After), `"id":"`+strings.Fields(created)[1]+`"`) ||
			e.Action == audit.OperatorTokenRevoke && !strings.Contains(string(e.Request), `"id":"`+id[1]+`"`) {
			t.Errorf("entry %d (%s) does not name the token: %s %s", e.Seq, e.Action, e.Request, e.After)
		}
	}
}
