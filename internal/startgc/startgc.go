// Package startgc relaxes the garbage collector while the binary starts.
//
// Initialising the packages iter8 links (Kubernetes API schemes, Helm, JSON
// schemas) allocates about 10 MB of tables that live as long as the process.
// With Go's default target (GOGC=100, starting at a 4 MB heap) the collector
// runs three times during that for almost nothing to free, about a fifth of
// a one-request launch's CPU. Importing this package first raises the
// target while the other packages initialise; Restore sets it back to what
// the environment asked for (GOGC, or 100) before any work is done, so the
// memory a run uses is unchanged. Package main calls Restore from its init
// function, which runs after every package it imports and also runs in
// its tests; a binary that imports this package and never restores keeps
// the raised target.
//
// Go initialises packages in dependency order and otherwise by import path,
// so this package runs before every iter8.tools and k8s.io package (the
// largest allocators) but after the github.com ones that are ready first.
package startgc

import "runtime/debug"

// startPercent is the collector's target while packages initialise.
const startPercent = 800

var before = debug.SetGCPercent(startPercent)

// Restore sets the collector's target back to the one in force before the
// binary started.
func Restore() { debug.SetGCPercent(before) }

// Target is the collector's target in force before the binary started:
// GOGC's, or 100.
func Target() int { return before }
