// Package charts embeds iter8's Helm charts so the binary needs nothing from
// the network to generate or install an experiment.
package charts

import "embed"

// FS holds the iter8 experiment chart under "iter8/".
//
//go:embed all:iter8
var FS embed.FS
