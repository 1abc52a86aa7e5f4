package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"jifen/audit"
	"jifen/operator"
)

// TestApplyCommand: jifen apply is in the audit log as the admin API's
// POST /admin/v1/tenant is — one tenant.apply entry by the operator cli
// with the file asked and what was stored, or the refusal's code — and no
// secret is in it: neither those the file gives an app and a webhook nor
// those generated. On both stores.
func TestApplyCommand(t *testing.T) {
	const appSecret, hookSecret = "kiosk-secret-0123456789abcdef", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for kind, newDB := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			c := newCLIDB(t, newDB)
			dir := t.TempDir()
			file := func(name, yaml string) string {
				t.Helper()
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			good := file("good.yaml", `apps:
  - {app_key: "kiosk", secret: "`+appSecret+`", name: "自助机", channels: [KRY], brands: ["demo-brand"]}
  - {app_key: "kiosk-2", name: "自助机二号", channels: [KRY], brands: ["demo-brand"]}
webhooks:
  - {webhook_id: "crm", url: "https://crm.example.com/hooks", secret: "`+hookSecret+`"}
  - {webhook_id: "bi", url: "https://bi.example.com/hooks"}
`)
			bad := file("bad.yaml", `apps:
  - {app_key: "@pos", name: "冒名", channels: [KRY], brands: ["demo-brand"]}
`)
			out, err := c.jifen("apply", "-f", good)
			if err != nil {
				t.Fatalf("apply: %v %s", err, out)
			}
			generated := regexp.MustCompile(`generated secret for \w+ \S+: (\S+)`).FindAllStringSubmatch(out, -1)
			if len(generated) != 2 {
				t.Fatalf("apply printed %q, want two generated secrets", out)
			}
			if out, err := c.jifen("apply", "-f", bad); err == nil {
				t.Fatalf("apply of a reserved app key: %s", out)
			}

			es := c.auditLog()
			if len(es) != 2 {
				t.Fatalf("%d audit entries, want 2: %+v", len(es), es)
			}
			for _, e := range es {
				if e.Action != audit.TenantApply || e.OperatorID != operator.CLIName || e.OperatorName != operator.CLIName {
					t.Errorf("entry %d: %s by %s (%s), want tenant.apply by cli", e.Seq, e.Action, e.OperatorName, e.OperatorID)
				}
				all := string(e.Request) + string(e.Before) + string(e.After) + e.Message
				for _, s := range []string{appSecret, hookSecret, generated[0][1], generated[1][1]} {
					if strings.Contains(all, s) {
						t.Errorf("entry %d holds the secret %s: %s", e.Seq, s, all)
					}
				}
			}
			done, refused := es[0], es[1]
			// The file is recorded under its own names (app_key, not AppKey).
			if done.Outcome != audit.OK || !strings.Contains(string(done.Request), `"app_key":"kiosk-2"`) ||
				!strings.Contains(string(done.Request), `"https://crm.example.com/hooks"`) ||
				strings.Count(string(done.Request), audit.Redacted) != 2 ||
				string(done.After) != `{"apps":2,"brands":0,"customers":0,"rules":0,"shops":0,"webhooks":2}` {
				t.Errorf("the apply's entry: %s %s → %s", done.Outcome, done.Request, done.After)
			}
			if refused.Outcome != "INVALID_PARAMETER" || refused.Message == "" || refused.After != nil ||
				!strings.Contains(string(refused.Request), `"@pos"`) {
				t.Errorf("the refused apply's entry: %s %q %s → %s", refused.Outcome, refused.Message, refused.Request, refused.After)
			}
		})
	}
}
