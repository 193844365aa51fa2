//go:build !linux

package load

import "time"

// runWait is not measured on this platform: a generator that others keep
// from the CPU is told only by its lateness.
func runWait() time.Duration { return 0 }
