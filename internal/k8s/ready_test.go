package k8s

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"iter8.tools/iter8/internal/k8s/k8stest"
)

var deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

func createDeployment(t *testing.T, c kubernetes.Interface, ns, name string) *appsv1.Deployment {
	t.Helper()
	labels := map[string]string{"app": name}
	d, err := c.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.test/web:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// setAvailable writes the Deployment's Available condition through the status
// subresource, as the deployment controller would.
func setAvailable(t *testing.T, c kubernetes.Interface, ns, name string, status corev1.ConditionStatus, reason string) {
	t.Helper()
	ctx := context.Background()
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: status, Reason: reason, Message: "set by the test"}}
	if _, err := c.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func dynamicClient(t *testing.T, env *k8stest.Env, token string) dynamic.Interface {
	t.Helper()
	c, err := dynamic.NewForConfig(env.ClientConfig(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The check keeps waiting while the Deployment is unavailable and returns as
// soon as the test flips it to Available.
func TestReadyWaitsForAvailable(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	createDeployment(t, env.Client, ns, "web")
	setAvailable(t, env.Client, ns, "web", corev1.ConditionFalse, "MinimumReplicasUnavailable")

	attempts := make(chan string, 100)
	done := make(chan error, 1)
	chk := ReadyCheck{Resource: deploymentsGVR, Namespace: ns, Name: "web", Condition: "Available",
		Timeout: time.Minute, Interval: 20 * time.Millisecond,
		OnAttempt: func(r string) {
			select {
			case attempts <- r:
			default:
			}
		}}
	go func() { done <- chk.Wait(context.Background(), dynamicClient(t, env, env.AdminToken)) }()

	// Wait until the check has seen the Deployment unavailable, twice.
	for range 2 {
		select {
		case r := <-attempts:
			if want := "condition Available is False (reason: MinimumReplicasUnavailable; message: set by the test)"; r != want {
				t.Fatalf("attempt saw %q, want %q", r, want)
			}
		case err := <-done:
			t.Fatalf("the check returned %v before the Deployment was available", err)
		case <-time.After(30 * time.Second):
			t.Fatal("the check made no attempt within 30s")
		}
	}
	setAvailable(t, env.Client, ns, "web", corev1.ConditionTrue, "MinimumReplicasAvailable")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after the flip: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the check did not notice the Deployment became available within 30s")
	}
}

func TestReadyTimesOutClearly(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	createDeployment(t, env.Client, ns, "web")
	noRights, err := env.ServiceAccountToken(context.Background(), ns, "default", nil)
	if err != nil {
		// the default ServiceAccount may not exist yet: create another
		if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if noRights, err = env.ServiceAccountToken(context.Background(), ns, "nobody", nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		gvr       schema.GroupVersionResource
		object    string
		condition string
		token     string
		want      string
		forbidden bool
	}{
		{name: "never available", gvr: deploymentsGVR, object: "web", condition: "Available", token: env.AdminToken,
			want: `deployments.apps "web" in namespace ` + ns + ` is not ready after 300ms: it has no status conditions yet (waiting for condition Available)`},
		{name: "missing", gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"}, object: "web", token: env.AdminToken,
			want: `services "web" in namespace ` + ns + ` is not ready after 300ms: it does not exist`},
		{name: "forbidden", gvr: deploymentsGVR, object: "web", condition: "Available", token: noRights, forbidden: true,
			want: `is not ready after 300ms: permission denied: cannot get deployments.apps web in namespace ` + ns + ` (RBAC: the identity needs verb "get" on resource "deployments.apps" named "web")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chk := ReadyCheck{Resource: tc.gvr, Namespace: ns, Name: tc.object, Condition: tc.condition, Timeout: 300 * time.Millisecond, Interval: 50 * time.Millisecond}
			start := time.Now()
			err := chk.Wait(context.Background(), dynamicClient(t, env, tc.token))
			if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant it to contain %s", err, tc.want)
			}
			if errors.Is(err, ErrForbidden) != tc.forbidden {
				t.Errorf("errors.Is(err, ErrForbidden) = %t, want %t", !tc.forbidden, tc.forbidden)
			}
			if took := time.Since(start); took < 300*time.Millisecond || took > 10*time.Second {
				t.Errorf("took %v, want about the 300ms timeout", took)
			}
		})
	}
}
