package provider_test

import (
	"fmt"
	"time"

	"iter8.tools/iter8/internal/provider"
)

func ExampleTemplate_Render() {
	tp, err := provider.Parse("prom", "example", []byte(`url: {{ .url }}/api/v1/query
metrics:
- name: error-rate
  type: gauge
  params: [{name: query, value: 'sum(rate(errors_total{version="{{ .version }}"}[{{ .elapsedTimeSeconds }}s]))'}]
  jqExpression: .data.result[0].value[1]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for _, version := range []string{"v1", "v2"} {
		vals, _ := provider.VersionValues(map[string]any{"url": "http://prometheus:9090"}, map[string]any{"version": version}, start, start.Add(time.Minute))
		spec, err := tp.Render(vals)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(spec.URL, spec.Metrics[0].Params[0].Value)
	}
	// Output:
	// http://prometheus:9090/api/v1/query sum(rate(errors_total{version="v1"}[60s]))
	// http://prometheus:9090/api/v1/query sum(rate(errors_total{version="v2"}[60s]))
}
