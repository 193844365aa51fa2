// Package k8s connects iter8 to Kubernetes: clients built from a kubeconfig
// and the usual kube flags, the Secret store that keeps an experiment with
// optimistic concurrency, readiness checks on any resource, experiments
// installed as Helm releases (Jobs and CronJobs), and the logs of their pods.
package k8s

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"iter8.tools/iter8/internal/inputs"
)

// DefaultGroup is the experiment group used when none is given.
const DefaultGroup = "default"

// Labels and annotations on the objects of an experiment.
const (
	// GroupLabel marks the pods (and other objects) of an experiment group.
	GroupLabel = "iter8.tools/group"
	// ExperimentKey is the Secret key holding the experiment.
	ExperimentKey = "experiment.yaml"
)

// Kube builds Kubernetes clients from a kubeconfig (KUBECONFIG, ~/.kube/config
// or, inside a pod, the pod's ServiceAccount) and the kube flags.
type Kube struct {
	// Flags are the kube flags (--kubeconfig, --context, -n/--namespace, ...).
	Flags *genericclioptions.ConfigFlags
}

// New returns a Kube with the default kubeconfig loading rules.
func New() *Kube {
	return &Kube{Flags: genericclioptions.NewConfigFlags(true)}
}

// AddFlags adds the kube flags kubectl users know (--kubeconfig, --context,
// -n/--namespace, --server, --token, --as, ...) and, hidden, the names the
// original iter8 took from Helm (--kube-context, --kube-apiserver,
// --kube-token, --kube-as-user, --kube-as-group, --kube-ca-file).
func (k *Kube) AddFlags(fs *pflag.FlagSet) {
	k.Flags.AddFlags(fs)
	aliases := []struct {
		name string
		dst  *string
	}{
		{"kube-context", k.Flags.Context},
		{"kube-apiserver", k.Flags.APIServer},
		{"kube-token", k.Flags.BearerToken},
		{"kube-as-user", k.Flags.Impersonate},
		{"kube-ca-file", k.Flags.CAFile},
	}
	for _, a := range aliases {
		fs.StringVar(a.dst, a.name, *a.dst, "same as --"+a.name[len("kube-"):])
		_ = fs.MarkHidden(a.name)
	}
	fs.StringArrayVar(k.Flags.ImpersonateGroup, "kube-as-group", nil, "same as --as-group")
	_ = fs.MarkHidden("kube-as-group")
}

// Namespace is the namespace from -n/--namespace, else the kubeconfig
// context's, else "default".
func (k *Kube) Namespace() (string, error) {
	ns, _, err := k.Flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", badKubeconfig(err)
	}
	if ns == "" {
		ns = "default"
	}
	return ns, nil
}

// RESTConfig is the client configuration.
func (k *Kube) RESTConfig() (*rest.Config, error) {
	if err := k.Check(); err != nil {
		return nil, err
	}
	cfg, err := k.Flags.ToRESTConfig()
	if err != nil {
		return nil, badKubeconfig(err)
	}
	return cfg, nil
}

// Check reports a missing or malformed kubeconfig as bad input (exit code
// 2): a file named by --kubeconfig that cannot be read or parsed, or no
// cluster at all (no kubeconfig, no --server, and not inside a pod), which
// client-go would otherwise turn into a connection to localhost:8080.
func (k *Kube) Check() error {
	raw, err := k.Flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return badKubeconfig(err)
	}
	if len(raw.Clusters) > 0 || (k.Flags.APIServer != nil && *k.Flags.APIServer != "") {
		return nil
	}
	if _, err := rest.InClusterConfig(); err == nil {
		return nil
	}
	return inputs.Invalidf("kubeconfig: no cluster configured: expected a kubeconfig (KUBECONFIG, --kubeconfig or ~/.kube/config) naming a cluster, --server, or to run inside a pod")
}

// badKubeconfig marks an error loading the kubeconfig as bad input.
func badKubeconfig(err error) error {
	return inputs.Invalidf("kubeconfig: %v", err)
}

// Clientset returns a typed client.
func (k *Kube) Clientset() (kubernetes.Interface, error) {
	cfg, err := k.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}

// Dynamic returns a dynamic client (any group, version and resource).
func (k *Kube) Dynamic() (dynamic.Interface, error) {
	cfg, err := k.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}

// ErrForbidden marks a request that RBAC refused.
var ErrForbidden = errors.New("forbidden by RBAC")

// AccessError is a request the API server refused because the identity
// lacks a permission. It names the verb and the resource so the missing
// Role rule is obvious.
type AccessError struct {
	Verb      string
	Resource  string // plural, with group: secrets, deployments.apps
	Namespace string
	Name      string
	Err       error
}

func (e *AccessError) Error() string {
	obj := e.Resource
	if e.Name != "" {
		obj += " " + e.Name
	}
	return fmt.Sprintf("permission denied: cannot %s %s in namespace %s (RBAC: the identity needs verb %q on resource %q%s): %v",
		e.Verb, obj, e.Namespace, e.Verb, e.Resource, namedSuffix(e.Name), e.Err)
}

func namedSuffix(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" named %q", name)
}

// Unwrap returns the API error.
func (e *AccessError) Unwrap() error { return e.Err }

// Is makes AccessError match ErrForbidden.
func (e *AccessError) Is(target error) bool { return target == ErrForbidden }

// access wraps err in an AccessError when the API server refused it.
func access(err error, verb, resource, namespace, name string) error {
	if err != nil && apierrors.IsForbidden(err) {
		return &AccessError{Verb: verb, Resource: resource, Namespace: namespace, Name: name, Err: err}
	}
	return err
}
