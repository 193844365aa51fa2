package experiment

import (
	"fmt"
	"sort"
	"strings"
)

// metricProviders returns the metric name prefixes a step writes in a loop
// ("http" for http/latency-mean, "http-<endpoint>", "grpc", a load task's
// provider input and "<provider>-<endpoint>", a custommetrics provider's
// name), or nil for a task that writes none or whose results are discarded
// (a warmup). It reads the step's spec with its defaults filled
// in, so it sees what will run.
func metricProviders(s Step) []string {
	with := s.Spec.With
	switch s.Name {
	case "http", "grpc":
		if w, ok := with["warmup"].(bool); ok && w {
			return nil
		}
		name := s.Name
		if p, ok := with["provider"].(string); ok && p != "" {
			name = p
		}
		out := []string{name}
		if eps, ok := with["endpoints"].(map[string]any); ok {
			for id := range eps {
				out = append(out, name+"-"+id)
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
	base := map[int]string{} // the whole-run provider of each load step
	for i, s := range steps {
		ps := metricProviders(s)
		if (s.Name == "http" || s.Name == "grpc") && len(ps) > 0 {
			base[i] = ps[0]
		}
		sort.Strings(ps)
		for _, p := range ps {
			j, taken := owner[p]
			if !taken {
				owner[p] = i
				continue
			}
			hint := "give each its own provider name in templates"
			if s.Name == "http" || s.Name == "grpc" {
				hint = fmt.Sprintf("give one of them its own metric names with provider: (for example provider: canary writes canary/latency-p99), load several endpoints from one %s task (endpoints:), or mark the first warmup: true to discard its results", s.Name)
			}
			return invalidf("task %d (%s) and task %d (%s) both write the metrics %s/… in one loop: the later would silently replace the earlier's values, errors included; %s",
				j+1, steps[j].Name, i+1, s.Name, p, hint)
		}
	}
	for i := range steps {
		for j := range steps {
			b, c := base[i], base[j]
			if b != "" && c != "" && i != j && strings.HasPrefix(b, c+"-") {
				return invalidf("task %d (%s) writes the metrics %s/…, which read as those of endpoint %s of task %d (%s, metrics %s/…); give it a provider name that does not begin with %s-",
					i+1, steps[i].Name, b, strings.TrimPrefix(b, c+"-"), j+1, steps[j].Name, c, c)
			}
		}
	}
	return nil
}

// measuredVersions is how many versions a step measures: 1 for a load task
// (none for a warmup), the length of a custommetrics task's versionValues
// (at least 1), 0 for a task that measures none.
func measuredVersions(s Step) int {
	switch s.Name {
	case "http", "grpc":
		if len(metricProviders(s)) == 0 {
			return 0
		}
		return 1
	case "custommetrics":
		if vv, ok := s.Spec.With["versionValues"].([]any); ok && len(vv) > 0 {
			return len(vv)
		}
		return 1
	}
	return 0
}

// checkVersions refuses tasks that measure different numbers of versions:
// the later one would fail the loop when it runs, after the load before it
// had run for nothing.
func checkVersions(steps []Step) error {
	first := -1
	for i, s := range steps {
		n := measuredVersions(s)
		switch {
		case n == 0:
		case first < 0:
			first = i
		case n != measuredVersions(steps[first]):
			return invalidf("task %d (%s) measures %d version(s) and task %d (%s) %d: the tasks of an experiment measure the same versions (one entry of versionValues per version)",
				first+1, steps[first].Name, measuredVersions(steps[first]), i+1, s.Name, n)
		}
	}
	return nil
}
