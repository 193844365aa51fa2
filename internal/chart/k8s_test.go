package chart

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/source"

	"helm.sh/helm/v4/pkg/chart/common"

	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/inputs"
)

// renderK8s renders the manifests a Kubernetes install of release "g" in
// namespace "ns" would create, joined in template order.
func renderK8s(t *testing.T, set ...string) (string, error) {
	t.Helper()
	c, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	vals, err := Values{Set: set}.Merge(context.Background(), source.Reader{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Render(vals, common.ReleaseOptions{Name: "g", Namespace: "ns", Revision: 2, IsInstall: true})
	if err != nil {
		return "", err
	}
	var names []string
	for n, doc := range out {
		if strings.TrimSpace(doc) != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString("# " + n + "\n" + strings.TrimSpace(out[n]) + "\n")
	}
	return b.String(), nil
}

func TestRenderKubernetesGolden(t *testing.T) {
	t.Parallel()
	base := []string{"tasks={ready,http,assess}", "ready.deploy=httpbin", "ready.service=httpbin", "ready.timeout=90s",
		"http.url=http://httpbin.default/get", "assess.SLOs.upper.http/latency-mean=50"}
	tests := []struct {
		name string
		set  []string
	}{
		{"k8s-job", append(base, "runner=job")},
		{"k8s-cronjob", append(base, "runner=cronjob", "cronjobSchedule=*/5 * * * *", "logLevel=debug")},
		{"k8s-none-own-sa", []string{"tasks={http}", "http.url=http://httpbin.default/get", "serviceAccountName=mine"}},
		{"k8s-ready-namespace", append(base, "ready.namespace=apps", "runner=job", "iter8Image=registry.test/iter8:dev")},
		{"k8s-secret-references", []string{"tasks={http}", "http.url=http://httpbin.default/get", "http.headers.Authorization=Bearer ${file:/secrets/token}", "runner=job",
			"env[0].name=TOKEN", "env[0].valueFrom.secretKeyRef.name=prom", "env[0].valueFrom.secretKeyRef.key=token",
			"volumes[0].name=secrets", "volumes[0].secret.secretName=api", "volumeMounts[0].name=secrets", "volumeMounts[0].mountPath=/secrets", "volumeMounts[0].readOnly=true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := renderK8s(t, tc.set...)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".yaml"), []byte(got))
		})
	}
}

func TestRenderKubernetesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"unknown runner", []string{"tasks={http}", "http.url=http://x", "runner=pod"}, `runner must be none, job or cronjob; got "pod"`},
		{"cronjob without schedule", []string{"tasks={http}", "http.url=http://x", "runner=cronjob"}, "cronjobSchedule is required when runner is cronjob"},
		{"ready without object", []string{"tasks={ready}", "ready.timeout=5s"}, "ready needs an object to check: set ready.service, ready.deploy, ready.ksvc, ready.isvc or ready.chaosengine"},
		{"unknown ready shortcut", []string{"tasks={ready}", "ready.deployment=web"}, `values: unknown field "ready.deployment": expected one of chaosengine, deploy, isvc, ksvc, namespace, service, timeout`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := renderK8s(t, tc.set...)
			if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-input error containing %q", err, tc.want)
			}
		})
	}
}

// A local experiment renders only the experiment: none of the Kubernetes
// objects, whatever the Kubernetes values.
func TestExperimentLeavesKubernetesOut(t *testing.T) {
	t.Parallel()
	doc, err := render(t, Values{Set: []string{"tasks={ready,http}", "ready.ksvc=hello", "ready.isvc=model", "ready.chaosengine=chaos",
		"ready.namespace=apps", "http.url=http://127.0.0.1:8080/", "runner=cronjob"}})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "ready-shortcuts.yaml"), doc)
	if strings.Contains(string(doc), "kind:") {
		t.Errorf("a local experiment holds Kubernetes objects:\n%s", doc)
	}
}
