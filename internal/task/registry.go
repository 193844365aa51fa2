// Package task implements iter8's tasks (http, assess, run, …) and builds the
// registry that maps their names to builders.
package task

import (
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/k8s"
)

// Deps are what tasks need from their environment.
type Deps struct {
	// Kube is the cluster the ready task checks; nil outside Kubernetes,
	// where ready uses the default kubeconfig when it runs.
	Kube *k8s.Kube
	// Generators are the load generator pods of an Indexed Job that load
	// tasks with replicas share; nil outside one, where replicas above 1
	// is invalid input.
	Generators *Generators
}

// Registry returns every task iter8 knows, by name, built with deps.
func Registry(deps Deps) experiment.Registry {
	return experiment.Registry{
		"assess":        newAssess,
		"custommetrics": newCustomMetrics,
		"grpc":          withGenerators(newGRPC, deps.Generators),
		"http":          withGenerators(newHTTP, deps.Generators),
		"notify":        newNotify,
		"ready":         NewReady(deps.Kube),
		"run":           newRun,
	}
}
