package load

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// runWait returns how long the process's threads have been ready to run but
// waited for a CPU: the sum of each thread's run_delay, the second field of
// /proc/self/task/<tid>/schedstat (see the kernel's
// Documentation/scheduler/sched-stats.rst). A thread that has exited is
// not counted; Go seldom ends its threads. It is 0 where the kernel does
// not keep the figure.
func runWait() time.Duration {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/schedstat")
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			continue
		}
		if ns, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum
}
