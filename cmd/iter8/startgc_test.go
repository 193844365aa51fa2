package main

import (
	"runtime/debug"
	"testing"

	"iter8.tools/iter8/internal/startgc"
)

// The collector's target raised while packages initialise is back to
// GOGC's once package main is initialised (for the binary and for these
// tests, whose children otherwise inherit a larger peak memory).
func TestCollectorTargetRestored(t *testing.T) {
	want := startgc.Target()
	got := debug.SetGCPercent(want)
	debug.SetGCPercent(got)
	if got != want {
		t.Errorf("collector target %d after package main's init, want %d (GOGC)", got, want)
	}
}
