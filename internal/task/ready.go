package task

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/k8s"
)

// defaultReadyTimeout is the ready task's timeout: 60s, as the original's
// documentation said (its code used 10s).
const defaultReadyTimeout = 60 * time.Second

// readyInputs are the ready task's inputs (compat section 3.1).
type readyInputs struct {
	Name     string `json:"name"`
	Group    string `json:"group,omitempty"`
	Version  string `json:"version,omitempty"`
	Resource string `json:"resource"`
	// Namespace defaults to the namespace the experiment runs in (k run
	// --namespace), or the kubeconfig context's when run locally.
	Namespace string `json:"namespace,omitempty"`
	// Condition, when set, must have status True.
	Condition string           `json:"condition,omitempty"`
	Timeout   *inputs.Duration `json:"timeout,omitempty"`
}

type readyTask struct {
	in   readyInputs
	kube *k8s.Kube
}

// NewReady returns the ready task's builder. Its checks use kube's clients
// and namespace; nil means the default kubeconfig (KUBECONFIG, ~/.kube/config,
// or the pod's ServiceAccount in a cluster).
func NewReady(kube *k8s.Kube) experiment.Builder {
	return func(with map[string]any) (experiment.Task, error) {
		t := &readyTask{kube: kube}
		if err := inputs.Decode(with, &t.in); err != nil {
			return nil, err
		}
		in := &t.in
		if strings.TrimSpace(in.Name) == "" {
			return nil, &inputs.FieldError{Field: "name", Missing: true, Expected: "the name of the object to check, such as httpbin"}
		}
		if strings.TrimSpace(in.Resource) == "" {
			return nil, &inputs.FieldError{Field: "resource", Missing: true, Expected: "a plural resource name such as deployments or services"}
		}
		if in.Resource != strings.ToLower(in.Resource) {
			return nil, &inputs.FieldError{Field: "resource", Value: in.Resource, Expected: "a lower-case plural resource name such as deployments or services"}
		}
		if in.Version == "" {
			in.Version = "v1"
		}
		if in.Timeout == nil {
			in.Timeout = &inputs.Duration{Duration: defaultReadyTimeout}
		}
		if in.Timeout.Duration <= 0 {
			return nil, &inputs.FieldError{Field: "timeout", Value: in.Timeout.String(), Expected: "a positive duration such as 60s"}
		}
		return t, nil
	}
}

func (t *readyTask) Inputs() any { return t.in }

// Run waits until the object exists and, with a condition, until that
// condition has status True.
func (t *readyTask) Run(ctx context.Context, env *experiment.Env) error {
	kube := t.kube
	if kube == nil {
		kube = k8s.New()
	}
	ns := t.in.Namespace
	if ns == "" {
		var err error
		if ns, err = kube.Namespace(); err != nil {
			return err
		}
	}
	client, err := kube.Dynamic()
	if err != nil {
		return err
	}
	chk := k8s.ReadyCheck{
		Resource:  schema.GroupVersionResource{Group: t.in.Group, Version: t.in.Version, Resource: t.in.Resource},
		Namespace: ns,
		Name:      t.in.Name,
		Condition: t.in.Condition,
		Timeout:   t.in.Timeout.Duration,
		OnAttempt: func(reason string) { env.Logger.Debug("not ready yet", "reason", reason) },
	}
	what := fmt.Sprintf("%s %s", k8s.ResourceName(chk.Resource), t.in.Name)
	if t.in.Condition != "" {
		what += " (condition " + t.in.Condition + ")"
	}
	env.Logger.Info("waiting for "+what, "namespace", ns, "timeout", t.in.Timeout.String())
	if err := chk.Wait(ctx, client); err != nil {
		return err
	}
	env.Logger.Info(what+" is ready", "namespace", ns)
	return nil
}
