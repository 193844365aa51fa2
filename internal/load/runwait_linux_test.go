package load

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunWait keeps two of the process's threads ready to run on one CPU
// for 100 ms: one of them always waits for it, so their run_delay grows by
// about 100 ms (more on a busy machine, never much less).
func TestRunWait(t *testing.T) {
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mask); err != nil {
		t.Fatalf("affinity: %v", err)
	}
	cpu := -1
	for c := range 1024 {
		if mask.IsSet(c) {
			cpu = c
			break
		}
	}
	if cpu < 0 {
		t.Fatal("no CPU in the affinity mask")
	}
	spun, release := make(chan error), make(chan struct{})
	before := runWait()
	deadline := time.Now().Add(100 * time.Millisecond)
	for range 2 {
		go func() {
			// locked and never unlocked: the thread, pinned, ends with
			// the goroutine (after the measurement, so that it counts)
			runtime.LockOSThread()
			var one unix.CPUSet
			one.Set(cpu)
			err := unix.SchedSetaffinity(0, &one)
			for err == nil && time.Now().Before(deadline) {
			}
			spun <- err
			<-release
		}()
	}
	for range 2 {
		if err := <-spun; err != nil {
			t.Fatalf("pinning a thread: %v", err)
		}
	}
	waited := runWait() - before
	close(release)
	t.Logf("two threads ready on one CPU for 100 ms waited %v", waited)
	if waited < 40*time.Millisecond {
		t.Errorf("two threads ready on one CPU for 100 ms waited %v in all, want at least 40ms", waited)
	}
}
