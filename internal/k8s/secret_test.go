package k8s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/k8s/k8stest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := k8stest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
	}
	os.Exit(code)
}

const specOnly = `spec:
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/latency-mean, limit: 50}
`

// createExperiment creates the Secret k launch would create.
func createExperiment(t *testing.T, c kubernetes.Interface, ns, name, doc string) {
	t.Helper()
	_, err := c.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{GroupLabel: name}},
		StringData: map[string]string{ExperimentKey: doc},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func storedExperiment(t *testing.T, c kubernetes.Interface, ns, name string) (*experiment.Experiment, int) {
	t.Helper()
	s, err := c.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(s.Data[ExperimentKey])
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, v := range s.Data {
		size += len(v)
	}
	return exp, size
}

func TestSecretLoadSave(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	createExperiment(t, env.Client, ns, "g", specOnly)

	st := NewSecret(env.Client, ns, "g", nil)
	exp, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Spec) != 1 || exp.Result != nil {
		t.Fatalf("loaded %+v", exp)
	}
	exp.Result = experiment.NewResult(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), "v0.14")
	exp.Result.NumLoops = 1
	if err := st.Save(ctx, exp); err != nil {
		t.Fatal(err)
	}
	got, _ := storedExperiment(t, env.Client, ns, "g")
	if got.Result == nil || got.Result.NumLoops != 1 || got.Result.Iter8Version != "v0.14" {
		t.Errorf("stored result %+v", got.Result)
	}

	_, err = NewSecret(env.Client, ns, "missing", nil).Load(ctx)
	if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), `experiment group "missing" not found in namespace `+ns) {
		t.Errorf("missing group: %v", err)
	}
}

// Two writers read the same version. The second write hits a
// resourceVersion conflict; it re-reads and applies only its own change, so
// both updates survive. When both changed the same field, the second fails
// naming the field and the first update stays.
func TestSecretTwoWritersSave(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		a, b     func(*experiment.Experiment)
		conflict string
		check    func(*experiment.Experiment) error
	}{
		{
			name: "different fields merge",
			a:    func(e *experiment.Experiment) { e.Result.NumLoops = 5 },
			b:    func(e *experiment.Experiment) { e.Result.FailureReason = "written by b" },
			check: func(e *experiment.Experiment) error {
				if e.Result.NumLoops != 5 || e.Result.FailureReason != "written by b" {
					return fmt.Errorf("numLoops %d, failureReason %q: an update was lost", e.Result.NumLoops, e.Result.FailureReason)
				}
				return nil
			},
		},
		{
			name:     "same field conflicts",
			a:        func(e *experiment.Experiment) { e.Result.NumLoops = 5 },
			b:        func(e *experiment.Experiment) { e.Result.NumLoops = 7 },
			conflict: "result.numLoops",
			check: func(e *experiment.Experiment) error {
				if e.Result.NumLoops != 5 {
					return fmt.Errorf("numLoops %d: the first writer's update was overwritten", e.Result.NumLoops)
				}
				return nil
			},
		},
		{
			name:     "spec replaced by a relaunch",
			a:        func(e *experiment.Experiment) { e.Spec = e.Spec[:0] },
			b:        func(e *experiment.Experiment) { e.Spec[0].With["SLOs"] = nil },
			conflict: "spec",
			check: func(e *experiment.Experiment) error {
				if len(e.Spec) != 0 {
					return fmt.Errorf("spec %v: the relaunch was overwritten", e.Spec)
				}
				return nil
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := env.Namespace(t)
			createExperiment(t, env.Client, ns, "g", specOnly+"result: {numLoops: 1, numCompletedTasks: 0, failure: false, startTime: \"2026-11-27T12:00:00Z\", iter8Version: v0.14}\n")
			a, b := NewSecret(env.Client, ns, "g", nil), NewSecret(env.Client, ns, "g", nil)
			ea, err := a.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			eb, err := b.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tc.a(ea)
			if err := a.Save(ctx, ea); err != nil {
				t.Fatal(err)
			}
			tc.b(eb)
			err = b.Save(ctx, eb)
			if b.Retries() != 1 {
				t.Errorf("second writer retried %d times, want 1 (its resourceVersion was stale)", b.Retries())
			}
			switch {
			case tc.conflict == "" && err != nil:
				t.Fatalf("second save: %v", err)
			case tc.conflict != "" && !errors.Is(err, ErrConflict):
				t.Fatalf("second save: got %v, want a conflict on %s", err, tc.conflict)
			case tc.conflict != "" && !strings.Contains(err.Error(), "another writer changed "+tc.conflict+" since"):
				t.Errorf("conflict error does not name %s: %v", tc.conflict, err)
			}
			got, _ := storedExperiment(t, env.Client, ns, "g")
			if err := tc.check(got); err != nil {
				t.Error(err)
			}
		})
	}
}

