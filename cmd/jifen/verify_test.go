package main

import (
	"errors"
	"strings"
	"testing"
)

// TestVerifyCommand_AuditEdited: `jifen verify` checks the audit log's
// chain: an entry edited with SQL behind jifen's back makes it exit 1,
// naming the entry, on both stores.
func TestVerifyCommand_AuditEdited(t *testing.T) {
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			c := newCLIDB(t, newDB)
			// Three entries: two operators added around a refused release.
			for _, args := range [][]string{
				{"operator", "add", "--name", "甲", "--role", "viewer"},
				{"hold", "release", "--brand", "demo-brand", "--order", "none"},
				{"operator", "add", "--name", "乙", "--role", "viewer"},
			} {
				c.jifen(args...)
			}
			if n := len(c.auditLog()); n != 3 {
				t.Fatalf("%d audit entries, want 3", n)
			}
			out, err := c.jifen("verify")
			if err != nil || !strings.Contains(out, "3 audit entries") || !strings.Contains(out, "all invariants hold") {
				t.Fatalf("verify before the edit: %v\n%s", err, out)
			}

			execOn(t, kind, c.db)("UPDATE audit_log SET operator_name = '甲' WHERE seq = 2")
			out, err = c.jifen("verify")
			var ex exitError
			if !errors.As(err, &ex) || ex != 1 {
				t.Fatalf("verify after the edit: %v, want exit status 1\n%s", err, out)
			}
			if !strings.Contains(out, "VIOLATION") || !strings.Contains(out, "audit entry 2: its content does not match its hash") ||
				strings.Contains(out, "all invariants hold") {
				t.Fatalf("verify after the edit does not name entry 2:\n%s", out)
			}
		})
	}
}
