package experiment

import (
	"fmt"
	"sort"
)

// metricProviders returns the metric name prefixes a step writes in a loop
// ("http" for http/latency-mean, "http-<endpoint>", "grpc", a custommetrics
// provider's name), or nil for a task that writes none or whose results are
// discarded (a warmup). It reads the step's spec with its defaults filled
// in, so it sees what will run.
func metricProviders(s Step) []string {
	with := s.Spec.With
	switch s.Name {
	case "http", "grpc":
		if w, ok := with["warmup"].(bool); ok && w {
			return nil
		}
		out := []string{s.Name}
		if eps, ok := with["endpoints"].(map[string]any); ok {
			for id := range eps {
				out = append(out, s.Name+"-"+id)
			}
		}
		return out
	case "custommetrics":
		var out []string
		if tpls, ok := with["templates"].(map[string]any); ok {
			for name := range tpls {
				out = append(out, name)
			}
		}
		return out
	}
	return nil
}

// checkProviders refuses two tasks that write the same metric names in one
// loop: the second would silently replace the first's values, errors
// included. Warmup tasks write nothing and do not count.
func checkProviders(steps []Step) error {
	owner := map[string]int{}
	for i, s := range steps {
		ps := metricProviders(s)
		sort.Strings(ps)
		for _, p := range ps {
			j, taken := owner[p]
			if !taken {
				owner[p] = i
				continue
			}
			hint := "give each its own provider name in templates"
			if s.Name == "http" || s.Name == "grpc" {
				hint = fmt.Sprintf("load several endpoints from one %s task (endpoints:), or mark the first warmup: true to discard its results", s.Name)
			}
			return invalidf("task %d (%s) and task %d (%s) both write the metrics %s/… in one loop: the later would silently replace the earlier's values, errors included; %s",
				j+1, steps[j].Name, i+1, s.Name, p, hint)
		}
	}
	return nil
}