// Two writers increment the same counter concurrently through Update, each
// from its own client; every increment survives.
func TestSecretConcurrentUpdatesLoseNothing(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	createExperiment(t, env.Client, ns, "g", specOnly+"result: {numLoops: 0, numCompletedTasks: 0, failure: false, startTime: \"2026-11-27T12:00:00Z\", iter8Version: v0.14}\n")
	const writers, each = 2, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	stores := make([]*Secret, writers)
	for w := range writers {
		c, err := kubernetes.NewForConfig(env.Config)
		if err != nil {
			t.Fatal(err)
		}
		stores[w] = NewSecret(c, ns, "g", nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := stores[w].Update(ctx, func(e *experiment.Experiment) error {
					e.Result.NumLoops++
					return nil
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := storedExperiment(t, env.Client, ns, "g")
	if got.Result.NumLoops != writers*each {
		t.Errorf("numLoops %d after %d increments: updates were lost", got.Result.NumLoops, writers*each)
	}
	t.Logf("retries after conflicts: %d and %d", stores[0].Retries(), stores[1].Retries())
}

func TestSecretSizeLimit(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ctx := context.Background()

	t.Run("history is trimmed to fit", func(t *testing.T) {
		t.Parallel()
		ns := env.Namespace(t)
		createExperiment(t, env.Client, ns, "g", specOnly)
		var logs bytes.Buffer
		st := NewSecret(env.Client, ns, "g", slog.New(slog.NewTextHandler(&logs, nil)))
		st.MaxBytes = 8 << 10
		exp, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		exp.Result = experiment.NewResult(time.Now(), "v0.14")
		for i := range 100 {
			exp.Result.History = append(exp.Result.History, experiment.LoopSummary{Loop: i + 1, StartTime: time.Now(),
				Values: []map[string]float64{{"http/latency-mean": 1.5, "http/latency-p99": 25.25, "http/error-rate": 0.01}}})
		}
		if err := st.Save(ctx, exp); err != nil {
			t.Fatal(err)
		}
		got, size := storedExperiment(t, env.Client, ns, "g")
		n := len(got.Result.History)
		if size > st.MaxBytes || n == 0 || n >= 100 || got.Result.History[n-1].Loop != 100 {
			t.Errorf("stored %d bytes with %d loop summaries (last %d): want under %d bytes, the newest kept", size, n, got.Result.History[n-1].Loop, st.MaxBytes)
		}
		if !strings.Contains(logs.String(), "dropped the oldest loop summaries") {
			t.Errorf("no warning logged: %s", logs.String())
		}
	})

	t.Run("too large without history fails clearly", func(t *testing.T) {
		t.Parallel()
		ns := env.Namespace(t)
		createExperiment(t, env.Client, ns, "g", specOnly)
		st := NewSecret(env.Client, ns, "g", nil)
		exp, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		script := strings.Repeat("echo 0123456789abcdef\n", (MaxSecretBytes/22)+10)
		exp.Spec = append(exp.Spec, experiment.TaskSpec{Run: &script})
		err = st.Save(ctx, exp)
		var tl *TooLargeError
		if !errors.As(err, &tl) || !strings.Contains(err.Error(), "a Secret holds at most 1048576 bytes (1 MiB)") || !strings.Contains(err.Error(), "spec (") {
			t.Fatalf("got %v, want a TooLargeError naming the spec", err)
		}
		got, _ := storedExperiment(t, env.Client, ns, "g")
		if len(got.Spec) != 1 {
			t.Errorf("the Secret changed after a refused save")
		}
	})
}

// A read RBAC refuses is retried for ForbiddenWait, then fails naming the
// verb and the resource.
func TestSecretForbiddenRead(t *testing.T) {
	t.Parallel()
	env := k8stest.Shared(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	createExperiment(t, env.Client, ns, "g", specOnly)
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := env.ServiceAccountToken(ctx, ns, "nobody", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(env.ClientConfig(token))
	if err != nil {
		t.Fatal(err)
	}
	st := NewSecret(c, ns, "g", nil)
	st.ForbiddenWait = 1500 * time.Millisecond
	start := time.Now()
	_, err = st.Load(ctx)
	took := time.Since(start)
	want := `reading experiment from Secret ` + ns + `/g: permission denied: cannot get secrets g in namespace ` + ns + ` (RBAC: the identity needs verb "get" on resource "secrets" named "g")`
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %s", err, want)
	}
	if took < st.ForbiddenWait || took > st.ForbiddenWait+10*time.Second {
		t.Errorf("failed after %v, want after retrying for %v", took, st.ForbiddenWait)
	}
}
