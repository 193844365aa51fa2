//go:build !linux

package load

import "time"

// sleeper is Linux's timerfd pacing; elsewhere workers sleep on Go timers.
type sleeper struct{}

// newSleeper returns nil: there is no timerfd.
func newSleeper(<-chan struct{}) *sleeper { return nil }

// sleep is never called on a nil sleeper.
func (*sleeper) sleep(time.Duration) bool { return false }

// close does nothing.
func (*sleeper) close() {}
