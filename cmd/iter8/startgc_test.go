package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"testing"
)

// The collector's target raised while packages initialise is back to
// GOGC's once package main is initialised (for the binary and for these
// tests, whose children otherwise inherit a larger peak memory).
func TestCollectorTargetRestored(t *testing.T) {
	want := 100
	switch v, err := strconv.Atoi(os.Getenv("GOGC")); {
	case os.Getenv("GOGC") == "off":
		want = -1
	case err == nil:
		want = v
	}
	got := debug.SetGCPercent(want)
	debug.SetGCPercent(got)
	if got != want {
		t.Errorf("collector target %d after package main's init, want %d (GOGC)", got, want)
	}
}
