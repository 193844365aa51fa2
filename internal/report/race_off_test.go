//go:build !race

package report_test

// raceSlowdown stretches time limits under the race detector.
const raceSlowdown = 1
