package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/k8s"
	"iter8.tools/iter8/internal/k8s/k8snode"
	"iter8.tools/iter8/internal/version"
)

// onNode is a fresh namespace on the real node (k8snode), with an admin
// kubeconfig whose context uses it. Every client runs inside the node's
// network namespace, as a user's shell on the node would.
type onNode struct {
	c          *k8snode.Cluster
	ns         string
	kubeconfig string
}

func newOnNode(t *testing.T) *onNode {
	t.Helper()
	c := k8snode.Shared(t, bin)
	ns := c.Namespace(t)
	n := &onNode{c: c, ns: ns, kubeconfig: c.Kubeconfig(t, ns)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubelet log:\n%s", c.Logs("kubelet", 4000))
		}
	})
	return n
}

// run runs a program inside the node's network namespace in dir with
// KUBECONFIG set to the admin's kubeconfig.
func (n *onNode) run(t *testing.T, dir string, timeout time.Duration, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := n.c.Command(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.kubeconfig)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// k runs `iter8 k <args>` as the admin.
func (n *onNode) k(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return n.run(t, dir, 5*time.Minute, bin, append([]string{"k"}, args...)...)
}

func (n *onNode) mustK(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := n.k(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("iter8 k %s exited %d:\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// restrictedPod is the pod security context the chart gives iter8's pods;
// the demo runs under it too.
func restrictedContainer(c corev1.Container) corev1.Container {
	c.SecurityContext = &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptrTo(false),
		ReadOnlyRootFilesystem:   ptrTo(true),
		RunAsNonRoot:             ptrTo(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	return c
}

func ptrTo[T any](v T) *T { return &v }

// demoApp creates a Deployment running `iter8 demo --serve` from iter8's
// image and a Service in front of it (HTTP on port 80, gRPC on 50051), and
// returns the Service's ClusterIP: the node has no cluster DNS.
func (n *onNode) demoApp(t *testing.T, name string) string {
	t.Helper()
	ctx := ctxT(t)
	lbl := map[string]string{"app": name}
	_, err := n.c.Client.AppsV1().Deployments(n.ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbl},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{restrictedContainer(corev1.Container{
						Name: "demo", Image: n.c.Iter8Image,
						Args: []string{"demo", "--serve", "--addr", "0.0.0.0:8080", "--grpc-addr", "0.0.0.0:50051",
							"--latency", "1ms", "--latency-p99", "4ms", "--error-rate", "0"},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
					})},
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := n.c.Client.CoreV1().Services(n.ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Selector: lbl, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
			{Name: "grpc", Port: 50051, TargetPort: intstr.FromInt32(50051)},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A Deployment is Available before kube-proxy routes its Service to the
	// pod: wait until the Service answers, as a user would before a load test.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: n.c.Dial}}
	waitWithin(t, 3*time.Minute, "the Service "+name+" answers", func() (bool, error) {
		resp, err := hc.Get("http://" + svc.Spec.ClusterIP + "/_iter8/stats")
		if err != nil {
			return false, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})
	return svc.Spec.ClusterIP
}

// secret decodes the group's experiment from its Secret.
func (n *onNode) experiment(t *testing.T, group string) *experiment.Experiment {
	t.Helper()
	s, err := n.c.Client.CoreV1().Secrets(n.ns).Get(ctxT(t), group, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(s.Data[k8s.ExperimentKey])
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// secretWrites sums the API server's count of Secret creates, updates and
// patches.
func (n *onNode) secretWrites(t *testing.T) int64 {
	t.Helper()
	b, err := n.c.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "apiserver_request_total{") || !strings.Contains(l, `resource="secrets"`) || !strings.Contains(l, `subresource=""`) {
			continue
		}
		if !strings.Contains(l, `verb="POST"`) && !strings.Contains(l, `verb="PUT"`) && !strings.Contains(l, `verb="PATCH"`) && !strings.Contains(l, `verb="APPLY"`) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(l[strings.LastIndex(l, " ")+1:], &v); err == nil {
			sum += int64(v)
		}
	}
	return sum
}

// demoStats reads the demo service's own request counts through its
// Service, from the node's namespace.
func (n *onNode) demoStats(t *testing.T, clusterIP string) map[string]int64 {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: n.c.Dial}}
	resp, err := hc.Get("http://" + clusterIP + "/_iter8/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	stats := map[string]int64{}
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatalf("demo stats %s: %v", b, err)
	}
	return stats
}

// TestNode runs the stories that need a real node, in parallel with each
// other but before the package's other tests (it is not parallel itself), so
// that the node's load does not slow them; then it stops the node and fails
// when the host is not as it was before.
func TestNode(t *testing.T) {
	k8snode.Shared(t, bin) // skips under -short
	t.Run("stories", func(t *testing.T) {
		for _, st := range []struct {
			name string
			run  func(*testing.T)
		}{
			{"CronJob", nodeCronJobStory},
			{"Job", nodeJobStory},
			{"RunAndCustomMetrics", nodeRunAndCustomMetrics},
			{"DeniedPermission", nodeDeniedPermission},
			{"IndexedJobStartSkew", nodeIndexedJobStartSkew},
			{"Distributed", nodeDistributedStory},
			{"DistributedCronJob", nodeDistributedCronJobStory},
			{"Isolated", nodeIsolated},
		} {
			t.Run(st.name, func(t *testing.T) {
				t.Parallel()
				st.run(t)
			})
		}
	})
	if err := k8snode.StopShared(); err != nil {
		t.Errorf("stopping the node: %v", err)
	}
}

// The first story on a real node: the demo service deployed from
// iter8's image behind a Service; k launch with ready, http, grpc and assess
// as a Job whose pod runs iter8's image (in-cluster configuration, projected
// token, the chart's Role, non-root with a read-only root filesystem); then
// k assert, k report (text and HTML) and k log, and k delete.
func nodeJobStory(t *testing.T) {
	n := newOnNode(t)
	if n.c.Iter8Image != version.Image() {
		t.Fatalf("hack/image names the image %s, the chart's default is %s: the pods would not find it", n.c.Iter8Image, version.Image())
	}
	ip := n.demoApp(t, "demo")
	dir := t.TempDir()
	// Writes to Secrets while the story runs (from the API server's own
	// counters; other tests may add some), for docs/kubernetes-scale.md.
	writesBefore := n.secretWrites(t)

	n.mustK(t, dir, "launch", "--set", "tasks={ready,http,grpc,assess}",
		"--set", "ready.deploy=demo", "--set", "ready.service=demo", "--set", "ready.timeout=180s",
		"--set", "http.url=http://"+ip+"/demo", "--set", "http.numRequests=200", "--set", "http.qps=0",
		"--set", "grpc.host="+ip+":50051", "--set", "grpc.call=helloworld.Greeter.SayHello", "--set", "grpc.total=100",
		"--set", "grpc.data.name=iter8",
		"--set", "assess.SLOs.upper.http/error-count=0", "--set", "assess.SLOs.upper.http/latency-mean=500",
		"--set", "assess.SLOs.upper.grpc/error-count=0",
		"--set", "runner=job")
	r := n.k(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos", "--timeout", "240s")
	if r.code != 0 {
		t.Fatalf("k assert exited %d:\n%s\npod log:\n%s", r.code, r.stderr, n.k(t, dir, "log").stdout)
	}
	if strings.Contains(r.stderr, "another iter8") {
		t.Errorf("k assert warns of a version mismatch though the pod ran this binary:\n%s", r.stderr)
	}

	exp := n.experiment(t, "default")
	s, err := n.c.Client.CoreV1().Secrets(n.ns).Get(ctxT(t), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one Job run of 5 tasks: %d Secret writes (create, update, patch) on the API server during launch and run, %d bytes of experiment data",
		n.secretWrites(t)-writesBefore, len(s.Data[k8s.ExperimentKey]))
	if want := version.Get().Short(); exp.Result.Iter8Build != want {
		t.Errorf("result.iter8Build = %q, want the image's binary %q", exp.Result.Iter8Build, want)
	}
	stats := n.demoStats(t, ip)
	// exactly the requests sent: the reachability check is the first of them
	if got := stats["GET /demo"]; got != 200 {
		t.Errorf("the demo service counted %d HTTP requests, want the 200 sent: %v", got, stats)
	}
	if got := stats["grpc SayHello"]; got != 100 {
		t.Errorf("the demo service counted %d gRPC calls, want the 100 sent: %v", got, stats)
	}

	r = n.mustK(t, dir, "report")
	mustContain(t, "k report", r.stdout, "Experiment completed: true", "Number of completed tasks: 5",
		"http/error-count <= 0", "grpc/error-count <= 0", "http/request-count", "200.00")
	n.mustK(t, dir, "report", "-o", "html", "--output-file", filepath.Join(dir, "report.html"))
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("<html")) || !bytes.Contains(html, []byte("http/latency-mean")) {
		t.Errorf("the HTML report is not a report of the run (%v):\n%.500s", err, html)
	}
	waitWithin(t, 2*time.Minute, "the Job succeeds", func() (bool, error) {
		j, err := n.c.Client.BatchV1().Jobs(n.ns).Get(ctxT(t), "default-1-job", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == 1, err
	})
	r = n.mustK(t, dir, "log")
	mustContain(t, "k log", r.stdout, "===== loop 1: pod default-1-job-", ", job default-1-job, Succeeded",
		`deployments.apps demo (condition Available) is ready`, `msg="experiment completed" loop=1`)

	n.mustK(t, dir, "delete")
	waitFor(t, "the experiment's objects and pods are deleted", func() (bool, error) {
		ctx := ctxT(t)
		pods, err := n.c.Client.CoreV1().Pods(n.ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.GroupLabel + "=default"})
		if err != nil {
			return false, err
		}
		jobs, err := n.c.Client.BatchV1().Jobs(n.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		_, serr := n.c.Client.CoreV1().Secrets(n.ns).Get(ctx, "default", metav1.GetOptions{})
		return len(pods.Items) == 0 && len(jobs.Items) == 0 && apierrors.IsNotFound(serr),
			fmt.Errorf("%d pods, %d jobs, secret: %v", len(pods.Items), len(jobs.Items), serr)
	})
}

// A run task and a custommetrics task inside the pod: the script runs with
// the image's bash as the non-root user on a read-only root filesystem, and
// the custom metrics come from a real Prometheus in the node's namespace.
func nodeRunAndCustomMetrics(t *testing.T) {
	n := newOnNode(t)
	prom := startNodePrometheus(t, n)
	dir := t.TempDir()
	script := `echo "uid=$(id -u) shell=$BASH_VERSION"; if touch /iter8-probe 2>/dev/null; then echo "root filesystem writable"; else echo "root filesystem read-only"; fi; echo hello > /tmp/out; cat /tmp/out`
	n.mustK(t, dir, "launch", "-g", "script", "--set", "tasks={run,custommetrics,assess}",
		"--set-string", "run="+script,
		"--set", "custommetrics.templates.prom=prometheus",
		"--set", "custommetrics.values.prometheusURL="+prom,
		"--set", `custommetrics.values.queries.up=up{job="prometheus"}`,
		"--set", "assess.SLOs.lower.prom/up=1",
		"--set", "logLevel=debug", // the run task's output is logged at debug
		"--set", "runner=job")
	r := n.k(t, dir, "assert", "-g", "script", "-c", "completed", "-c", "nofailure", "-c", "slos", "--timeout", "180s")
	if r.code != 0 {
		t.Fatalf("k assert exited %d:\n%s\npod log:\n%s", r.code, r.stderr, n.k(t, dir, "log", "-g", "script").stdout)
	}
	r = n.mustK(t, dir, "log", "-g", "script")
	mustContain(t, "k log", r.stdout, "uid=65532 shell=5.", "root filesystem read-only", "hello")
	r = n.mustK(t, dir, "report", "-g", "script")
	mustContain(t, "k report", r.stdout, "1 <= prom/up   | true (1.00)")
}

// startNodePrometheus runs a real Prometheus inside the node's namespace,
// scraping itself every second, and returns its URL once it has a sample.
func startNodePrometheus(t *testing.T, n *onNode) string {
	t.Helper()
	l, err := n.c.Listen("tcp", k8snode.NodeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // Prometheus binds it again, in the same namespace
	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n- job_name: prometheus\n  static_configs: [{targets: [%q]}]\n", addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := n.c.Command(ctx, "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var logb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: n.c.Dial}}
	url := "http://" + addr
	waitFor(t, "Prometheus has scraped itself", func() (bool, error) {
		resp, err := hc.Get(url + `/api/v1/query?query=up`)
		if err != nil {
			return false, err
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return bytes.Contains(b, []byte(`"value":[`)), fmt.Errorf("%s", b)
	})
	return url
}

// A permission the pod lacks: the ready task's Deployment is not readable
// by the pod's ServiceAccount. The real authorizer refuses, and the pod's
// log and k report name the verb and the resource.
func nodeDeniedPermission(t *testing.T) {
	n := newOnNode(t)
	ctx := ctxT(t)
	n.demoApp(t, "web")
	if _, err := n.c.Client.CoreV1().ServiceAccounts(n.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "limited"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"g"}, Verbs: []string{"get", "update"}}}
	if _, err := n.c.Client.RbacV1().Roles(n.ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "limited"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.c.Client.RbacV1().RoleBindings(n.ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "limited"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "limited"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "limited", Namespace: n.ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n.mustK(t, dir, "launch", "-g", "g", "--set", "tasks={ready}", "--set", "ready.deploy=web", "--set", "ready.timeout=3s",
		"--set", "serviceAccountName=limited", "--set", "runner=job")
	waitWithin(t, 3*time.Minute, "the pod records the failure", func() (bool, error) {
		exp := n.experiment(t, "g")
		return exp.Result != nil && exp.Result.Failure, fmt.Errorf("result %+v", exp.Result)
	})
	want := `(RBAC: the identity needs verb "get" on resource "deployments.apps" named "web")`
	r := n.k(t, dir, "assert", "-g", "g", "-c", "nofailure")
	if r.code != 1 {
		t.Errorf("k assert -c nofailure exited %d, want 1:\n%s", r.code, r.stderr)
	}
	r = n.mustK(t, dir, "report", "-g", "g")
	mustContain(t, "k report", r.stdout+r.stderr, "cannot get deployments.apps web", want)
	waitFor(t, "the pod's log is complete", func() (bool, error) {
		r := n.k(t, dir, "log", "-g", "g")
		return strings.Contains(r.stdout, want) && strings.Contains(r.stdout, "Failed"), fmt.Errorf("k log:\n%s", r.stdout)
	})
}

// hostAddresses lists the machine's own addresses outside loopback: the
// node's traffic must never reach them.
func hostAddresses(t *testing.T) []string {
	t.Helper()
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range ifs {
		// Link-local addresses are reachable only on their own link,
		// which is not in the node's namespace.
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			out = append(out, ipn.IP.String())
		}
	}
	return out
}

// The node is sealed: from inside its namespace the machine's own
// addresses are unreachable, and from the host the cluster's ranges fail
// at once instead of leaving the machine.
func nodeIsolated(t *testing.T) {
	n := newOnNode(t)
	for _, a := range hostAddresses(t) {
		r := n.run(t, t.TempDir(), 30*time.Second, "ip", "route", "get", a)
		if r.code == 0 {
			t.Errorf("the node's namespace has a route to the host address %s:\n%s", a, r.stdout)
		}
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	_, err := d.DialContext(ctxT(t), "tcp", k8snode.NodeIP+":6443")
	if err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Errorf("dialing the API server from the host: %v, want no route to host (an unreachable route)", err)
	}
}

// waitWithin polls cond every second until it holds or limit passes.
func waitWithin(t *testing.T, limit time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %v)", what, limit, err)
		}
		<-tick.C
	}
}

// The second story: runner=cronjob, three loops started by the real CronJob
// controller (a minute apart: cron's resolution), each adding to the
// result; k report shows the loops' history and trends; k delete removes
// the CronJob, its Jobs and pods, the Secret and the RBAC.
func nodeCronJobStory(t *testing.T) {
	n := newOnNode(t)
	ip := n.demoApp(t, "demo")
	dir := t.TempDir()
	n.mustK(t, dir, "launch", "-g", "hourly", "--set", "tasks={ready,http,assess}",
		"--set", "ready.deploy=demo", "--set", "ready.timeout=180s",
		"--set", "http.url=http://"+ip+"/demo", "--set", "http.numRequests=50", "--set", "http.qps=50",
		"--set", "assess.SLOs.upper.http/error-count=0", "--set", "assess.SLOs.upper.http/latency-p99=500",
		"--set", "runner=cronjob", "--set", "cronjobSchedule=* * * * *")
	waitWithin(t, 5*time.Minute, "three loops by the CronJob controller", func() (bool, error) {
		exp := n.experiment(t, "hourly")
		if exp.Result == nil {
			return false, fmt.Errorf("no result yet")
		}
		return exp.Result.NumLoops >= 3 && exp.Completed(), fmt.Errorf("%d loops, completed %t", exp.Result.NumLoops, exp.Completed())
	})
	// Hold the schedule, so that the report and the logs see a settled
	// number of loops.
	n.suspend(t, "hourly-1-cronjob", func(batchv1.Job) {})
	loops := n.experiment(t, "hourly").Result.NumLoops
	n.mustK(t, dir, "assert", "-g", "hourly", "-c", "completed,nofailure,slos")
	r := n.mustK(t, dir, "report", "-g", "hourly")
	mustContain(t, "k report", r.stdout, fmt.Sprintf("Number of completed loops: %d", loops), "SLO outcomes over loops", "http/latency-p99 (msec) <= 500")
	r = n.mustK(t, dir, "log", "-g", "hourly")
	for loop := 1; loop <= 3; loop++ {
		mustContain(t, "k log", r.stdout, fmt.Sprintf("===== loop %d: pod hourly-1-cronjob-", loop))
	}

	n.mustK(t, dir, "delete", "-g", "hourly")
	waitFor(t, "the CronJob, its Jobs and pods, the Secret and the RBAC are deleted", func() (bool, error) {
		ctx := ctxT(t)
		var left []string
		cjs, err := n.c.Client.BatchV1().CronJobs(n.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, o := range cjs.Items {
			left = append(left, "cronjob/"+o.Name)
		}
		jobs, err := n.c.Client.BatchV1().Jobs(n.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, o := range jobs.Items {
			left = append(left, "job/"+o.Name)
		}
		pods, err := n.c.Client.CoreV1().Pods(n.ns).List(ctx, metav1.ListOptions{LabelSelector: k8s.GroupLabel + "=hourly"})
		if err != nil {
			return false, err
		}
		for _, o := range pods.Items {
			left = append(left, "pod/"+o.Name)
		}
		secrets, err := n.c.Client.CoreV1().Secrets(n.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, o := range secrets.Items {
			left = append(left, "secret/"+o.Name)
		}
		roles, err := n.c.Client.RbacV1().Roles(n.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, o := range roles.Items {
			left = append(left, "role/"+o.Name)
		}
		return len(left) == 0, fmt.Errorf("left: %v", left)
	})
}

// Pods of one Indexed Job start together closely enough for a shared start
// time: all four run iter8's image and print when their container began
// (bash's EPOCHREALTIME, microseconds); the spread is logged for
// docs/kubernetes-scale.md.
func nodeIndexedJobStartSkew(t *testing.T) {
	n := newOnNode(t)
	ctx := ctxT(t)
	const pods = 4
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "skew"},
		Spec: batchv1.JobSpec{
			Completions: ptrTo(int32(pods)), Parallelism: ptrTo(int32(pods)),
			CompletionMode: ptrTo(batchv1.IndexedCompletion),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{restrictedContainer(corev1.Container{Name: "iter8", Image: n.c.Iter8Image,
					Command: []string{"bash", "-c", `echo "$EPOCHREALTIME"; iter8 version`}})},
			}},
		},
	}
	created := time.Now()
	if _, err := n.c.Client.BatchV1().Jobs(n.ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, 3*time.Minute, "the Indexed Job completes", func() (bool, error) {
		j, err := n.c.Client.BatchV1().Jobs(n.ns).Get(ctx, "skew", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if j.Status.Failed > 0 {
			t.Fatalf("a pod of the Indexed Job failed: %+v", j.Status)
		}
		return j.Status.Succeeded == pods, fmt.Errorf("%d of %d succeeded", j.Status.Succeeded, pods)
	})
	list, err := n.c.Client.CoreV1().Pods(n.ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=skew"})
	if err != nil {
		t.Fatal(err)
	}
	var first, last float64
	for _, p := range list.Items {
		b, err := n.c.Client.CoreV1().Pods(n.ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var at float64
		var ver string
		if _, err := fmt.Sscanf(string(b), "%f\n%s", &at, &ver); err != nil || !strings.Contains(string(b), version.Version) {
			t.Fatalf("pod %s logged %q, want its start time and iter8 %s", p.Name, b, version.Version)
		}
		if first == 0 || at < first {
			first = at
		}
		last = max(last, at)
	}
	startup := time.Duration((first - float64(created.UnixNano())/1e9) * float64(time.Second))
	skew := time.Duration((last - first) * float64(time.Second))
	t.Logf("%d pods of an Indexed Job: the first container ran %s after the Job was created, the last %s after the first (node started in %s)",
		len(list.Items), startup.Round(time.Millisecond), skew.Round(time.Millisecond), n.c.Started.Round(100*time.Millisecond))
}

// Distributed load on the real node: k launch with http.replicas=4 runs an
// Indexed Job of four iter8 pods that share one schedule at a fixed total
// rate against the demo Service. The total sent is within 1% of the
// intended, every pod's share within 1% of its quarter, the merged count
// is the demo service's own count, the SLOs are
// judged on the merge, and k report (text and HTML) and k log show the
// pods. The figures (start lag, lateness, Secret writes and size) are
// logged for docs/kubernetes-scale.md.
func nodeDistributedStory(t *testing.T) {
	n := newOnNode(t)
	ip := n.demoApp(t, "demo")
	dir := t.TempDir()
	// ITER8_NODE_PODS measures another number of pods for
	// docs/kubernetes-scale.md (50 req/s per pod); the story runs 4.
	pods := 4
	if v := os.Getenv("ITER8_NODE_PODS"); v != "" {
		if _, err := fmt.Sscan(v, &pods); err != nil || pods < 2 {
			t.Fatalf("ITER8_NODE_PODS=%q: expected a number of pods of at least 2", v)
		}
	}
	const seconds = 10
	qps := 50 * pods
	intended := int64(qps * seconds)
	writesBefore := n.secretWrites(t)
	n.mustK(t, dir, "launch", "-g", "dist", "--set", "tasks={http,assess}",
		"--set", "http.url=http://"+ip+"/dist", "--set", fmt.Sprintf("http.qps=%d", qps), "--set", fmt.Sprintf("http.duration=%ds", seconds),
		"--set", fmt.Sprintf("http.replicas=%d", pods),
		// the chart's pods request 250m CPU each: on this 2-core node at
		// most 8 fit at once, and an unscheduled pod holds the run (pod 0
		// waits for every pod, up to 5 minutes)
		"--set", fmt.Sprintf("resources.requests.cpu=%dm", min(250, 1500/pods)),
		"--set", "assess.SLOs.upper.http/error-count=0", "--set", "assess.SLOs.upper.http/latency-p99=1000",
		"--set", "runner=job")
	ctx := ctxT(t)
	job, err := n.c.Client.BatchV1().Jobs(n.ns).Get(ctx, "dist-1-job", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion || *job.Spec.Completions != int32(pods) || *job.Spec.Parallelism != int32(pods) {
		t.Fatalf("the Job is not an Indexed Job of %d pods: %+v", pods, job.Spec)
	}
	r := n.k(t, dir, "assert", "-g", "dist", "-c", "completed", "-c", "nofailure", "-c", "slos", "--timeout", "300s")
	if r.code != 0 {
		t.Fatalf("k assert exited %d:\n%s\npod logs:\n%s", r.code, r.stderr, n.k(t, dir, "log", "-g", "dist").stdout)
	}
	waitWithin(t, 2*time.Minute, "the Indexed Job succeeds", func() (bool, error) {
		j, err := n.c.Client.BatchV1().Jobs(n.ns).Get(ctx, "dist-1-job", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == int32(pods), fmt.Errorf("%+v (%v)", j.Status, err)
	})

	exp := n.experiment(t, "dist")
	ls := exp.Result.Insights.Load["http"]
	within := func(got, want int64) bool {
		return float64(got) >= 0.99*float64(want) && float64(got) <= 1.01*float64(want)
	}
	if !within(ls.Requests, intended) || ls.IntendedRate != float64(qps) {
		t.Errorf("sent %d at an intended %g req/s, want %d (within 1%%) at %d", ls.Requests, ls.IntendedRate, intended, qps)
	}
	if len(ls.Pods) != pods {
		t.Fatalf("per-pod load %+v, want %d pods", ls.Pods, pods)
	}
	var sum int64
	hosts := map[string]bool{}
	for i, p := range ls.Pods {
		if p.Pod != i || !within(p.Requests, intended/int64(pods)) || p.Saturated {
			t.Errorf("pod %d: %+v, want %d requests (within 1%%), not saturated", i, p, intended/int64(pods))
		}
		hosts[p.Host] = true
		sum += p.Requests
		t.Logf("pod %d (%s): %d requests, %.3g of %.3g req/s, start lag %.1f ms, median lateness %.2f ms, p99 %.2f ms, CPU %.1f%%",
			p.Pod, p.Host, p.Requests, p.AchievedRate, p.IntendedRate, p.StartLagMs, p.LatenessMs, p.LatencyP99Ms, 100*p.CPUUtilization)
	}
	if sum != ls.Requests || len(hosts) != pods {
		t.Errorf("the pods' shares add up to %d of the merged %d, from %d distinct pods", sum, ls.Requests, len(hosts))
	}
	// exactly: no probe requests of their own
	if got := n.demoStats(t, ip)["GET /dist"]; got != ls.Requests {
		t.Errorf("the demo service counted %d requests, the merge %d", got, ls.Requests)
	}
	if len(exp.Result.Distributed) != 0 {
		t.Errorf("the pods' meeting is left in the result: %+v", exp.Result.Distributed)
	}
	s, err := n.c.Client.CoreV1().Secrets(n.ns).Get(ctx, "dist", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pods at %d req/s for %ds: %d sent; %d Secret writes on the API server during launch and run (other stories may add some), %d bytes of experiment data",
		pods, qps, seconds, ls.Requests, n.secretWrites(t)-writesBefore, len(s.Data[k8s.ExperimentKey]))

	r = n.mustK(t, dir, "report", "-g", "dist")
	mustContain(t, "k report", r.stdout, "Load generator pods:", "http/error-count <= 0")
	if i := strings.Index(r.stdout, "Load generation:"); i >= 0 {
		t.Logf("k report -g dist, from its load sections:\n%s", r.stdout[i:])
	}
	for h := range hosts {
		mustContain(t, "k report", r.stdout, h)
	}
	n.mustK(t, dir, "report", "-g", "dist", "-o", "html", "--output-file", filepath.Join(dir, "report.html"))
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("Load generator pods of <code>http</code>")) {
		t.Errorf("the HTML report lacks the pods (%v)", err)
	}
	r = n.mustK(t, dir, "log", "-g", "dist")
	mustContain(t, "k log", r.stdout, `msg="experiment completed" loop=1`, `msg="http load share finished"`, "conflictRetries=")
	if c := strings.Count(r.stdout, "===== loop 1: pod dist-1-job-"); c != pods {
		t.Errorf("k log shows %d pods of loop 1, want %d:\n%s", c, pods, r.stdout)
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "conflictRetries=") {
			t.Log(l)
		}
	}
}

// Distributed load in a CronJob: every loop is an Indexed Job of its own
// (two generator pods), the pods of a loop meet only each other (the Job
// names the loop), and each loop's merge adds to the result's history.
func nodeDistributedCronJobStory(t *testing.T) {
	n := newOnNode(t)
	ip := n.demoApp(t, "demo")
	dir := t.TempDir()
	const pods, requests = 2, 40
	n.mustK(t, dir, "launch", "-g", "cron", "--set", "tasks={http,assess}",
		"--set", "http.url=http://"+ip+"/cron", "--set", fmt.Sprintf("http.numRequests=%d", requests), "--set", "http.qps=20",
		"--set", fmt.Sprintf("http.replicas=%d", pods),
		"--set", "assess.SLOs.upper.http/error-count=0",
		"--set", "runner=cronjob", "--set", "cronjobSchedule=* * * * *")
	waitWithin(t, 5*time.Minute, "two loops by the CronJob controller", func() (bool, error) {
		exp := n.experiment(t, "cron")
		if exp.Result == nil {
			return false, fmt.Errorf("no result yet")
		}
		if exp.Result.Failure {
			t.Fatalf("a loop failed: %s\n%s", exp.Result.FailureReason, n.k(t, dir, "log", "-g", "cron").stdout)
		}
		return exp.Result.NumLoops >= 2 && exp.Completed(), fmt.Errorf("%d loops, completed %t", exp.Result.NumLoops, exp.Completed())
	})
	n.suspend(t, "cron-1-cronjob", func(j batchv1.Job) {
		if *j.Spec.Completions != pods || j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion {
			t.Fatalf("job %s is not an Indexed Job of %d pods: %+v", j.Name, pods, j.Spec)
		}
	})
	n.mustK(t, dir, "assert", "-g", "cron", "-c", "completed,nofailure,slos")
	exp := n.experiment(t, "cron")
	loops := exp.Result.NumLoops
	ls := exp.Result.Insights.Load["http"]
	if ls.Requests != requests || len(ls.Pods) != pods || ls.Pods[0].Requests != requests/pods || ls.Pods[1].Requests != requests/pods {
		t.Errorf("the latest loop merged %d requests from pods %+v, want %d from %d pods", ls.Requests, ls.Pods, requests, pods)
	}
	if !strings.HasPrefix(exp.Result.Job, "cron-1-cronjob-") || len(exp.Result.Distributed) != 0 || len(exp.Result.History) != loops {
		t.Errorf("result: job %q, meetings %+v, %d history entries for %d loops", exp.Result.Job, exp.Result.Distributed, len(exp.Result.History), loops)
	}
	// every loop: exactly its requests
	if got := n.demoStats(t, ip)["GET /cron"]; got != int64(loops*requests) {
		t.Errorf("the demo service counted %d requests over %d loops, want %d", got, loops, loops*requests)
	}
	r := n.mustK(t, dir, "log", "-g", "cron")
	for loop := 1; loop <= 2; loop++ {
		if c := strings.Count(r.stdout, fmt.Sprintf("===== loop %d: pod cron-1-cronjob-", loop)); c != pods {
			t.Errorf("k log shows %d pods of loop %d, want %d:\n%s", c, loop, pods, r.stdout)
		}
	}
	r = n.mustK(t, dir, "report", "-g", "cron")
	mustContain(t, "k report", r.stdout, fmt.Sprintf("Number of completed loops: %d", loops), "Load generator pods:")
}

// suspend holds the CronJob's schedule and waits until every Job of the
// namespace has completed or failed, checking each Job, so
// that the report and the logs see a settled number of loops. The API
// calls' deadline starts here, after the story waited minutes for loops.
func (n *onNode) suspend(t *testing.T, cronJob string, check func(batchv1.Job)) {
	t.Helper()
	ctx := ctxT(t)
	cj, err := n.c.Client.BatchV1().CronJobs(n.ns).Get(ctx, cronJob, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cj.Spec.Suspend = ptrTo(true)
	if _, err := n.c.Client.BatchV1().CronJobs(n.ns).Update(ctx, cj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, 3*time.Minute, "no loop running", func() (bool, error) {
		jobs, err := n.c.Client.BatchV1().Jobs(n.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, j := range jobs.Items {
			if !jobEnded(j) {
				return false, fmt.Errorf("job %s runs", j.Name)
			}
			check(j)
		}
		return true, nil
	})
}

// jobEnded reports whether a Job has completed or failed for good.
func jobEnded(j batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return j.Status.CompletionTime != nil
}
