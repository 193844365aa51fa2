// Package task implements iter8's tasks (http, assess, run, …) and builds the
// registry that maps their names to builders.
package task

import "iter8.tools/iter8/internal/experiment"

// Registry returns every task iter8 knows, by name.
func Registry() experiment.Registry {
	return experiment.Registry{
		"assess":        newAssess,
		"custommetrics": newCustomMetrics,
		"grpc":          newGRPC,
		"http":          newHTTP,
		"notify":        newNotify,
		"run":           newRun,
	}
}
