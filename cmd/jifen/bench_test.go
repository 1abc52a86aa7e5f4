package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runBench runs `jifen bench` briefly against s and returns its report.
func runBench(t *testing.T, s *server, extra ...string) (benchReport, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bench.json")
	args := append([]string{"bench", "--url", s.url + "/router/rest", "--db", s.db, "--workers", "4", "--customers", "20",
		"--duration", "1s", "--ceiling", "300ms", "--json", out}, extra...)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("jifen bench: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, data)
	}
	return rep, stdout.String()
}

// TestBench_ReportsItsOwnCPU: the load tool reports the CPU it used per
// operation in each phase (on a shared machine that CPU is taken from the
// server), and --cpuprofile writes a profile of the phases.
func TestBench_ReportsItsOwnCPU(t *testing.T) {
	s := startServer(t)
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	rep, stdout := runBench(t, s, "--cpuprofile", prof)
	if rep.Verify != "all invariants hold" || rep.Ceiling == nil {
		t.Fatalf("verify %q, ceiling %v", rep.Verify, rep.Ceiling)
	}
	for name, ph := range map[string]phaseReport{"ceiling": *rep.Ceiling, "write mix": rep.Mix} {
		if len(ph.Errors) != 0 || ph.All.Count == 0 {
			t.Errorf("%s: %d ops, errors %v %v", name, ph.All.Count, ph.Errors, ph.ErrorExamples)
		}
		if ph.LoadToolCPUSeconds <= 0 || ph.LoadToolCPUPerOpUs <= 0 ||
			ph.LoadToolCPUPerOpUs > 1e6*ph.LoadToolCPUSeconds/float64(ph.All.Count)+1 {
			t.Errorf("%s: load tool CPU %v s, %v µs per op over %d ops", name, ph.LoadToolCPUSeconds, ph.LoadToolCPUPerOpUs, ph.All.Count)
		}
	}
	if n := strings.Count(stdout, "load tool CPU per op: "); n != 2 {
		t.Errorf("%d \"load tool CPU per op\" lines, want 2:\n%s", n, stdout)
	}
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	// A pprof profile is gzipped protobuf.
	if len(data) < 100 || data[0] != 0x1f || data[1] != 0x8b {
		t.Errorf("--cpuprofile wrote %d bytes, not a gzipped profile", len(data))
	}
}
