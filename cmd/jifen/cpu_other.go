//go:build !unix

package main

import "time"

// processCPU is not measured where getrusage is not available.
func processCPU() (time.Duration, bool) { return 0, false }
