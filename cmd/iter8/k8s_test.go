package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/k8s"
	"iter8.tools/iter8/internal/k8s/k8stest"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/task"
)

// cluster is a fresh namespace on the shared control plane, an admin
// kubeconfig whose context uses it, and a kubelet stand-in that runs pods'
// iter8 commands with the binary under test.
type cluster struct {
	env        *k8stest.Env
	ns         string
	kubeconfig string
	kubelet    *k8stest.Kubelet
	c          kubernetes.Interface
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	return &cluster{env: env, ns: ns, kubeconfig: env.Kubeconfig(t, ns), kubelet: env.NewKubelet(t, map[string]string{"iter8": bin}), c: env.Client}
}

// k runs `iter8 k <args>` as the admin (KUBECONFIG names the admin's
// kubeconfig, as a user's shell would).
func (cl *cluster) k(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return iter8Env(t, dir, []string{"KUBECONFIG=" + cl.kubeconfig}, append([]string{"k"}, args...)...)
}

// ctxT bounds a test's API calls, generously: node stories wait minutes for controllers (a
// CronJob starts a loop a minute) while using the same context.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// createApp creates a Deployment and a Service named name; available sets
// the Deployment's Available condition as its controller would.
func (cl *cluster) createApp(t *testing.T, name string, available bool) {
	t.Helper()
	ctx := ctxT(t)
	lbl := map[string]string{"app": name}
	_, err := cl.c.AppsV1().Deployments(cl.ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "example.test/" + name + ":1"}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.c.CoreV1().Services(cl.ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ServiceSpec{Selector: lbl, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if available {
		cl.setAvailable(t, name, corev1.ConditionTrue)
	}
}

func (cl *cluster) setAvailable(t *testing.T, name string, status corev1.ConditionStatus) {
	t.Helper()
	ctx := ctxT(t)
	d, err := cl.c.AppsV1().Deployments(cl.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: status, Reason: "SetByTest"}}
	if _, err := cl.c.AppsV1().Deployments(cl.ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// runJob plays the kubelet for the pod the Job controller makes for job.
func (cl *cluster) runJob(t *testing.T, job string) *k8stest.PodRun {
	t.Helper()
	ctx := ctxT(t)
	j, err := cl.c.BatchV1().Jobs(cl.ns).Get(ctx, job, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("job %s: %v", job, err)
	}
	pod, err := cl.kubelet.JobPod(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	run, err := cl.kubelet.Run(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func (cl *cluster) experiment(t *testing.T, group string) (*experiment.Experiment, int) {
	t.Helper()
	s, err := cl.c.CoreV1().Secrets(cl.ns).Get(ctxT(t), group, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(s.Data[k8s.ExperimentKey])
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, v := range s.Data {
		size += len(v)
	}
	return exp, size
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute (last error: %v)", what, err)
		}
		<-tick.C
	}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// The end to end flow: launch a Job experiment, play the kubelet for
// its pod with the pod's own ServiceAccount token, assert, report, read the
// logs, relaunch (upgrade) and delete.
func TestKLaunchJobEndToEnd(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cl := newCluster(t)
	srv := startTarget(t)
	cl.createApp(t, "httpbin", true)
	dir := t.TempDir()
	ctx := ctxT(t)

	launch := []string{"launch", "--set", "tasks={ready,http,assess}", "--set", "ready.deploy=httpbin", "--set", "ready.service=httpbin",
		"--set", "ready.timeout=30s", "--set", "http.url=" + srv.URL() + "/get", "--set", "http.numRequests=40", "--set", "http.qps=0",
		"--set", "assess.SLOs.upper.http/latency-mean=500", "--set", "assess.SLOs.upper.http/error-count=0", "--set", "runner=job"}
	r := cl.k(t, dir, launch...)
	if r.code != 0 {
		t.Fatalf("k launch exited %d: %s", r.code, r.stderr)
	}
	mustContain(t, "k launch log", r.stderr, "experiment launched. Happy Iter8ing!", "revision=1", "runner=job")

	// Right after launch, before any result: report and assert answer (the
	// original panicked here, its issue #1248).
	r = cl.k(t, dir, "report")
	if r.code != 0 {
		t.Fatalf("k report before the run exited %d: %s", r.code, r.stderr)
	}
	mustContain(t, "report before the run", r.stdout, "Experiment completed: false", "Number of completed loops: 0", "Insights not found")
	r = cl.k(t, dir, "assert", "-c", "completed")
	if r.code != 1 || !strings.Contains(r.stderr, "completed: the experiment has not started") {
		t.Errorf("k assert before the run: exit %d: %s", r.code, r.stderr)
	}

	created := strings.Join(releaseObjects(t, cl, "default"), " ")
	if want := "job/default-1-job role/default role/default-ready rolebinding/default rolebinding/default-ready secret/default serviceaccount/default-iter8-sa 1 helm release records"; created != want {
		t.Errorf("k launch created\n%s\nwant\n%s", created, want)
	}

	run := cl.runJob(t, "default-1-job")
	if run.ExitCode != 0 {
		t.Fatalf("the pod's iter8 k run exited %d:\n%s", run.ExitCode, run.Output)
	}
	if got := srv.Count("GET", "/get"); got != 40 {
		t.Errorf("the target saw %d requests, want exactly the 40 sent", got)
	}
	waitFor(t, "the Job completes", func() (bool, error) {
		j, err := cl.c.BatchV1().Jobs(cl.ns).Get(ctx, "default-1-job", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == 1, err
	})

	r = cl.k(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos")
	if r.code != 0 {
		t.Errorf("k assert exited %d: %s", r.code, r.stderr)
	}
	r = cl.k(t, dir, "report")
	mustContain(t, "k report", r.stdout, "Experiment completed: true", "Number of completed tasks: 4", "http/latency-mean (msec) <= 500 | true",
		"http/error-count <= 0", "http/request-count", "40.00")
	r = cl.k(t, dir, "log")
	if r.code != 0 {
		t.Fatalf("k log exited %d: %s", r.code, r.stderr)
	}
	mustContain(t, "k log", r.stdout, "===== loop 1: pod default-1-job-", ", job default-1-job, Succeeded, created ",
		`msg="task 1: ready: started"`, `msg="deployments.apps httpbin (condition Available) is ready"`, `msg="experiment completed" loop=1`)

	// A relaunch upgrades the release: a new Job, and the experiment replaced.
	r = cl.k(t, dir, append(launch, "--set", "assess.SLOs.upper.http/latency-mean=400")...)
	if r.code != 0 || !strings.Contains(r.stderr, "revision=2") {
		t.Fatalf("relaunch exited %d: %s", r.code, r.stderr)
	}
	exp, _ := cl.experiment(t, "default")
	if slos := fmt.Sprint(exp.Spec[3].With["SLOs"]); exp.Result != nil || !strings.Contains(slos, "map[limit:400 metric:http/latency-mean]") {
		t.Errorf("after the relaunch the Secret holds SLOs %s and result %+v, want the new spec without a result", slos, exp.Result)
	}
	waitFor(t, "the revision 1 Job is replaced by revision 2's", func() (bool, error) {
		_, err1 := cl.c.BatchV1().Jobs(cl.ns).Get(ctx, "default-1-job", metav1.GetOptions{})
		_, err2 := cl.c.BatchV1().Jobs(cl.ns).Get(ctx, "default-2-job", metav1.GetOptions{})
		return apierrors.IsNotFound(err1) && err2 == nil, errors.Join(err1, err2)
	})

	r = cl.k(t, dir, "delete")
	if r.code != 0 {
		t.Fatalf("k delete exited %d: %s", r.code, r.stderr)
	}
	waitFor(t, "every object of the experiment is deleted", func() (bool, error) {
		left := releaseObjects(t, cl, "default")
		pods, err := cl.c.CoreV1().Pods(cl.ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.GroupLabel + "=default"})
		if err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			left = append(left, "pod/"+p.Name)
		}
		return len(left) == 0, fmt.Errorf("left: %v", left)
	})
	r = cl.k(t, dir, "report")
	if r.code != 2 || !strings.Contains(r.stderr, `experiment group "default" not found in namespace `+cl.ns) {
		t.Errorf("k report after delete: exit %d: %s", r.code, r.stderr)
	}
}

// releaseObjects lists the objects of the group's release that exist, and its
// Helm release records.
func releaseObjects(t *testing.T, cl *cluster, group string) []string {
	t.Helper()
	ctx := ctxT(t)
	var out []string
	check := func(kind, name string, err error) {
		switch {
		case err == nil:
			out = append(out, kind+"/"+name)
		case !apierrors.IsNotFound(err):
			t.Fatalf("%s %s: %v", kind, name, err)
		}
	}
	_, err := cl.c.CoreV1().Secrets(cl.ns).Get(ctx, group, metav1.GetOptions{})
	check("secret", group, err)
	_, err = cl.c.CoreV1().ServiceAccounts(cl.ns).Get(ctx, group+"-iter8-sa", metav1.GetOptions{})
	check("serviceaccount", group+"-iter8-sa", err)
	for _, n := range []string{group, group + "-ready"} {
		_, err = cl.c.RbacV1().Roles(cl.ns).Get(ctx, n, metav1.GetOptions{})
		check("role", n, err)
		_, err = cl.c.RbacV1().RoleBindings(cl.ns).Get(ctx, n, metav1.GetOptions{})
		check("rolebinding", n, err)
	}
	jobs, err := cl.c.BatchV1().Jobs(cl.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		out = append(out, "job/"+j.Name)
	}
	cjs, err := cl.c.BatchV1().CronJobs(cl.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range cjs.Items {
		out = append(out, "cronjob/"+j.Name)
	}
	helm, err := cl.c.CoreV1().Secrets(cl.ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + group})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range helm.Items {
		out = append(out, "secret/"+s.Name)
	}
	sort.Strings(out)
	// the release records are not objects the chart makes
	var objs []string
	for _, o := range out {
		if !strings.HasPrefix(o, "secret/sh.helm.release.") {
			objs = append(objs, o)
		}
	}
	if len(helm.Items) > 0 {
		return append(objs, fmt.Sprintf("%d helm release records", len(helm.Items)))
	}
	return objs
}

// The chart's Roles grant exactly what the tasks use, and the API server's
// authorizer agrees: the pod's ServiceAccount can do nothing else.
func TestKRoleGrantsOnlyWhatTasksUse(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cl := newCluster(t)
	r := cl.k(t, t.TempDir(), "launch", "-g", "g", "--set", "tasks={ready,http}", "--set", "ready.deploy=web", "--set", "ready.service=web",
		"--set", "http.url=http://127.0.0.1:1/")
	if r.code != 0 {
		t.Fatalf("k launch exited %d: %s", r.code, r.stderr)
	}
	ctx := ctxT(t)
	var rules []string
	for _, name := range []string{"g", "g-ready"} {
		role, err := cl.c.RbacV1().Roles(cl.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range role.Rules {
			rules = append(rules, ruleString(rule))
		}
	}
	want := []string{
		`[] secrets [g]: get,update`,
		`[] services [web]: get`,
		`[apps] deployments [web]: get`,
	}
	if strings.Join(rules, "\n") != strings.Join(want, "\n") {
		t.Errorf("the Roles grant\n%s\nwant exactly\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}

	sa := "system:serviceaccount:" + cl.ns + ":g-iter8-sa"
	tests := []struct {
		verb, group, resource, name string
		allowed                     bool
	}{
		{"get", "", "secrets", "g", true},
		{"update", "", "secrets", "g", true},
		{"get", "apps", "deployments", "web", true},
		{"get", "", "services", "web", true},
		{"list", "", "secrets", "", false},
		{"watch", "", "secrets", "g", false},
		{"get", "", "secrets", "other", false},
		{"patch", "", "secrets", "g", false},
		{"delete", "", "secrets", "g", false},
		{"create", "", "secrets", "", false},
		{"get", "apps", "deployments", "other", false},
		{"list", "apps", "deployments", "", false},
		{"update", "apps", "deployments", "web", false},
		{"get", "", "pods", "", false},
		{"create", "", "pods", "", false},
		{"get", "", "configmaps", "web", false},
		{"create", "rbac.authorization.k8s.io", "roles", "", false},
	}
	for _, tc := range tests {
		sar, err := cl.c.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               sa,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + cl.ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: cl.ns, Verb: tc.verb, Group: tc.group, Resource: tc.resource, Name: tc.name},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.allowed {
			t.Errorf("%s %s.%s %q: allowed %t, want %t", tc.verb, tc.resource, tc.group, tc.name, sar.Status.Allowed, tc.allowed)
		}
	}
}

func ruleString(r rbacv1.PolicyRule) string {
	return fmt.Sprintf("[%s] %s [%s]: %s", strings.Join(r.APIGroups, ","), strings.Join(r.Resources, ","), strings.Join(r.ResourceNames, ","), strings.Join(r.Verbs, ","))
}

// A pod running as a ServiceAccount that lacks a verb the experiment needs
// fails with an error naming the verb and the resource.
func TestKMissingVerbFailsClearly(t *testing.T) {
	needBinary(t)
	t.Parallel()
	tests := []struct {
		name  string
		rules []rbacv1.PolicyRule
		tasks string
		want  []string
		// recorded: the failure is recorded in the Secret (the runner can
		// write it)
		recorded bool
	}{
		{
			name:  "no update on the Secret",
			rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"g"}, Verbs: []string{"get"}}},
			tasks: "tasks={http}",
			want:  []string{`permission denied: cannot update secrets g in namespace`, `(RBAC: the identity needs verb "update" on resource "secrets" named "g")`},
		},
		{
			name: "no get on the Deployment ready checks",
			rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"g"}, Verbs: []string{"get", "update"}},
				{APIGroups: []string{""}, Resources: []string{"services"}, ResourceNames: []string{"web"}, Verbs: []string{"get"}}},
			tasks:    "tasks={ready}",
			want:     []string{`task 1 (ready) failed: deployments.apps "web" in namespace`, `is not ready after 2s: permission denied: cannot get deployments.apps web`, `(RBAC: the identity needs verb "get" on resource "deployments.apps" named "web")`},
			recorded: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cl := newCluster(t)
			cl.createApp(t, "web", true)
			ctx := ctxT(t)
			if _, err := cl.c.CoreV1().ServiceAccounts(cl.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "limited"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.c.RbacV1().Roles(cl.ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "limited"}, Rules: tc.rules}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.c.RbacV1().RoleBindings(cl.ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "limited"},
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "limited"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "limited", Namespace: cl.ns}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			r := cl.k(t, dir, "launch", "-g", "g", "--set", tc.tasks, "--set", "ready.deploy=web", "--set", "ready.timeout=2s",
				"--set", "http.url=http://127.0.0.1:1/", "--set", "serviceAccountName=limited", "--set", "runner=job")
			if r.code != 0 {
				t.Fatalf("k launch exited %d: %s", r.code, r.stderr)
			}
			if objs := releaseObjects(t, cl, "g"); strings.Join(objs, " ") != "job/g-1-job secret/g 1 helm release records" {
				t.Errorf("with serviceAccountName the release made %v, want only the Secret and the Job", objs)
			}
			run := cl.runJob(t, "g-1-job")
			if run.ExitCode == 0 {
				t.Fatalf("the pod's iter8 k run succeeded without the permission:\n%s", run.Output)
			}
			mustContain(t, "the pod's log", run.Output, tc.want...)
			exp, _ := cl.experiment(t, "g")
			if tc.recorded && (exp.Result == nil || !exp.Result.Failure || !strings.Contains(exp.Result.FailureReason, tc.want[0])) {
				t.Errorf("the failure is not recorded in the Secret: %+v", exp.Result)
			}
		})
	}
}

