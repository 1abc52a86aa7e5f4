package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"jifen/storetest"
)

func TestCommandFor(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module jifen\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "cmd", "jifen")
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "my bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, twin := filepath.Join(bin, "jifen"), filepath.Join(bin, "jifen-old")
	for _, f := range []string{exe, twin} {
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, exe, wd, onPath, goCache string
		command, dir                   string
	}{
		{"go run, first build", "/tmp/go-build1234/b001/exe/jifen", root, "", "", "go run ./cmd/jifen", root},
		{"go run, cached, from a subdirectory", "/home/u/.cache/go-build/2e/2e9f-d/jifen", sub, "", "", "go run ./cmd/jifen", root},
		{"go run, GOCACHE elsewhere", "/var/cache/gocache/2e/2e9f-d/jifen", root, "", "/var/cache/gocache", "go run ./cmd/jifen", root},
		{"go run outside the checkout", "/tmp/go-build1/b001/exe/jifen", other, "", "", "go run ./cmd/jifen", ""},
		{"the binary on the PATH", exe, other, exe, "", "jifen", ""},
		{"another jifen on the PATH", exe, other, twin, "", "'" + exe + "'", ""},
		{"not on the PATH, path quoted", exe, other, "", "", "'" + exe + "'", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			command, dir := commandFor(tt.exe, tt.wd, tt.onPath, tt.goCache)
			if command != tt.command || dir != tt.dir {
				t.Errorf("got %q in %q, want %q in %q", command, dir, tt.command, tt.dir)
			}
		})
	}
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote: %s", got)
	}
}

// TestDemo_PrintedExamplesRun does what a new user does in their first
// minutes: start `serve --demo` (with go run from the checkout, as the
// README says, or as a built binary, on the PATH or not), then paste the
// example calls it prints into a shell elsewhere. They must run as
// printed and succeed.
func TestDemo_PrintedExamplesRun(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on the PATH: the printed go run examples cannot run here")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	serve := []string{"serve", "--demo", "--addr", "127.0.0.1:0"}
	t.Run("go run", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "jifen.db")
		block := demoExamples(t, root, os.Environ(), goTool, append([]string{"run", "./cmd/jifen"}, append(serve, "--db", db)...)...)
		if !strings.Contains(block, "  go run ./cmd/jifen call ") {
			t.Errorf("examples of a go run server:\n%s", block)
		}
		runExamples(t, block, os.Environ())
	})

	bin := t.TempDir()
	build := exec.Command(goTool, "build", "-o", filepath.Join(bin, "jifen"), "./cmd/jifen")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("built binary", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "jifen.db")
		block := demoExamples(t, t.TempDir(), os.Environ(), filepath.Join(bin, "jifen"), append(serve, "--db", db)...)
		if !strings.Contains(block, "  "+filepath.Join(bin, "jifen")+" call ") {
			t.Errorf("examples of a binary not on the PATH:\n%s", block)
		}
		runExamples(t, block, os.Environ())
	})
	t.Run("binary on the PATH", func(t *testing.T) {
		env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		db := filepath.Join(t.TempDir(), "jifen.db")
		block := demoExamples(t, t.TempDir(), env, filepath.Join(bin, "jifen"), append(serve, "--db", db)...)
		if !strings.Contains(block, "\n  jifen call ") {
			t.Errorf("examples of the jifen on the PATH:\n%s", block)
		}
		runExamples(t, block, env)
	})
}

// demoExamples starts name args (a `serve --demo`) in dir, in a process
// group of its own, and returns the example block it prints (the lines
// after "Try it", up to the blank line), with the server left running
// until the test ends.
func demoExamples(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run's child too
	var stderr storetest.LockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	blockc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var block []string
		in := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "Try it"):
				in = true
			case in && line == "":
				blockc <- strings.Join(block, "\n")
				in = false
			case in:
				block = append(block, line)
			}
		}
		io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	select {
	case b := <-blockc:
		return b
	case err := <-done:
		t.Fatalf("%s %s exited before printing its examples: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	case <-time.After(5 * time.Minute): // go run may build jifen first
		t.Fatalf("%s %s printed no examples within 5 minutes\n%s", name, strings.Join(args, " "), stderr.String())
	}
	return ""
}

// runExamples runs the example block as a user pastes it into a shell
// opened elsewhere, and checks that every call succeeded.
func runExamples(t *testing.T, block string, env []string) {
	t.Helper()
	sh := exec.Command("sh", "-e", "-c", block)
	sh.Dir, sh.Env = t.TempDir(), env
	var out, errb bytes.Buffer
	sh.Stdout, sh.Stderr = &out, &errb
	if err := sh.Run(); err != nil {
		t.Fatalf("the printed examples failed: %v\n%s\n%s%s", err, block, out.String(), errb.String())
	}
	if n := strings.Count(out.String(), `"biz_success":true`); n != 2 {
		t.Fatalf("%d of the 2 example calls succeeded:\n%s\n%s", n, block, out.String())
	}
}
