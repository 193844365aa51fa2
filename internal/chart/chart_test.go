package chart

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/source"
)

func render(t *testing.T, v Values) ([]byte, error) {
	t.Helper()
	c, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	vals, err := v.Merge(context.Background(), source.Reader{}, nil)
	if err != nil {
		return nil, err
	}
	return c.Experiment(vals)
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	valuesFile := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(valuesFile, []byte("http:\n  url: http://127.0.0.1:8080/get\n  percentiles: [99.99]\nassess:\n  SLOs:\n    lower:\n    - metric: http/request-count\n      limit: 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmValues := filepath.Join(dir, "custommetrics.yaml")
	if err := os.WriteFile(cmValues, []byte(`custommetrics:
  values:
    prometheusURL: http://prometheus.monitoring:9090
    headers: {Authorization: "Bearer ${env:PROM_TOKEN}"}
    latencyPercentiles: [50, 97.5]
  versionValues:
  - requests: http_requests_total{app="shop",version="v1"}
    errors: http_requests_total{app="shop",version="v1",code=~"5.."}
  - requests: http_requests_total{app="shop",version="v2"}
    errors: http_requests_total{app="shop",version="v2",code=~"5.."}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	payload := filepath.Join(dir, "payload.json")
	if err := os.WriteFile(payload, []byte(`{"x": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		v    Values
	}{
		{"http-assess", Values{Set: []string{
			"tasks={http,assess}", "http.url=http://127.0.0.1:8080/get",
			"assess.SLOs.upper.http/latency-mean=50", "assess.SLOs.upper.http/error-count=0",
		}}},
		{"numbers-from-set", Values{Set: []string{
			"tasks={http,assess}", "http.url=http://127.0.0.1:8080/get",
			"http.qps=12.5", "http.connections=3", "http.percentiles={97.5,99.99}",
			`assess.SLOs.upper.http/latency-p97\.5=100.5`, "assess.SLOs.upper.http/error-rate=0.01",
			"http.headers.X-Id=42", "http.payloadStr=123",
		}}},
		{"values-file-and-strings", Values{
			Files:    []string{valuesFile},
			Set:      []string{"tasks={http,assess,run}", "run.script=echo done", "run.if=SLOs()"},
			Strings:  []string{"http.headers.X-Version=2"},
			FromFile: []string{"http.payloadStr=" + payload},
		}},
		{"custommetrics-assess", Values{Files: []string{cmValues}, Set: []string{
			"tasks={custommetrics,assess}", "custommetrics.templates.prom=prometheus",
			"custommetrics.templates.orders=./orders.tpl", "custommetrics.values.dsn=${file:/run/secrets/orders-dsn}",
			"custommetrics.versionNames={v1,v2}", "custommetrics.timeout=10s", "custommetrics.if=Result.NumLoops > 1",
			"assess.SLOs.upper.prom/error-rate=0.01",
			"assess.SLOs.upper.orders/refund-rate.limit=0.05", "assess.SLOs.upper.orders/refund-rate.onNoData=ignore",
			`assess.SLOs.upper.prom/latency-p97\.5.limit=200`,
		}}},
		{"istio-prom-original", Values{Set: []string{
			"tasks={custommetrics,assess}",
			"custommetrics.templates.istio-prom=istio-prom",
			"custommetrics.values.labels.namespace=default", "custommetrics.values.labels.destination_app=httpbin",
			"custommetrics.versionValues[0].labels.destination_version=v1",
			"custommetrics.versionValues[1].labels.destination_version=v2",
			"assess.SLOs.upper.istio-prom/error-rate=0", "assess.SLOs.upper.istio-prom/latency-mean=100",
		}}},
		{"warmup-and-if", Values{Set: []string{
			"tasks={http,assess}", "http.url=http://127.0.0.1:8080/get", "http.warmupNumRequests=10",
			"http.duration=30s", "assess.if=Result.NumLoops == 2", "assess.SLOs.upper.http/latency-p99=200",
		}}},
		// --set turns false into a boolean: the task is skipped, not run
		// as if no condition were set
		{"if-false", Values{Set: []string{
			"tasks={http,assess}", "http.url=http://127.0.0.1:8080/get", "http.if=true",
			"assess.if=false", "assess.SLOs.upper.http/latency-p99=200",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := render(t, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := experiment.Decode(got); err != nil {
				t.Fatalf("rendered experiment does not decode: %v\n%s", err, got)
			}
			golden.Check(t, filepath.Join("testdata", tt.name+".yaml"), got)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    Values
		want string
	}{
		{"no tasks", Values{}, "tasks is required"},
		{"unknown task", Values{Set: []string{"tasks={htp}"}}, `task name must be one of assess, custommetrics, github, grpc, http, ready, run, slack, webhook; got "htp"`},
		{"custommetrics without templates", Values{Set: []string{"tasks={custommetrics}"}}, "custommetrics.templates is required"},
		{"custommetrics templates not a map", Values{Set: []string{"tasks={custommetrics}", "custommetrics.templates=prometheus"}}, "custommetrics.templates must be a map"},
		{"bad SLO key", Values{Set: []string{"tasks={assess}", "assess.SLOs.upper.p/m.limit=1", "assess.SLOs.upper.p/m.onNodata=ignore"}}, "assess.SLOs.upper.p/m.onNodata is not valid: expected limit or onNoData"},
		{"missing url", Values{Set: []string{"tasks={http}"}}, "http.url is required"},
		{"run without script", Values{Set: []string{"tasks={run}"}}, "run.script is required"},
		{"bad SLO direction", Values{Set: []string{"tasks={assess}", "assess.SLOs.uper.x/y=1"}}, `values: unknown field "assess.SLOs.uper": did you mean "assess.SLOs.upper"? (expected one of lower, upper)`},
		{"unreadable values file", Values{Files: []string{"/nonexistent/values.yaml"}}, "/nonexistent/values.yaml"},
		{"bad set syntax", Values{Set: []string{"tasks={http"}}, "failed parsing --set data"},
		{"SLOs not a map", Values{Set: []string{"tasks={assess}", "assess.SLOs.upper=5"}}, "assess.SLOs.upper is not valid: expected a map from metric name to limit"},
		{"SLO not a map", Values{Set: []string{"tasks={assess}", "assess.SLOs.upper={a,b}"}}, "assess.SLOs.upper[0] is not valid: expected {metric, limit}"},
		{"misspelt limit key", Values{Set: []string{"tasks={assess}", "assess.SLOs.upper.http/latency-mean.limt=50"}}, `assess.SLOs.upper.http/latency-mean.limt is not valid: expected limit or onNoData (assess.SLOs.upper.http/latency-mean=<limit>, or .limit=<limit> with .onNoData); if the metric's name is http/latency-mean.limt, escape the dot: http/latency-mean\.limt=<limit>`},
		{"unescaped dot", Values{Set: []string{"tasks={assess}", "assess.SLOs.upper.http/latency-p97.5=100"}}, `escape dots in metric names: http/latency-p97\.5=<limit>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tt.v)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q (ErrInvalid %v), want it to contain %q", err, errors.Is(err, inputs.ErrInvalid), tt.want)
			}
		})
	}
}
