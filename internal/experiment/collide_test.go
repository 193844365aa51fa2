package experiment_test

import (
	"errors"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
)

// providersRegistry accepts http, grpc and custommetrics tasks with any
// inputs, so the rule is tested on specs alone.
func providersRegistry() experiment.Registry {
	accept := func(map[string]any) (experiment.Task, error) { return failTask{}, nil }
	return experiment.Registry{"http": accept, "grpc": accept, "custommetrics": accept, "assess": accept}
}

// Two tasks that write the same metric names in one loop are refused,
// naming both, and so are tasks that measure different numbers of
// versions; warmups and separate names are fine.
func TestLoadTasksMustNotShareMetrics(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, spec, want string
	}{
		{"two http", "- task: http\n  with: {url: http://a}\n- task: assess\n- task: http\n  with: {url: http://b}\n",
			"task 1 (http) and task 3 (http) both write the metrics http/… in one loop"},
		{"two grpc", "- task: grpc\n- task: grpc\n", "task 1 (grpc) and task 2 (grpc) both write the metrics grpc/…"},
		{"same endpoint ids", "- task: http\n  with: {warmup: false, endpoints: {a: {}}}\n- task: http\n  with: {endpoints: {a: {}}}\n", "task 1 (http) and task 2 (http) both write the metrics http/…"},
		{"same provider", "- task: custommetrics\n  with: {templates: {prom: prometheus}}\n- task: custommetrics\n  with: {templates: {prom: istio-prom, other: x}}\n",
			"task 1 (custommetrics) and task 2 (custommetrics) both write the metrics prom/…"},
		{"warmup first", "- task: http\n  with: {warmup: true}\n- task: http\n", ""},
		{"warmup with the same provider", "- task: http\n  with: {warmup: true, provider: a}\n- task: http\n  with: {provider: a}\n", ""},
		{"providers apart", "- task: http\n  with: {url: http://a}\n- task: http\n  with: {url: http://b, provider: canary, endpoints: {x: {}}}\n- task: grpc\n  with: {provider: baseline}\n", ""},
		{"the hint names provider", "- task: http\n- task: http\n", "give one of them its own metric names with provider:"},
		{"same provider", "- task: http\n  with: {provider: canary}\n- task: grpc\n  with: {provider: canary}\n", "task 1 (http) and task 2 (grpc) both write the metrics canary/…"},
		{"provider of a custommetrics template", "- task: custommetrics\n  with: {templates: {prom: prometheus}}\n- task: http\n  with: {provider: prom}\n",
			"task 1 (custommetrics) and task 2 (http) both write the metrics prom/…"},
		{"provider of another task's endpoint", "- task: http\n  with: {provider: canary, endpoints: {x: {}}}\n- task: http\n  with: {provider: canary-x}\n",
			"task 1 (http) and task 2 (http) both write the metrics canary-x/…"},
		{"provider that reads as an endpoint", "- task: http\n  with: {provider: canary}\n- task: grpc\n  with: {provider: canary-x}\n",
			"task 2 (grpc) writes the metrics canary-x/…, which read as those of endpoint x of task 1 (http, metrics canary/…)"},
		{"http and grpc", "- task: http\n- task: grpc\n", ""},
		{"different providers", "- task: custommetrics\n  with: {templates: {a: prometheus}}\n- task: custommetrics\n  with: {templates: {b: prometheus}}\n", ""},
		// every task measures the same versions
		{"two versions after one", "- task: http\n- task: custommetrics\n  with: {templates: {a: prometheus}, versionValues: [{}, {}]}\n",
			"task 1 (http) measures 1 version(s) and task 2 (custommetrics) 2: the tasks of an experiment measure the same versions"},
		{"two versions after a warmup", "- task: http\n  with: {warmup: true}\n- task: custommetrics\n  with: {templates: {a: prometheus}, versionValues: [{}, {}]}\n", ""},
		{"two versions twice", "- task: custommetrics\n  with: {templates: {a: prometheus}, versionValues: [{}, {}]}\n- task: custommetrics\n  with: {templates: {b: prometheus}, versionValues: [{}, {}]}\n- task: assess\n", ""},
	} {
		exp, err := experiment.Decode([]byte("spec:\n" + tt.spec))
		if err != nil {
			t.Fatal(err)
		}
		_, err = experiment.Build(exp.Spec, providersRegistry())
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, inputs.ErrInvalid)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}
