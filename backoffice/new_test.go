package backoffice

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNew_TheCompilerChecksTheStore: a store that lacks one of the
// operators' reads is refused when the program is built, not when the
// admin API starts (as it was while the service type-asserted its store).
// Handing New a points.Store — the service's contract, without those
// reads — must not compile; a store that adds them must.
func TestNew_TheCompilerChecksTheStore(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on the PATH: cannot build a program here")
	}
	build := func(store string) (string, error) {
		t.Helper()
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		// A file added to this package for one build only (go build
		// -overlay), so nothing is written beside the sources.
		src := filepath.Join(t.TempDir(), "wiring.go")
		code := "package backoffice\n\nimport \"jifen/points\"\n\n" +
			"var _ = func(svc *points.Service, store " + store + ") *Office { return New(svc, store) }\n"
		if err := os.WriteFile(src, []byte(code), 0o600); err != nil {
			t.Fatal(err)
		}
		overlay, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(dir, "zz_wiring.go"): src}})
		if err != nil {
			t.Fatal(err)
		}
		o := filepath.Join(t.TempDir(), "overlay.json")
		if err := os.WriteFile(o, overlay, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(goTool, "build", "-overlay", o, ".")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := build("points.Store")
	if err == nil {
		t.Fatal("a points.Store without the operators' reads was accepted by New")
	}
	if !strings.Contains(out, "does not implement Reader (missing method") {
		t.Fatalf("the build failed, but not for the missing reads:\n%s", out)
	}
	if out, err := build("interface { points.Store; Reader }"); err != nil {
		t.Fatalf("a store with the operators' reads does not build: %v\n%s", err, out)
	}
}