// ready waits for a Deployment the test flips to Available once it sees the
// task waiting, and times out clearly when the Deployment never is. It runs
// locally, with the local kubeconfig.
func TestReadyLocalWithKubeconfig(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cl := newCluster(t)
	cl.createApp(t, "web", false)
	cl.setAvailable(t, "web", corev1.ConditionFalse)
	env := []string{"KUBECONFIG=" + cl.kubeconfig}

	t.Run("flipped to available", func(t *testing.T) {
		dir := t.TempDir()
		ctx := ctxT(t)
		cmd := exec.CommandContext(ctx, bin, "launch", "-l", "debug", "--set", "tasks={ready}", "--set", "ready.deploy=web", "--set", "ready.timeout=60s")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		sc := bufio.NewScanner(stderr)
		flipped := false
		for sc.Scan() {
			line := sc.Text()
			log.WriteString(line + "\n")
			if !flipped && strings.Contains(line, `msg="not ready yet"`) && strings.Contains(line, `reason="condition Available is False (reason: SetByTest)"`) {
				cl.setAvailable(t, "web", corev1.ConditionTrue)
				flipped = true
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("launch: %v\n%s", err, log.String())
		}
		if !flipped {
			t.Fatalf("the task never reported waiting:\n%s", log.String())
		}
		mustContain(t, "launch log", log.String(), `msg="deployments.apps web (condition Available) is ready" task=1 name=ready namespace=`+cl.ns)
		exp := loadExperiment(t, dir)
		if !exp.Completed() || !exp.NoFailure() {
			t.Errorf("experiment %+v", exp.Result)
		}
	})

	t.Run("never available", func(t *testing.T) {
		dir := t.TempDir()
		r := iter8Env(t, dir, env, "launch", "--set", "tasks={ready}", "--set", "ready.deploy=nowhere", "--set", "ready.timeout=1s")
		if r.code != 1 {
			t.Fatalf("launch exited %d, want 1: %s", r.code, r.stderr)
		}
		want := `task 1 (ready) failed: deployments.apps "nowhere" in namespace ` + cl.ns + ` is not ready after 1s: it does not exist`
		mustContain(t, "launch log", r.stderr, want)
		exp := loadExperiment(t, dir)
		if exp.Result.FailureReason != want {
			t.Errorf("failure reason %q, want %q", exp.Result.FailureReason, want)
		}
	})
}

// runner=cronjob makes a valid CronJob; the test plays the CronJob
// controller (a Job from its template per loop) and the kubelet. Three loops
// leave numLoops 3 and the experiment completed after each; after 1,000
// loops the Secret is still under 1 MiB.
func TestKCronJobLoops(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cl := newCluster(t)
	srv := startTarget(t)
	dir := t.TempDir()
	ctx := ctxT(t)
	r := cl.k(t, dir, "launch", "-g", "hourly", "--set", "tasks={http,assess}", "--set", "http.url="+srv.URL()+"/get",
		"--set", "http.numRequests=20", "--set", "http.qps=0", "--set", "http.endpoints.a.url="+srv.URL()+"/a", "--set", "http.endpoints.b.url="+srv.URL()+"/b",
		"--set", "assess.SLOs.upper.http/latency-p99=500", "--set", "assess.SLOs.upper.http/error-rate=0",
		"--set", "runner=cronjob", "--set", "cronjobSchedule=*/5 * * * *")
	if r.code != 0 {
		t.Fatalf("k launch exited %d: %s", r.code, r.stderr)
	}
	cj, err := cl.c.BatchV1().CronJobs(cl.ns).Get(ctx, "hourly-1-cronjob", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if cj.Spec.Schedule != "*/5 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
		strings.Join(pod.Containers[0].Args, " ") != "k run --namespace "+cl.ns+" --group hourly -l info --reuseResult" ||
		pod.ServiceAccountName != "hourly-iter8-sa" || cj.Spec.JobTemplate.Spec.Template.Labels[k8s.GroupLabel] != "hourly" {
		t.Errorf("CronJob spec: schedule %q, policy %s, args %v, service account %s", cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy, pod.Containers[0].Args, pod.ServiceAccountName)
	}

	for loop := 1; loop <= 3; loop++ {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{
				Name:            fmt.Sprintf("hourly-1-cronjob-%d", loop),
				Labels:          cj.Spec.JobTemplate.Labels,
				Annotations:     cj.Spec.JobTemplate.Annotations,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
			},
			Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
		}
		if _, err := cl.c.BatchV1().Jobs(cl.ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		run := cl.runJob(t, job.Name)
		if run.ExitCode != 0 {
			t.Fatalf("loop %d: iter8 k run exited %d:\n%s", loop, run.ExitCode, run.Output)
		}
		exp, _ := cl.experiment(t, "hourly")
		if exp.Result.NumLoops != loop || !exp.Completed() || !exp.NoFailure() {
			t.Fatalf("after loop %d: numLoops %d, completed %t, no failure %t", loop, exp.Result.NumLoops, exp.Completed(), exp.NoFailure())
		}
		r := cl.k(t, dir, "assert", "-g", "hourly", "-c", "completed,nofailure,slos")
		if r.code != 0 {
			t.Errorf("loop %d: k assert exited %d: %s", loop, r.code, r.stderr)
		}
	}
	r = cl.k(t, dir, "log", "-g", "hourly")
	logs := r.stdout
	i1, i2, i3 := strings.Index(logs, "===== loop 1: pod hourly-1-cronjob-1-"), strings.Index(logs, "===== loop 2: pod hourly-1-cronjob-2-"), strings.Index(logs, "===== loop 3: pod hourly-1-cronjob-3-")
	if i1 < 0 || i2 < i1 || i3 < i2 {
		t.Errorf("k log does not show loops 1, 2 and 3 in order:\n%s", logs)
	}

	// 996 more loops, simulated in process: the http task replays a
	// measurement with new values (history gets a new entry each loop), the
	// assess task is the real one. The Secret store writes every 50 loops.
	ks := k8s.NewSecret(cl.c, cl.ns, "hourly", nil)
	exp, err := ks.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mem := &objectStore{exp: exp}
	reg := task.Registry(task.Deps{})
	reg["http"] = func(map[string]any) (experiment.Task, error) { return replayHTTP{}, nil }
	runner := &experiment.Runner{Store: mem, Registry: reg, ReuseResult: true, Version: "v0.14"}
	for loop := 4; loop <= 999; loop++ {
		exp, err := runner.Run(ctx)
		if err != nil {
			t.Fatalf("simulated loop %d: %v", loop, err)
		}
		if loop%50 == 0 || loop == 999 {
			if err := ks.Save(ctx, exp); err != nil {
				t.Fatalf("saving loop %d: %v", loop, err)
			}
		}
	}
	// The 1,000th loop is a real one again.
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "hourly-1-cronjob-1000", Labels: cj.Spec.JobTemplate.Labels}, Spec: *cj.Spec.JobTemplate.Spec.DeepCopy()}
	if _, err := cl.c.BatchV1().Jobs(cl.ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if run := cl.runJob(t, job.Name); run.ExitCode != 0 {
		t.Fatalf("loop 1000: iter8 k run exited %d:\n%s", run.ExitCode, run.Output)
	}
	exp, size := cl.experiment(t, "hourly")
	if exp.Result.NumLoops != 1000 || !exp.Completed() {
		t.Errorf("after 1,000 loops: numLoops %d, completed %t", exp.Result.NumLoops, exp.Completed())
	}
	if size >= k8s.MaxSecretBytes {
		t.Errorf("the Secret holds %d bytes after 1,000 loops, want under 1 MiB", size)
	}
	t.Logf("Secret after 1,000 loops: %d bytes, %d loop summaries", size, len(exp.Result.History))
}

// objectStore keeps the experiment as is, so simulated loops cost no
// encoding.
type objectStore struct{ exp *experiment.Experiment }

func (s *objectStore) Load(context.Context) (*experiment.Experiment, error) { return s.exp, nil }

func (s *objectStore) Save(_ context.Context, exp *experiment.Experiment) error {
	s.exp = exp
	return nil
}

// replayHTTP stands in for the http task in simulated loops: it records the
// previous loop's measurements again (a loop starts without the values of
// the one before), with new latency values, as if it had measured them.
type replayHTTP struct{}

func (replayHTTP) Run(_ context.Context, env *experiment.Env) error {
	res := env.Experiment.Result
	in, err := res.InitInsights(1, nil)
	if err != nil || len(res.History) == 0 {
		return err
	}
	last := res.History[len(res.History)-1]
	n := float64(res.NumLoops)
	for name, v := range last.Values[0] {
		if strings.HasPrefix(name, "http") && strings.Contains(name, "latency") {
			v = 1 + float64(int(n*7919)%1000)/100
		}
		if err := in.SetValue(name, in.MetricsInfo[name], 0, v); err != nil {
			return err
		}
	}
	for name, enc := range last.Histograms[0] {
		h, err := metrics.DecodeHDR(enc)
		if err != nil {
			return err
		}
		if err := in.SetHistogram(name, in.MetricsInfo[name], 0, h); err != nil {
			return err
		}
	}
	return nil
}

// --dry writes the manifests and installs nothing.
func TestKLaunchDry(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cl := newCluster(t)
	dir := t.TempDir()
	r := cl.k(t, dir, "launch", "--dry", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:1/", "--set", "runner=job")
	if r.code != 0 {
		t.Fatalf("k launch --dry exited %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "manifest.yaml", string(b), "kind: Secret", "kind: ServiceAccount", "kind: Role", "kind: RoleBinding", "kind: Job",
		"name: default-1-job", "- --namespace", "- \""+cl.ns+"\"")
	if objs := releaseObjects(t, cl, "default"); len(objs) != 0 {
		t.Errorf("a dry launch created %v", objs)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"launch", "--set", "tasks={http}", "--set", "http.url=http://x/", "--set", "runner=pod"}, `runner must be none, job or cronjob; got "pod"`},
		{[]string{"launch", "--set", "tasks={http}", "--set", "http.url=http://x/", "--set", "runner=cronjob"}, "cronjobSchedule is required when runner is cronjob"},
		{[]string{"launch", "--set", "tasks={http}", "--set", "http.qsp=1", "--set", "http.url=http://x/"}, `unknown field "qsp": did you mean "qps"?`},
		{[]string{"report", "-g", "Bad_Group"}, `--group "Bad_Group": expected a lower-case name`},
		{[]string{"delete", "-g", "nothing"}, `experiment group "nothing" not found in namespace ` + cl.ns},
	} {
		r := cl.k(t, dir, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("iter8 k %v: exit %d, want 2 and %q:\n%s", tc.args, r.code, tc.want, r.stderr)
		}
	}
}
