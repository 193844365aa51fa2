package report_test

import (
	"fmt"
	"os"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/report"
)

// Render an experiment in a format chosen by name, as `iter8 report -o`
// does.
func ExampleLookup() {
	exp, err := experiment.Decode([]byte(`
spec:
- task: assess
  with: {SLOs: {upper: [{metric: app/latency-mean, limit: 50}]}}
result:
  startTime: "2026-11-27T13:20:00Z"
  numLoops: 1
  numCompletedTasks: 1
  failure: false
  iter8Version: v0.14.0
  insights:
    numVersions: 1
    metricsInfo:
      app/latency-mean: {description: mean latency, units: msec, type: Gauge}
    nonHistMetricValues: [{app/latency-mean: [62.5]}]
    sloVerdicts:
    - metric: app/latency-mean
      limit: 50
      direction: upper
      versions: [{value: 62.5, outcome: failed, reason: value 62.5 is above the limit 50}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := report.Lookup("markdown")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w(os.Stdout, exp, report.Options{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// ## ❌ iter8: SLOs not satisfied
	//
	// experiment completed · no task failures · 1 of 1 tasks completed · 1 loop
	//
	// ### SLOs
	//
	// | SLO | version 0 |
	// | --- | --- |
	// | `app/latency-mean` ≤ 50 msec | ❌ failed (62.50) |
	//
	// <details><summary>Latest value of every metric (1)</summary>
	//
	// | metric | version 0 |
	// | --- | ---: |
	// | `app/latency-mean` (msec) | 62.50 |
	//
	// </details>
}
