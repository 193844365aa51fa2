package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// The collector's target raised while packages initialise is back to
// GOGC's once package main is initialised (for the binary and for these
// tests, whose children otherwise inherit a larger peak memory).
func TestCollectorTargetRestored(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set")
	}
	got := debug.SetGCPercent(100)
	debug.SetGCPercent(got)
	if got != 100 {
		t.Errorf("collector target %d after package main's init, want 100", got)
	}
}
