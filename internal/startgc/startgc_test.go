package startgc

import (
	"os"
	"runtime/debug"
	"strconv"
	"testing"
)

// While packages initialise the target is raised; Restore sets back the
// one the environment asked for.
func TestRestore(t *testing.T) {
	want := 100
	switch v, err := strconv.Atoi(os.Getenv("GOGC")); {
	case os.Getenv("GOGC") == "off":
		want = -1
	case err == nil:
		want = v
	}
	if Target() != want {
		t.Fatalf("target before start-up %d, want %d (GOGC)", Target(), want)
	}
	Restore()
	got := debug.SetGCPercent(startPercent)
	defer debug.SetGCPercent(got)
	if got != want {
		t.Errorf("after Restore the target is %d, want %d", got, want)
	}
}
