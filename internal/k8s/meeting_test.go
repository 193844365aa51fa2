package k8s_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/k8s"
	"iter8.tools/iter8/internal/k8s/k8stest"
	"iter8.tools/iter8/internal/slo"
	"iter8.tools/iter8/internal/task"
)

func createGroup(t *testing.T, c kubernetes.Interface, ns, name, doc string) {
	t.Helper()
	_, err := c.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		StringData: map[string]string{k8s.ExperimentKey: doc},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func loadGroup(t *testing.T, c kubernetes.Interface, ns, name string) *experiment.Experiment {
	t.Helper()
	exp, err := k8s.NewSecret(c, ns, name, nil).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// A writer whose copy of the Secret is stale conflicts, re-reads and
// re-applies its change: both pods' parts are kept.
func TestMeetingRecordConflicts(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	createGroup(t, env.Client, ns, "g", "spec: []\nresult: {startTime: 2026-11-30T00:00:00Z, numLoops: 1, numCompletedTasks: 0, failure: false, iter8Version: v0.14}\n")
	a := &k8s.Meeting{Store: k8s.NewSecret(env.Client, ns, "g", nil)}
	b := &k8s.Meeting{Store: k8s.NewSecret(env.Client, ns, "g", nil)}
	for _, m := range []*k8s.Meeting{a, b} {
		if _, err := m.Store.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Record(ctx, 0, 1, experiment.LoadPart{Pod: 2, Sent: 20}); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(ctx, 0, 1, experiment.LoadPart{Pod: 1, Sent: 10}); err != nil {
		t.Fatal(err)
	}
	if a.Store.Retries() != 1 {
		t.Errorf("the stale writer retried %d times, want 1", a.Store.Retries())
	}
	d := loadGroup(t, env.Client, ns, "g").Result.DistributedTask(0, 1)
	if d == nil || len(d.Parts) != 2 {
		t.Fatalf("stored meeting %+v, want the parts of pods 1 and 2", d)
	}
}

// A pod waits for the loop of its own Job: an earlier loop of a CronJob,
// run by another Job, is not its loop.
func TestMeetingLoopOfTheJob(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	createGroup(t, env.Client, ns, "g", "spec: [{task: assess}]\nresult: {startTime: 2026-11-30T00:00:00Z, numLoops: 3, numCompletedTasks: 1, failure: false, iter8Version: v0.14, job: g-1-cronjob-100, tasks: [{name: assess, state: completed}]}\n")
	m := &k8s.Meeting{Store: k8s.NewSecret(env.Client, ns, "g", nil)}
	if loop, err := m.Loop(context.Background(), "g-1-cronjob-100", 1); err != nil || loop != 3 {
		t.Errorf("the Job's own loop: %d, %v; want 3", loop, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if loop, err := m.Loop(ctx, "g-1-cronjob-101", 1); err == nil {
		t.Errorf("the next Job took loop %d, the earlier Job's", loop)
	}
}

// In a CronJob, result.failure stays set after a failed loop: a later
// loop's pods still meet and run, and a pod learns that its loop ended only
// from a task of that loop that failed.
func TestMeetingAfterAFailedLoop(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	doc := func(state string) string {
		return "spec: [{task: http}, {task: assess}]\nresult: {startTime: 2026-11-30T00:00:00Z, numLoops: 2, numCompletedTasks: 0, failure: true, iter8Version: v0.14, tasks: [{name: http, state: " + state + "}, {name: assess, state: pending}]}\n"
	}
	createGroup(t, env.Client, ns, "running", doc("running"))
	meet := func(group string) *k8s.Meeting {
		return &k8s.Meeting{Store: k8s.NewSecret(env.Client, ns, group, nil), Poll: 10 * time.Millisecond, Lead: 50 * time.Millisecond}
	}
	var (
		wg    sync.WaitGroup
		start time.Time
		err0  error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		start, _, err0 = meet("running").Start(ctx, 0, 2, 0, 2)
	}()
	got, run, err := meet("running").Start(ctx, 0, 2, 1, 2)
	wg.Wait()
	if err != nil || err0 != nil || !run || !got.Equal(start) {
		t.Errorf("pod 1: start %v run %t %v; pod 0: start %v %v; want the same start", got, run, err, start, err0)
	}
	createGroup(t, env.Client, ns, "failed", doc("failed"))
	if _, run, err := meet("failed").Start(ctx, 1, 2, 1, 2); run || err != nil {
		t.Errorf("after task 1 failed in this loop, pod 1 runs task 2: %t, %v", run, err)
	}
}

// A pod that cannot get ready records why, and pod 0 stops waiting for it
// at once, with its reason.
func TestMeetingPodThatCannotGetReady(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	createGroup(t, env.Client, ns, "g", "spec: []\nresult: {startTime: 2026-11-30T00:00:00Z, numLoops: 1, numCompletedTasks: 0, failure: false, iter8Version: v0.14}\n")
	one := &k8s.Meeting{Store: k8s.NewSecret(env.Client, ns, "g", nil)}
	if err := one.Record(ctx, 0, 1, experiment.LoadPart{Pod: 1, Host: "g-1", Error: "cannot reach http://x"}); err != nil {
		t.Fatal(err)
	}
	zero := &k8s.Meeting{Store: k8s.NewSecret(env.Client, ns, "g", nil), Poll: 10 * time.Millisecond, ReadyWait: time.Minute}
	_, run, err := zero.Start(ctx, 0, 1, 0, 2)
	if run || err == nil || !strings.Contains(err.Error(), "generator pod 1 (g-1): cannot reach http://x") || !strings.Contains(err.Error(), "ready: pods [0]") {
		t.Errorf("pod 0: run %t, %v; want pod 1's failure", run, err)
	}
}

// Four generator pods share an http task through the Secret, each with a
// store of its own, pod 0's runner saving the experiment meanwhile: each
// sends its exact share of the one schedule, the merge counts every
// request the server received, the SLOs are judged on it, the result keeps
// each pod's share and health, and the meeting is gone from the result.
func TestDistributedHTTPThroughSecret(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	srv, err := demo.StartHTTP(demo.HTTPConfig{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	const pods, requests = 4, 1001
	spec := fmt.Sprintf(`spec:
- task: http
  with:
    url: %s/dist
    numRequests: %d
    qps: 500
    connections: 2
    replicas: %d
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/error-count, limit: 0}
      - {metric: http/latency-p99, limit: 5000}
`, srv.URL(), requests, pods)
	createGroup(t, env.Client, ns, "dist", spec)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	meetings := make([]*k8s.Meeting, pods)
	deps := make([]task.Deps, pods)
	for i := range pods {
		meetings[i] = &k8s.Meeting{Store: k8s.NewSecret(env.Client, ns, "dist", nil), Poll: 20 * time.Millisecond, Lead: 300 * time.Millisecond}
		deps[i] = task.Deps{Generators: &task.Generators{Index: i, Count: pods, Host: fmt.Sprintf("pod-%d", i), Meeting: meetings[i]}}
	}
	var wg sync.WaitGroup
	errs := make([]error, pods)
	for i := 1; i < pods; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = task.Follow(ctx, k8s.NewSecret(env.Client, ns, "dist", nil), deps[i], t.TempDir(), log)
		}()
	}
	runner := &experiment.Runner{Store: k8s.NewSecret(env.Client, ns, "dist", nil), Registry: task.Registry(deps[0]), Logger: log, Dir: t.TempDir(), Version: "v0.14"}
	exp, err := runner.Run(ctx)
	wg.Wait()
	if err != nil {
		t.Fatalf("pod 0: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("pod %d: %v", i, err)
		}
	}
	retries := 0
	for _, m := range meetings {
		retries += m.Store.Retries()
	}
	t.Logf("%d pods: %d writes retried after a conflict", pods, retries)

	stored := loadGroup(t, env.Client, ns, "dist")
	if !stored.Completed() || !stored.NoFailure() || !stored.SLOs() {
		t.Fatalf("stored experiment: completed %t, no failure %t, SLOs %t (%s)", stored.Completed(), stored.NoFailure(), stored.SLOs(), stored.Result.FailureReason)
	}
	if len(stored.Result.Distributed) != 0 {
		t.Errorf("the meeting is left in the result: %+v", stored.Result.Distributed)
	}
	ls := stored.Result.Insights.Load["http"]
	// exactly: no probe requests of their own
	if got := srv.Count("GET", "/dist"); ls.Requests != requests || got != requests {
		t.Errorf("merged %d requests, the server counted %d; want %d", ls.Requests, got, requests)
	}
	if len(ls.Pods) != pods {
		t.Fatalf("per-pod load %+v, want %d pods", ls.Pods, pods)
	}
	var sum int64
	for i, p := range ls.Pods {
		want := int64((requests - i + pods - 1) / pods)
		if p.Pod != i || p.Host != fmt.Sprintf("pod-%d", i) || p.Requests != want {
			t.Errorf("pod %d: %+v, want %d requests", i, p, want)
		}
		sum += p.Requests
	}
	if sum != requests {
		t.Errorf("the pods' shares add up to %d, want %d", sum, requests)
	}
	if ls.IntendedRate != 500 {
		t.Errorf("merged intended rate %g, want 500", ls.IntendedRate)
	}
	if h, ok := stored.Result.Insights.Histogram("http/latency", 0); !ok || h.Count() != requests {
		t.Errorf("merged latency histogram: %t, want %d values", ok, requests)
	}
	for _, v := range exp.Result.Insights.SLOVerdicts {
		for _, r := range v.Versions {
			if r.Outcome != slo.Passed {
				t.Errorf("verdict %+v: %+v", v.Objective, r)
			}
		}
	}
}
