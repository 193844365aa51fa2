//go:build race

package report_test

// raceSlowdown stretches time limits under the race detector, which makes
// this code about ten times slower.
const raceSlowdown = 20
